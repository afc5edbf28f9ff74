"""Guess a workspace from a team's own files: the feature spec, heads and relevance from a log
sample, and each model's kind from its file.

Every guess is a plain value; what deserves a second look is collected as `checks`, one line
each, for `rankaudit init` to print.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.data import schema
from rankaudit.data.readers import LogSource
from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import Feature, FeatureKind, FeatureSpec
from rankaudit.errors import ModelLoadError, ParameterError, SchemaError

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "FEW_VALUES",
    "RELEVANCE_NAMES",
    "LogGuess",
    "ModelGuess",
    "guess_model",
    "infer_features",
    "infer_log",
    "parse_model_option",
]

#: Rows read from the start of the log to guess the spec from.
DEFAULT_SAMPLE_ROWS = 100_000
#: Integer-valued features with at most this many distinct values are flagged: codes or counts?
FEW_VALUES = 20
#: Column names taken as graded relevance, in order of preference.
RELEVANCE_NAMES = ("relevance", "grade", "label")
#: The group of a feature whose name prefix no other feature shares.
DEFAULT_GROUP = "features"
_CONTRACT = frozenset((*schema.REQUIRED_COLUMNS, *schema.OPTIONAL_COLUMNS))
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TORCH_MANIFEST = "rankaudit-model.json"


@dataclass(frozen=True)
class LogGuess:
    """What a log sample says about the workspace: the spec, heads and relevance.

    `sample_rows` rows were read from the start of `files` files; `complete` is True when that
    was the whole log. `checks` are the guesses worth a second look, one line each.
    """

    spec: FeatureSpec
    heads: dict[str, float]
    relevance: GradedRelevance | None
    sample_rows: int
    files: int
    complete: bool
    checks: tuple[str, ...]


@dataclass(frozen=True)
class ModelGuess:
    """One `--model NAME=PATH`: the resolved path and the kind guessed from its content."""

    name: str
    kind: str
    #: None for a kind that reads no file (the logged order).
    path: Path | None
    reason: str


# --- the log --------------------------------------------------------------------------------


def _read_sample(source: LogSource, rows: int) -> tuple[pd.DataFrame, bool]:
    """Return the first `rows` rows of the log and whether that is the whole log."""
    frames: list[pd.DataFrame] = []
    taken = 0
    complete = True
    for _, batch in source.iter_raw(batch_rows=min(rows, 65_536)):
        if taken >= rows:
            complete = False
            break
        frames.append(batch.iloc[: rows - taken])
        taken += len(frames[-1])
        if len(batch) > len(frames[-1]):
            complete = False
            break
    if not frames:
        return pd.DataFrame(), True
    return pd.concat(frames, ignore_index=True), complete


def _relevance_column(sample: pd.DataFrame) -> str | None:
    for name in RELEVANCE_NAMES:
        if name in sample and _is_number(sample[name].dtype):
            return name
    return None


def _is_number(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


def _fill_category(values: pd.Series) -> str:
    """The most frequent category of the sample; ties go to the smallest string."""
    counts = Counter(str(v) for v in values.dropna())
    if not counts:
        return "missing"
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


def _numeric_kind(name: str, values: pd.Series, checks: list[str]) -> FeatureKind:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        checks.append(f"{name}: no finite value in the sample; written as continuous")
        return "continuous"
    distinct = np.unique(finite)
    if np.isin(distinct, (0.0, 1.0)).all():
        if distinct.size == 1:
            checks.append(f"{name}: constant {distinct[0]:g} in the sample; written as binary")
        return "binary"
    integral = pd.api.types.is_integer_dtype(values.dtype) or bool(
        (distinct == np.round(distinct)).all()
    )
    if integral and distinct.size <= FEW_VALUES:
        checks.append(
            f"{name}: whole numbers with {distinct.size} distinct values, written as continuous; "
            "make it categorical if the numbers are codes rather than amounts"
        )
    return "continuous"


def _group_of(name: str, prefixes: Counter[str]) -> str:
    prefix = name.split("_", 1)[0] if "_" in name else ""
    return prefix if prefix and prefixes[prefix] > 1 else DEFAULT_GROUP


def infer_features(
    sample: pd.DataFrame, columns: Sequence[str], where: str
) -> tuple[FeatureSpec, list[str]]:
    """Return the spec guessed for `columns` of `sample` and the check lines about it.

    Strings are categorical, numbers whose values are all 0/1 binary, other numbers continuous;
    a column with NaN/inf in the sample gets `missing: fill` (0.0, or the most frequent
    category), else `missing: forbid`. Timestamps are left out (listed as a check).
    """
    checks: list[str] = []
    kept: list[tuple[str, FeatureKind, float | str | None]] = []
    for name in columns:
        values = sample[name]
        dtype = values.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            checks.append(
                f"{name}: a timestamp, left out of the spec; log it as a number (e.g. an age "
                "in minutes) to use it as a feature"
            )
            continue
        fill: float | str | None = None
        if pd.api.types.is_bool_dtype(dtype):
            kind: FeatureKind = "binary"
            missing = int(values.isna().sum())
        elif pd.api.types.is_numeric_dtype(dtype):
            kind = _numeric_kind(name, values, checks)
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            missing = int((~np.isfinite(numbers)).sum())
        else:
            kind = "categorical"
            missing = int(values.isna().sum())
        if missing:
            fill = _fill_category(values) if kind == "categorical" else 0.0
            checks.append(
                f"{name}: {missing} missing value(s) in the sample, written as missing: fill "
                f"with {fill!r}; check the fill value"
            )
        kept.append((name, kind, fill))
    if not kept:
        raise SchemaError(
            f"{where}: no feature columns (every column is a contract column, a label_<head> "
            "or the relevance column); a ranker needs features to audit"
        )
    prefixes = Counter(n.split("_", 1)[0] for n, _, _ in kept if "_" in n)
    groups = Counter(_group_of(name, prefixes) for name, _, _ in kept)
    if set(groups) != {DEFAULT_GROUP}:
        listed = ", ".join(f"{group} ({count})" for group, count in groups.items())
        checks.append(
            f"groups were guessed from name prefixes: {listed}; features of one group are "
            "attributed together, so regroup them in features.yaml as they belong"
        )
    features = tuple(
        Feature(
            name=name,
            kind=kind,
            group=_group_of(name, prefixes),
            description=f"TODO: what {name} measures",
            unit="TODO: unit, or none",
            missing="forbid" if fill is None else "fill",
            fill_value=fill,
        )
        for name, kind, fill in kept
    )
    return FeatureSpec(features=features, source=where), checks


def infer_log(source: LogSource, *, sample_rows: int = DEFAULT_SAMPLE_ROWS) -> LogGuess:
    """Guess the spec, heads and relevance from the first `sample_rows` rows of `source`.

    Features are every column that is not a contract column, a `label_<head>` or the relevance
    column (the first numeric column named relevance, grade or label). Raises SchemaError when
    the log has no labels of any kind, or no features.
    """
    where = str(source.files[0] if len(source.files) == 1 else source.files[0].parent)
    sample, complete = _read_sample(source, sample_rows)
    if sample.empty:
        raise SchemaError(f"{where}: the log has no rows to guess a feature spec from")
    columns = [str(c) for c in sample.columns]
    heads = {schema.head_of_label(c): 1.0 for c in columns if schema.is_label_column(c)}
    relevance_column = _relevance_column(sample)
    if not heads and relevance_column is None:
        raise SchemaError(
            f"{where}: no label_<head> columns and no numeric {'/'.join(RELEVANCE_NAMES)} "
            "column, so nothing says which candidates were good; add 0/1 engagement labels "
            "(label_<head>) or a graded relevance column"
        )
    checks: list[str] = []
    if relevance_column is not None:
        grades = sample[relevance_column].to_numpy(dtype=np.float64, na_value=np.nan)
        if (grades[np.isfinite(grades)] < 0).any():
            checks.append(
                f"{relevance_column}: negative grades in the sample; relevance grades must be >= 0"
            )
        for other in RELEVANCE_NAMES:
            if other != relevance_column and other in columns:
                checks.append(
                    f"{other}: also looks like a judgement but was written as a feature; "
                    "remove it from features.yaml if a ranker must not read it"
                )
    excluded = {*_CONTRACT, *(schema.label_column(h) for h in heads), relevance_column}
    spec, feature_checks = infer_features(sample, [c for c in columns if c not in excluded], where)
    checks.extend(feature_checks)
    return LogGuess(
        spec=spec,
        heads=heads,
        relevance=None if relevance_column is None else GradedRelevance(relevance_column),
        sample_rows=len(sample),
        files=len(source.files),
        complete=complete,
        checks=tuple(checks),
    )


# --- models ---------------------------------------------------------------------------------


def parse_model_option(text: str) -> tuple[str, Path]:
    """Split a `--model NAME=PATH` value; raises ParameterError naming the fix."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ParameterError(
            f"--model {text!r}: expected NAME=PATH, e.g. --model baseline=model.txt"
        )
    if not _MODEL_NAME.match(name):
        raise ParameterError(
            f"--model {text!r}: the name {name!r} may hold only letters, digits, '_' and '-'"
        )
    return name, Path(path)


