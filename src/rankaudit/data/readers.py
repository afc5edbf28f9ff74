"""Streaming readers for logged timelines: Parquet (a file or a directory), CSV and JSONL.

`LogSource.iter_raw` yields batches as stored (for validation); `iter_timelines` and
`read_timelines` yield batches prepared to the contract (ids as strings, `served_at` as UTC
timestamps, features filled per the spec), which is what rankers and metrics consume.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from rankaudit.data import schema
from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import InputFileError, SchemaError

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "LogFormat",
    "LogSource",
    "iter_timelines",
    "prepare",
    "read_timelines",
]

LogFormat = Literal["parquet", "csv", "jsonl"]
DEFAULT_BATCH_ROWS = 65_536
_SUFFIXES: Mapping[str, LogFormat] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def _format_of(path: Path) -> LogFormat | None:
    return _SUFFIXES.get(path.suffix.lower())


def _list_logs(folder: Path) -> list[Path]:
    """Return the log files below `folder`, sorted. Links to folders are not followed (a link
    back up would list forever) and links that lead nowhere are skipped."""
    try:
        return sorted(p for p in folder.rglob("*") if _format_of(p) and p.is_file())
    except OSError as exc:
        raise InputFileError(
            f"{folder}: cannot list the log files ({exc.strerror or exc}: {exc.filename})"
        ) from None


@dataclass(frozen=True)
class LogSource:
    """The files of one log, all of one format, in a stable (sorted) order."""

    files: tuple[Path, ...]
    format: LogFormat

    @classmethod
    def from_path(cls, path: Path, log_format: str | None = None) -> LogSource:
        """Resolve a log file or a directory of log files; raises InputFileError if none found."""
        if log_format is not None and log_format not in get_args(LogFormat):
            raise SchemaError(
                f"logs format must be one of {', '.join(get_args(LogFormat))}; got {log_format!r}"
            )
        if path.is_dir():
            candidates = _list_logs(path)
            formats = {_format_of(p) for p in candidates}
            if log_format is not None:
                candidates = [p for p in candidates if _format_of(p) == log_format]
            elif len(formats) > 1:
                raise InputFileError(
                    f"{path}: holds logs of several formats ({', '.join(sorted(map(str, formats)))});"
                    " set logs_format in rankaudit.toml"
                )
            if not candidates:
                raise InputFileError(
                    f"{path}: no .parquet, .csv or .jsonl log files in this directory"
                )
            fmt = log_format or _format_of(candidates[0])
            return cls(files=tuple(candidates), format=fmt)  # type: ignore[arg-type]
        if path.is_symlink() and not path.exists():
            raise InputFileError(
                f"{path}: is a symbolic link to nothing (a loop of links, or a missing target); "
                "point logs at a log file or folder"
            )
        if not path.exists():
            raise InputFileError(f"{path}: log file or directory does not exist")
        fmt = log_format or _format_of(path)
        if fmt is None:
            raise InputFileError(
                f"{path}: unknown log format; use .parquet, .csv or .jsonl, or set logs_format"
            )
        return cls(files=(path,), format=fmt)  # type: ignore[arg-type]

    def columns(self) -> dict[Path, list[str]]:
        """Column names per file, read from each file's header only."""
        return {path: self._columns_of(path) for path in self.files}

    def _columns_of(self, path: Path) -> list[str]:
        try:
            if self.format == "parquet":
                return list(pq.read_schema(path).names)
            if self.format == "csv":
                with path.open("r", encoding="utf-8", newline="") as handle:
                    return next(csv.reader(handle), [])
            with path.open("r", encoding="utf-8") as handle:
                first = handle.readline()
            row = json.loads(first) if first.strip() else {}
            if not isinstance(row, dict):
                raise ValueError("the first line is not a JSON object")
            return list(row)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise InputFileError(f"{path}: cannot read header ({_first_line(exc)})") from None

    def iter_raw(
        self, *, batch_rows: int = DEFAULT_BATCH_ROWS, columns: Sequence[str] | None = None
    ) -> Iterator[tuple[Path, pd.DataFrame]]:
        """Yield (file, batch) with dtypes as stored; at most `batch_rows` rows per batch.

        `columns` are the columns wanted; those a file lacks (optional ones such as
        `tweet_text`) are simply absent from its batches."""
        for path in self.files:
            wanted = self._present(path, columns)
            try:
                yield from ((path, batch) for batch in self._iter_file(path, batch_rows, wanted))
            except (pa.ArrowException, ValueError, UnicodeDecodeError) as exc:
                raise InputFileError(
                    f"{path}: cannot parse {self.format} ({_first_line(exc)})"
                ) from None
            except OSError as exc:
                raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from None

    def _present(self, path: Path, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        present = set(self._columns_of(path))
        return [c for c in dict.fromkeys(columns) if c in present]

    def _iter_file(
        self, path: Path, batch_rows: int, columns: Sequence[str] | None
    ) -> Iterator[pd.DataFrame]:
        if self.format == "parquet":
            parquet = pq.ParquetFile(path)
            for record_batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                yield _to_pandas(pa.Table.from_batches([record_batch]))
        elif self.format == "csv":
            # Ids are strings whatever they look like; everything else is inferred and checked later.
            types = {c: pa.string() for c in (*schema.ID_COLUMNS, schema.TWEET_TEXT)}
            convert = pa_csv.ConvertOptions(
                column_types=types,
                include_columns=list(columns) if columns is not None else None,
                include_missing_columns=False,
            )
            read = pa_csv.ReadOptions(block_size=1 << 22)
            reader = pa_csv.open_csv(path, read_options=read, convert_options=convert)
            pending: list[pa.RecordBatch] = []
            size = 0
            for record_batch in reader:
                pending.append(record_batch)
                size += record_batch.num_rows
                if size >= batch_rows:
                    yield _to_pandas(pa.Table.from_batches(pending))
                    pending, size = [], 0
            if pending:
                yield _to_pandas(pa.Table.from_batches(pending))
        else:
            reader = pd.read_json(path, lines=True, chunksize=batch_rows, dtype=False)
            with reader:
                for chunk in reader:
                    frame = chunk if columns is None else chunk[[c for c in columns if c in chunk]]
                    yield frame.reset_index(drop=True)

    def iter_filtered(
        self,
        column: str,
        values: Sequence[str],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        columns: Sequence[str] | None = None,
    ) -> Iterator[tuple[Path, pd.DataFrame]]:
        """Yield raw batches restricted to rows whose `column` (an id) is in `values`.

        Parquet pushes the predicate down to row groups; CSV/JSONL filter each batch.
        """
        wanted = {str(v) for v in values}
        if self.format == "parquet":
            for path in self.files:
                present = self._present(path, columns)
                try:
                    dataset = pa_ds.dataset(path, format="parquet")
                    field = dataset.schema.field(column)
                    typed = (
                        [int(v) for v in wanted]
                        if pa.types.is_integer(field.type)
                        else list(wanted)
                    )
                    expr = pa_ds.field(column).isin(typed)
                    table = dataset.to_table(filter=expr, columns=present)
                except (pa.ArrowException, ValueError, KeyError) as exc:
                    raise InputFileError(f"{path}: cannot read ({_first_line(exc)})") from None
                if table.num_rows:
                    yield path, _to_pandas(table)
            return
        for path, batch in self.iter_raw(batch_rows=batch_rows, columns=columns):
            mask = batch[column].astype(str).isin(wanted)
            if mask.any():
                yield path, batch.loc[mask].reset_index(drop=True)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def prepare(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Return a copy of a raw batch in contract form.

    Ids become strings, `served_at` a UTC timestamp, categorical features strings, numeric
    features float64, and missing values are filled where the spec says `missing: fill`.
    Assumes the batch passed `validate` (it raises SchemaError on what it cannot convert).
    """
    out = frame.copy()
    for column in schema.ID_COLUMNS:
        if column in out:
            out[column] = out[column].astype(str)
    if schema.SERVED_AT in out:
        try:
            out[schema.SERVED_AT] = pd.to_datetime(out[schema.SERVED_AT], utc=True)
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"column 'served_at': not a timestamp ({_first_line(exc)})") from None
    if schema.POSITION in out:
        out[schema.POSITION] = _converted(
            schema.POSITION, "integers >= 1", lambda: out[schema.POSITION].astype(np.int64)
        )
    for feature in spec:
        if feature.name not in out:
            continue
        values = out[feature.name]
        if feature.is_categorical:
            missing = values.isna()
            as_text = values.astype(object).where(~missing, None)
            if feature.missing == "fill":
                as_text = as_text.where(~missing, feature.fill_value)
            out[feature.name] = as_text.map(lambda v: v if v is None else str(v)).astype(object)
        else:
            numbers = _converted(feature.name, "numbers", partial(_to_float, values))
            if feature.missing == "fill":
                assert isinstance(feature.fill_value, float)
                bad = ~np.isfinite(numbers.to_numpy())
                numbers = numbers.mask(bad, feature.fill_value)
            out[feature.name] = numbers
    for column in out.columns:
        if schema.is_label_column(column):
            out[column] = _converted(column, "0/1 labels", partial(out[column].astype, np.int8))
    # Replacing columns one by one leaves a wide frame (hundreds of features) in as many
    # blocks; one consolidation here spares every later insert pandas' fragmentation warning.
    return out.copy()


def _to_float(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="raise").astype(np.float64)


def _converted(column: str, expected: str, convert: Callable[[], pd.Series]) -> pd.Series:
    """Run one column's conversion; what it cannot convert is a SchemaError naming the column
    (the library's callers may not have validated the batch)."""
    try:
        return convert()
    except (ValueError, TypeError, OverflowError) as exc:
        raise SchemaError(
            f"column {column!r}: cannot read as {expected} ({_first_line(exc)}); "
            "run `rankaudit validate` for every problem"
        ) from None


def iter_timelines(
    source: LogSource,
    spec: FeatureSpec,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield prepared batches of the whole log; memory is bounded by `batch_rows`."""
    for _, batch in source.iter_raw(batch_rows=batch_rows, columns=columns):
        yield prepare(batch, spec)


def read_timelines(
    source: LogSource,
    spec: FeatureSpec,
    *,
    columns: Sequence[str] | None = None,
    where: tuple[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Read the log (or the rows whose id column `where[0]` is in `where[1]`) into one frame.

    Rows keep their stored order; the result is prepared to the contract.
    """
    batches = (
        source.iter_filtered(where[0], where[1], columns=columns)
        if where is not None
        else source.iter_raw(columns=columns)
    )
    frames = [prepare(batch, spec) for _, batch in batches]
    if not frames:
        return pd.DataFrame(columns=list(columns) if columns else [])
    return pd.concat(frames, ignore_index=True)
