"""Check logs against the contract and the feature spec, streaming, one line per problem.

A problem line names the file, the column, how many rows and a few example keys, e.g.
``logs/day1.parquet: column 'label_reply': 3 values outside {0, 1} (e.g. r17/t4, r17/t9)``.
Columns outside the contract and the spec are allowed (a debug field, another team's label):
they are ignored and listed as notes, not problems.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.data import schema
from rankaudit.data.readers import DEFAULT_BATCH_ROWS, LogSource
from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import Feature, FeatureSpec

__all__ = ["LogSummary", "validate_logs"]

_EXAMPLES = 3


@dataclass(frozen=True)
class LogSummary:
    """What a validation pass saw: sizes and the served_at range."""

    files: int
    rows: int
    requests: int
    users: int
    first_served: pd.Timestamp | None
    last_served: pd.Timestamp | None
    #: What is worth knowing but not wrong, e.g. columns the contract ignores.
    notes: tuple[str, ...] = ()


@dataclass
class _Finding:
    count: int = 0
    examples: list[str] = field(default_factory=list)


class _Collector:
    """Groups identical problems (same file, column, message) and keeps a few example keys."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str, str], _Finding] = {}

    def add(
        self, where: str, column: str, message: str, count: int, examples: Iterable[str] = ()
    ) -> None:
        finding = self.findings.setdefault((where, column, message), _Finding())
        finding.count += count
        for example in examples:
            if len(finding.examples) >= _EXAMPLES:
                break
            finding.examples.append(example)

    def lines(self) -> list[str]:
        out = []
        for (where, column, message), finding in self.findings.items():
            subject = f"column '{column}': " if column else ""
            text = message.format(count=finding.count)
            suffix = f" (e.g. {', '.join(finding.examples)})" if finding.examples else ""
            out.append(f"{where}: {subject}{text}{suffix}")
        return out


def _keys(batch: pd.DataFrame, mask: np.ndarray) -> list[str]:
    rows = batch.loc[mask].head(_EXAMPLES)
    if schema.REQUEST_ID in rows and schema.TWEET_ID in rows:
        return [
            f"{r}/{t}" for r, t in zip(rows[schema.REQUEST_ID], rows[schema.TWEET_ID], strict=True)
        ]
    return [f"row {i}" for i in rows.index[:_EXAMPLES]]