def _kind_of_json(raw: object) -> tuple[str, str] | None:
    if not isinstance(raw, dict):
        return None
    if "learner" in raw:
        return "xgboost", "XGBoost JSON model (a 'learner' key)"
    if raw.get("format") == "rankaudit-linear":
        return "linear", "rankaudit linear model"
    return None


def _kind_of_file(path: Path) -> tuple[str, str] | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror})") from None
    if head.startswith((b"tree", b"version=")):
        return "lightgbm", "LightGBM text model"
    if path.suffix.lower() == ".ubj" and head.startswith(b"{") and b"learner" in head:
        return "xgboost", "XGBoost UBJSON model (a 'learner' key)"
    if not head.lstrip().startswith(b"{"):
        return None
    try:
        raw = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror})") from None
    if isinstance(raw, dict) and raw.get("format") == "rankaudit-multihead":
        return _kind_of_manifest(path, raw)
    return _kind_of_json(raw)


def _kind_of_manifest(path: Path, raw: dict[str, Any]) -> tuple[str, str] | None:
    heads = raw.get("heads")
    if not isinstance(heads, dict) or not heads:
        return None
    kinds = set()
    for entry in heads.values():
        file = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(file, str) or not (path.parent / file).is_file():
            raise ModelLoadError(
                f"{path}: a multi-head manifest whose head files cannot all be found; "
                "each heads.<head>.file must name a booster file next to the manifest"
            )
        kind = _kind_of_file(path.parent / file)
        kinds.add(kind[0] if kind else None)
    only = kinds.pop() if len(kinds) == 1 else None
    if only is None:
        return None
    return only, f"multi-head manifest of {len(heads)} {only} boosters"


