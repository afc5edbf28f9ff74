"""Groups of tweets to audit: from a log column, from an author attribute file, or buckets of a
numeric column.

A group spec is ``COLUMN`` (one group per value), ``COLUMN:E1,E2,...`` (numeric buckets with
those edges: ``< E1``, ``E1–E2``, ..., ``>= En``) or ``COLUMN:qN`` (N quantile buckets of the
column's values over the audited rows). A numeric column with more than MAX_LEVELS distinct
values and no buckets is cut into quartiles. With an attribute file (CSV or Parquet with an
``author_id`` column), COLUMN names one of its attribute columns and each row takes its
author's value; authors the file does not list form the group UNLISTED. Missing values form
the group MISSING.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.data import schema
from rankaudit.errors import InputFileError, ParameterError, SchemaError

__all__ = [
    "MAX_LEVELS",
    "MISSING",
    "UNLISTED",
    "Grouping",
    "group_rows",
    "read_author_attributes",
]

#: Distinct values above which a numeric column without buckets is cut into quartiles.
MAX_LEVELS = 12
MISSING = "(missing)"
UNLISTED = "(unlisted author)"


@dataclass(frozen=True, eq=False)
class Grouping:
    """One partition of the rows: `codes[i]` is row i's group, named `labels[codes[i]]`."""

    name: str
    labels: tuple[str, ...]
    codes: NDArray[np.int64]

    @property
    def n_groups(self) -> int:
        return len(self.labels)


def read_author_attributes(path: Path) -> pd.DataFrame:
    """The author attribute table at `path` (.csv or .parquet), indexed by `author_id` as
    strings. Raises InputFileError or SchemaError with what to fix."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputFileError(
            f"author attribute file {path} must be .csv or .parquet (author_id, then one column "
            "per attribute)"
        )
    try:
        if suffix == ".csv":
            table = pd.read_csv(path, dtype={schema.AUTHOR_ID: str})
        else:
            table = pd.read_parquet(path)
    except FileNotFoundError:
        raise InputFileError(f"author attribute file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"cannot read author attribute file {path}: {first}") from None
    if schema.AUTHOR_ID not in table.columns:
        raise SchemaError(
            f"author attribute file {path} has no {schema.AUTHOR_ID!r} column (columns: "
            f"{', '.join(map(str, table.columns[:8]))}); add one holding the log's author ids"
        )
    ids = table[schema.AUTHOR_ID].astype(str)
    if ids.duplicated().any():
        duplicate = ids[ids.duplicated()].iloc[0]
        raise SchemaError(
            f"author attribute file {path} lists author {duplicate!r} more than once; keep one "
            "row per author"
        )
    return table.drop(columns=[schema.AUTHOR_ID]).set_index(ids.rename(schema.AUTHOR_ID))


def _split_spec(spec: str) -> tuple[str, str | None]:
    column, sep, buckets = spec.partition(":")
    if not column:
        raise ParameterError(
            f"group {spec!r} names no column; use COLUMN, COLUMN:E1,E2 or COLUMN:qN"
        )
    return column, (buckets if sep else None)


def _edges(values: pd.Series, buckets: str | None, spec: str) -> NDArray[np.float64] | None:
    """Bucket edges for a numeric column (None: one group per value)."""
    numeric = values.dropna().to_numpy(dtype=np.float64)
    if buckets is None:
        if len(np.unique(numeric)) <= MAX_LEVELS:
            return None
        buckets = "q4"
    if buckets.startswith("q") and buckets[1:].isdigit():
        n = int(buckets[1:])
        if n < 2:
            raise ParameterError(f"group {spec!r}: quantile buckets need qN with N >= 2")
        if not len(numeric):
            return None
        return np.asarray(np.unique(np.quantile(numeric, np.arange(1, n) / n)), dtype=np.float64)
    try:
        edges = np.asarray([float(e) for e in buckets.split(",")], dtype=np.float64)
    except ValueError:
        raise ParameterError(
            f"group {spec!r}: buckets must be qN or increasing numbers like 1000,10000"
        ) from None
    if len(edges) == 0 or np.any(np.diff(edges) <= 0) or not np.isfinite(edges).all():
        raise ParameterError(f"group {spec!r}: bucket edges must be finite and increasing")
    return edges


def _bucket_labels(edges: NDArray[np.float64]) -> list[str]:
    names = [f"{e:g}" for e in edges]
    return [f"< {names[0]}", *(f"{a}–{b}" for a, b in itertools.pairwise(names)), f">= {names[-1]}"]


def _grouping(name: str, values: pd.Series, buckets: str | None, spec: str) -> Grouping:
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        edges = _edges(values, buckets, spec)
        if edges is not None:
            bucket = np.searchsorted(edges, values.to_numpy(dtype=np.float64), side="right")
            labels = _bucket_labels(edges)
            codes = np.where(missing, len(labels), bucket).astype(np.int64)
            return _compact(name, [*labels, MISSING], codes)
    elif buckets is not None:
        raise ParameterError(
            f"group {spec!r}: column {name!r} is not numeric, so it cannot be bucketed; drop "
            f"':{buckets}'"
        )
    codes_raw, uniques = pd.factorize(values, sort=True)
    labels = [_label(u) for u in uniques]
    codes = np.where(codes_raw < 0, len(labels), codes_raw).astype(np.int64)
    return _compact(name, [*labels, MISSING], codes)


def _label(value: object) -> str:
    """A group value as text; whole floats (an int column read with missing values) lose ".0"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _compact(name: str, labels: Sequence[str], codes: NDArray[np.int64]) -> Grouping:
    """Drop labels no row has (keeping order) and renumber."""
    used = np.bincount(codes, minlength=len(labels)) > 0
    remap = np.cumsum(used) - 1
    return Grouping(
        name=name,
        labels=tuple(label for label, keep in zip(labels, used, strict=True) if keep),
        codes=remap[codes].astype(np.int64),
    )


def group_rows(
    rows: pd.DataFrame,
    specs: Sequence[str],
    *,
    attributes: pd.DataFrame | None = None,
    source: str = "the log",
) -> list[Grouping]:
    """One Grouping of `rows` per spec (see the module docstring): columns of `attributes`
    (indexed by author id) when given, else columns of `rows`. With `attributes` and no specs,
    every attribute column. Raises ParameterError for an unknown column or bad buckets."""
    if attributes is not None and not specs:
        specs = [str(c) for c in attributes.columns]
    if not specs:
        raise ParameterError("give at least one group: --group COLUMN or --groups FILE")
    groupings = []
    for spec in specs:
        column, buckets = _split_spec(spec)
        if attributes is not None:
            if column not in attributes.columns:
                listed = ", ".join(map(str, attributes.columns[:10]))
                raise ParameterError(
                    f"attribute {column!r} is not a column of {source} (columns: {listed})"
                )
            authors = rows[schema.AUTHOR_ID].astype(str)
            values = attributes[column].reindex(authors.to_numpy())
            values.index = rows.index
            grouping = _grouping(column, values, buckets, spec)
            listed_mask = authors.isin(attributes.index).to_numpy()
            if not listed_mask.all():
                labels = [*grouping.labels, UNLISTED]
                codes = np.where(listed_mask, grouping.codes, len(grouping.labels))
                grouping = _compact(column, labels, codes.astype(np.int64))
        else:
            if column not in rows.columns:
                raise ParameterError(
                    f"group column {column!r} is not a column of {source}; name a log column "
                    "(e.g. in_network, client) or give an author attribute file with --groups"
                )
            grouping = _grouping(column, rows[column], buckets, spec)
        groupings.append(grouping)
    return groupings