def _is_number_dtype(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


class _LogChecker:
    def __init__(
        self, spec: FeatureSpec, heads: Iterable[str], relevance: GradedRelevance | None
    ) -> None:
        self.spec = spec
        self.labels = tuple(schema.label_column(h) for h in heads)
        self.relevance = relevance.column if relevance is not None else None
        self.problems = _Collector()
        self.ignored: dict[str, None] = {}
        self.rows = 0
        self.request_sizes: Counter[str] = Counter()
        self.users: set[str] = set()
        self.key_hashes: list[np.ndarray] = []
        self.first_served: pd.Timestamp | None = None
        self.last_served: pd.Timestamp | None = None
        self.unusable: set[Path] = set()

    def check_header(self, path: Path, columns: list[str]) -> None:
        where = str(path)
        present = set(columns)
        required = (*schema.REQUIRED_COLUMNS, *self.spec.names, *self.labels)
        if self.relevance is not None:
            required = (*required, self.relevance)
        missing = [c for c in dict.fromkeys(required) if c not in present]
        for column in missing:
            hint = self._missing_hint(column)
            self.problems.add(where, column, f"missing column{hint}", 1)
        known = {*required, *schema.OPTIONAL_COLUMNS}
        for column in columns:
            if column not in known:
                self.ignored[column] = None
        if any(c in schema.REQUIRED_COLUMNS for c in missing):
            self.unusable.add(path)

    def _missing_hint(self, column: str) -> str:
        if column in self.labels:
            return (
                f" (label of head {schema.head_of_label(column)!r} in rankaudit.toml [heads]; "
                "add the column or remove the head)"
            )
        if column == self.relevance:
            return " (named by rankaudit.toml [relevance] column)"
        if column in self.spec:
            return " (a feature of the spec)"
        return ""

    def check_batch(self, path: Path, batch: pd.DataFrame) -> None:
        where = str(path)
        self.rows += len(batch)
        for column in schema.ID_COLUMNS:
            if column in batch and not schema.is_id_dtype(batch[column].dtype):
                self.problems.add(
                    where,
                    column,
                    f"wrong dtype {batch[column].dtype} (ids must be strings or integers)",
                    len(batch),
                )
            elif column in batch:
                nulls = batch[column].isna().to_numpy()
                if nulls.any():
                    self.problems.add(
                        where, column, "{count} missing ids", int(nulls.sum()), _keys(batch, nulls)
                    )
        self._check_served_at(where, batch)
        if schema.POSITION in batch:
            self._check_position(where, batch)
        for label in self.labels:
            if label in batch:
                self._check_binary(
                    where,
                    batch,
                    label,
                    "{count} values outside {{0, 1}} (engagement labels are 0/1; "
                    "graded judgements go in a [relevance] column)",
                    allow_nan=False,
                )
        if self.relevance is not None and self.relevance in batch:
            self._check_grades(where, batch, self.relevance)
        for feature in self.spec:
            if feature.name in batch:
                self._check_feature(where, batch, feature)
        if schema.TWEET_TEXT in batch and not (
            pd.api.types.is_string_dtype(batch[schema.TWEET_TEXT].dtype)
            or batch[schema.TWEET_TEXT].isna().all()
        ):
            self.problems.add(
                where,
                schema.TWEET_TEXT,
                f"wrong dtype {batch[schema.TWEET_TEXT].dtype} (expected text)",
                1,
            )
        if schema.REQUEST_ID in batch and schema.TWEET_ID in batch:
            requests = batch[schema.REQUEST_ID].astype(str)
            self.request_sizes.update({str(k): int(v) for k, v in requests.value_counts().items()})
            keys = pd.DataFrame({"r": requests, "t": batch[schema.TWEET_ID].astype(str)})
            self.key_hashes.append(pd.util.hash_pandas_object(keys, index=False).to_numpy())
        if schema.USER_ID in batch:
            self.users.update(batch[schema.USER_ID].astype(str).unique().tolist())

    def _check_served_at(self, where: str, batch: pd.DataFrame) -> None:
        if schema.SERVED_AT not in batch:
            return
        raw = batch[schema.SERVED_AT]
        if pd.api.types.is_datetime64_any_dtype(raw.dtype):
            stamps = raw
        elif pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object:
            stamps = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
        else:
            self.problems.add(
                where,
                schema.SERVED_AT,
                f"wrong dtype {raw.dtype} (expected a timestamp)",
                len(batch),
            )
            return
        bad = stamps.isna().to_numpy()
        if bad.any():
            self.problems.add(
                where,
                schema.SERVED_AT,
                "{count} values are not timestamps",
                int(bad.sum()),
                _keys(batch, bad),
            )
        valid = stamps[~bad]
        if len(valid):
            low, high = pd.Timestamp(valid.min()), pd.Timestamp(valid.max())
            low = low.tz_localize("UTC") if low.tzinfo is None else low
            high = high.tz_localize("UTC") if high.tzinfo is None else high
            self.first_served = low if self.first_served is None else min(self.first_served, low)
            self.last_served = high if self.last_served is None else max(self.last_served, high)

    def _check_position(self, where: str, batch: pd.DataFrame) -> None:
        values = batch[schema.POSITION]
        if not pd.api.types.is_numeric_dtype(values.dtype):
            self.problems.add(
                where,
                schema.POSITION,
                f"wrong dtype {values.dtype} (expected integers >= 1)",
                len(batch),
            )
            return
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(numbers) | (numbers < 1) | (numbers != np.round(numbers))
        if bad.any():
            self.problems.add(
                where,
                schema.POSITION,
                "{count} values are not integers >= 1 (positions are 1-based)",
                int(bad.sum()),
                _keys(batch, bad),
            )

    def _check_grades(self, where: str, batch: pd.DataFrame, column: str) -> None:
        values = batch[column]
        if not _is_number_dtype(values.dtype):
            self.problems.add(
                where,
                column,
                f"wrong dtype {values.dtype} (relevance grades are numbers >= 0)",
                len(batch),
            )
            return
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(numbers) | (numbers < 0)
        if bad.any():
            self.problems.add(
                where,
                column,
                "{count} relevance grades are missing, infinite or negative",
                int(bad.sum()),
                _keys(batch, bad),
            )

    def _check_binary(
        self, where: str, batch: pd.DataFrame, column: str, message: str, *, allow_nan: bool
    ) -> None:
        values = batch[column]
        if not _is_number_dtype(values.dtype):
            self.problems.add(
                where, column, f"wrong dtype {values.dtype} (expected 0/1)", len(batch)
            )
            return
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(numbers, (0.0, 1.0))
        if allow_nan:
            bad &= ~np.isnan(numbers)
        if bad.any():
            self.problems.add(where, column, message, int(bad.sum()), _keys(batch, bad))

    def _check_feature(self, where: str, batch: pd.DataFrame, feature: Feature) -> None:
        values = batch[feature.name]
        if feature.is_categorical:
            if not (schema.is_id_dtype(values.dtype) or values.dtype == object):
                self.problems.add(
                    where,
                    feature.name,
                    f"wrong dtype {values.dtype} (categorical features are strings or integers)",
                    len(batch),
                )
                return
            missing = values.isna().to_numpy()
            if feature.missing == "forbid" and missing.any():
                self.problems.add(
                    where,
                    feature.name,
                    "{count} missing values, but the spec says missing: forbid",
                    int(missing.sum()),
                    _keys(batch, missing),
                )
            return
        if not _is_number_dtype(values.dtype):
            self.problems.add(
                where,
                feature.name,
                f"wrong dtype {values.dtype} (expected a number for a {feature.kind} feature)",
                len(batch),
            )
            return
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        nonfinite = ~np.isfinite(numbers)
        if feature.missing == "forbid" and nonfinite.any():
            self.problems.add(
                where,
                feature.name,
                "{count} NaN/inf values, but the spec says missing: forbid",
                int(nonfinite.sum()),
                _keys(batch, nonfinite),
            )
        if feature.kind == "binary":
            self._check_binary(
                where,
                batch,
                feature.name,
                "{count} values outside {{0, 1}} in a binary feature",
                allow_nan=feature.missing == "fill",
            )

    def finish(self, source: LogSource) -> tuple[list[str], LogSummary]:
        where = str(source.files[0].parent if len(source.files) > 1 else source.files[0])
        if self.rows == 0 and not self.unusable:
            self.problems.add(where, "", "the log has no rows", 1)
        if self.key_hashes:
            hashes = np.concatenate(self.key_hashes)
            unique, counts = np.unique(hashes, return_counts=True)
            dup = counts > 1
            if dup.any():
                extra = int((counts[dup] - 1).sum())
                examples = self._duplicate_examples(source, set(unique[dup][:_EXAMPLES].tolist()))
                self.problems.add(
                    where, "", f"{extra} duplicate (request_id, tweet_id) rows", extra, examples
                )
        singles = [r for r, n in self.request_sizes.items() if n == 1]
        if singles:
            self.problems.add(
                where,
                schema.REQUEST_ID,
                "{count} requests with a single candidate (nothing to rank)",
                len(singles),
                sorted(singles)[:_EXAMPLES],
            )
        summary = LogSummary(
            files=len(source.files),
            rows=self.rows,
            requests=len(self.request_sizes),
            users=len(self.users),
            first_served=self.first_served,
            last_served=self.last_served,
            notes=self._notes(),
        )
        return self.problems.lines(), summary

    def _notes(self) -> tuple[str, ...]:
        if not self.ignored:
            return ()
        names = list(self.ignored)
        labels = [c for c in names if schema.is_label_column(c)]
        notes = []
        others = [c for c in names if c not in labels]
        if others:
            notes.append(
                f"{len(others)} column(s) outside the contract and the spec are ignored: "
                f"{_listed(others)}"
            )
        if labels:
            notes.append(
                f"label column(s) of heads not in rankaudit.toml [heads] are ignored: "
                f"{_listed(labels)}"
            )
        return tuple(notes)

    @staticmethod
    def _duplicate_examples(source: LogSource, wanted: set[int]) -> list[str]:
        # A second pass over the two key columns only, taken just when duplicates exist.
        found: list[str] = []
        for _, batch in source.iter_raw(columns=[schema.REQUEST_ID, schema.TWEET_ID]):
            keys = batch.astype(str)
            hashes = pd.util.hash_pandas_object(
                keys.set_axis(["r", "t"], axis=1), index=False
            ).to_numpy()
            for position in np.flatnonzero(np.isin(hashes, list(wanted))).tolist():
                label = f"{keys.iat[position, 0]!s}/{keys.iat[position, 1]!s}"
                if label not in found:
                    found.append(label)
            if len(found) >= _EXAMPLES:
                break
        return found[:_EXAMPLES]


def _listed(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"


def validate_logs(
    source: LogSource,
    spec: FeatureSpec,
    heads: Mapping[str, float] | Iterable[str],
    *,
    relevance: GradedRelevance | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> tuple[list[str], LogSummary]:
    """Check every file of `source` against the contract, the spec, the heads' label columns
    and the graded relevance column (when `relevance` is set).

    Returns (problem lines, summary). Reads the log once in batches of `batch_rows` rows (twice
    when duplicates exist, to name examples), so memory does not grow with the log beyond one
    hash per row and one counter per request.
    """
    checker = _LogChecker(spec, list(heads), relevance)
    for path, columns in source.columns().items():
        checker.check_header(path, columns)
    usable = LogSource(
        files=tuple(p for p in source.files if p not in checker.unusable), format=source.format
    )
    if usable.files:
        for path, batch in usable.iter_raw(batch_rows=batch_rows):
            checker.check_batch(path, batch)
    return checker.finish(source)