def guess_model(name: str, path: Path) -> ModelGuess:
    """Return the model's kind, guessed from `path`: a LightGBM text model, an XGBoost JSON/UBJ
    model, a rankaudit linear or multi-head file, or a torch directory with rankaudit-model.json.

    Raises ModelLoadError naming the path and the formats it knows when none fits.
    """
    where = f"--model {name}={path}"
    resolved = path.resolve()
    if not resolved.exists():
        raise ModelLoadError(f"{where}: {path} does not exist")
    if resolved.is_file() and resolved.name == _TORCH_MANIFEST:
        resolved = resolved.parent
    if resolved.is_dir():
        if (resolved / _TORCH_MANIFEST).is_file():
            return ModelGuess(name, "torch", resolved, f"directory with {_TORCH_MANIFEST}")
        raise ModelLoadError(
            f"{where}: a directory without {_TORCH_MANIFEST}; a torch model directory needs one, "
            "a tree model is passed as its file"
        )
    found = _kind_of_file(resolved)
    if found is None:
        raise ModelLoadError(
            f"{where}: cannot tell the model kind; expected a LightGBM text model (starting with "
            "'tree'), an XGBoost .json/.ubj model (with a 'learner' key), a rankaudit linear or "
            f"multi-head JSON file, or a directory with {_TORCH_MANIFEST}"
        )
    return ModelGuess(name, found[0], resolved, found[1])
