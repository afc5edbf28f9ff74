"""Route input rows to partitions before a partitioned run (`_staging/` of a store).

One streaming pass over the input (a log, or a selection of it) routes each row to its viewer's
partition: rows are buffered in memory (256 MiB by default) and, past that, the largest
partition's buffered rows are written out as its next chunk file, so memory stays bounded and
one file is open at a time however many partitions there are. Every unit of work later reads
whole requests from its partition's few chunk files, whichever engine runs it. Staging is atomic as a whole: its files are renamed into
place and `_staging/_complete.json` (with the input's fingerprint) is written last, so a run
killed while staging stages again from scratch.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rankaudit.data import schema
from rankaudit.errors import InputFileError
from rankaudit.store.layout import (
    STAGING,
    partition_of,
    write_json,
)

__all__ = ["StagedInput", "arrow_table", "read_staged", "stage_rows", "staged_input"]

_COMPLETE = "_complete.json"
#: Staged rows held in memory before the largest partition's are written out (Arrow bytes).
STAGING_BUFFER_BYTES = 256 * 1024 * 1024


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """`frame` as an Arrow table whose text columns are always `string` (never `null` for an
    all-missing piece, nor `large_string`), so every piece of a partition, and every partition
    of a store, has one schema."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        pa.field(f.name, pa.string())
        if pa.types.is_null(f.type) or pa.types.is_large_string(f.type)
        else f
        for f in table.schema
    ]
    target = pa.schema(fields, metadata=table.schema.metadata)
    return table if target.equals(table.schema) else table.cast(target)


@dataclass(frozen=True)
class StagedInput:
    """Staged rows: `rows[i]` rows in partition i (partitions without rows are absent)."""

    directory: Path
    partitions: int
    fingerprint: str
    rows: dict[int, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _chunks(directory: Path, index: int) -> list[Path]:
    return sorted((directory / f"part-{index:05d}").glob("chunk-*.parquet"))


def staged_input(root: Path, partitions: int, fingerprint: str) -> StagedInput | None:
    """The complete staging of `root` for this input, or None (none, another input, or a
    staging interrupted before its end)."""
    directory = root / STAGING
    path = directory / _COMPLETE
    if not path.is_file():
        return None
    import json

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = {int(k): int(v) for k, v in document["rows"].items()}
        same = document["fingerprint"] == fingerprint and document["partitions"] == partitions
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not same or any(not _chunks(directory, i) for i in rows):
        return None
    return StagedInput(directory, partitions, fingerprint, rows)


class _Buffers:
    """Rows per partition held in memory up to `limit` bytes in all; past it the largest
    partition's rows are written out as its next chunk file. One file is open at a time, so
    thousands of partitions need no more file handles than one, and memory stays bounded."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.tables: dict[int, list[pa.Table]] = {}
        self.sizes: dict[int, int] = {}
        self.chunks: dict[int, int] = {}
        self.total = 0

    def add(self, index: int, table: pa.Table) -> None:
        self.tables.setdefault(index, []).append(table)
        self.sizes[index] = self.sizes.get(index, 0) + table.nbytes
        self.total += table.nbytes
        while self.total > self.limit:
            self.flush(max(self.sizes, key=lambda i: (self.sizes[i], -i)))

    def flush(self, index: int) -> None:
        tables = self.tables.pop(index)
        self.total -= self.sizes.pop(index)
        number = self.chunks.get(index, 0)
        self.chunks[index] = number + 1
        folder = self.directory / f"part-{index:05d}"
        folder.mkdir(exist_ok=True)
        table = pa.concat_tables(tables, promote_options="default")
        pq.write_table(table, folder / f"chunk-{number:05d}.parquet", compression="lz4")

    def flush_all(self) -> None:
        for index in sorted(self.tables):
            self.flush(index)


def stage_rows(
    frames: Iterable[pd.DataFrame],
    root: Path,
    partitions: int,
    fingerprint: str,
    *,
    buffer_bytes: int = STAGING_BUFFER_BYTES,
) -> StagedInput:
    """Write prepared `frames` (in log order) to `root/_staging/part-NNNNN/chunk-*.parquet` by
    viewer partition, keeping each partition's rows in input order; memory is bounded by
    `buffer_bytes` of buffered rows. Returns what was staged."""
    directory = root / STAGING
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    buffers = _Buffers(directory, buffer_bytes)
    rows: dict[int, int] = {}
    try:
        for frame in frames:
            if frame.empty:
                continue
            buckets = partition_of(frame[schema.USER_ID], partitions)
            for index, piece in frame.groupby(buckets, sort=True):
                key = int(index)  # type: ignore[call-overload]
                buffers.add(key, arrow_table(piece.reset_index(drop=True)))
                rows[key] = rows.get(key, 0) + len(piece)
        buffers.flush_all()
    except OSError as exc:
        raise InputFileError(
            f"{directory}: cannot stage the input ({exc.strerror or exc})"
        ) from None
    write_json(
        directory / _COMPLETE,
        {"fingerprint": fingerprint, "partitions": partitions, "rows": rows},
    )
    return StagedInput(directory, partitions, fingerprint, rows)


def read_staged(staged: StagedInput, index: int) -> pd.DataFrame:
    """Partition `index`'s staged rows, sorted by viewer then request (stable: candidates keep
    their log order), so requests are contiguous and lookups prune by viewer."""
    chunks = _chunks(staged.directory, index)
    where = staged.directory / f"part-{index:05d}"
    if not chunks:
        raise InputFileError(f"{where}: no staged rows; delete {staged.directory} and run again")
    try:
        tables = [pq.read_table(chunk) for chunk in chunks]
        frame: pd.DataFrame = pa.concat_tables(tables, promote_options="default").to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(f"{where}: cannot read the staged rows ({exc})") from None
    frame = frame.sort_values([schema.USER_ID, schema.REQUEST_ID], kind="stable")
    return frame.reset_index(drop=True)
