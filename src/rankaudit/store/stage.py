"""Route input rows to partitions before a partitioned run (`_staging/` of a store).

One streaming pass over the input (a log, or a selection of it) routes each row to its viewer's
partition: input batches are buffered in memory (256 MiB by default) and, past that, spilled:
sorted by partition and written as one chunk file per partition, so memory stays bounded, one
file is open at a time, and a partition has one chunk per spill however many partitions there
are. Every unit of work later reads
whole requests from its partition's few chunk files, whichever engine runs it. Staging is atomic as a whole: its files are renamed into
place and `_staging/_complete.json` (with the input's fingerprint) is written last, so a run
killed while staging stages again from scratch.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
#: Input rows held in memory before they are spilled to partitions' chunks (Arrow bytes).
STAGING_BUFFER_BYTES = 256 * 1024 * 1024
_PARTITION = "__partition"


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
    """Input rows held in memory, whole batches tagged with their partition, up to `limit`
    bytes; then the buffered rows are sorted by partition (stably: input order is kept) and
    each partition's rows written as its chunk of this spill. So memory stays bounded, one file
    is open at a time, and a partition has one chunk per spill (a few), whatever the count of
    partitions."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.tables: list[pa.Table] = []
        self.total = 0
        self.spills = 0

    def add(self, table: pa.Table) -> None:
        self.tables.append(table)
        self.total += table.nbytes
        if self.total >= self.limit:
            self.spill()

    def spill(self) -> None:
        if not self.tables:
            return
        table = pa.concat_tables(self.tables, promote_options="default")
        self.tables, self.total = [], 0
        parts = table.column(_PARTITION).to_numpy()
        order = np.argsort(parts, kind="stable")
        table = table.take(pa.array(order)).drop_columns([_PARTITION])
        parts = parts[order]
        starts = np.flatnonzero(np.r_[True, parts[1:] != parts[:-1]])
        stops = np.r_[starts[1:], len(parts)]
        for start, stop in zip(starts, stops, strict=True):
            folder = self.directory / f"part-{int(parts[start]):05d}"
            folder.mkdir(exist_ok=True)
            piece = table.slice(int(start), int(stop - start))
            pq.write_table(piece, folder / f"chunk-{self.spills:05d}.parquet", compression="lz4")
        self.spills += 1


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
            table = arrow_table(frame.reset_index(drop=True))
            buffers.add(table.append_column(_PARTITION, pa.array(buckets, pa.int64())))
            for index, count in zip(*np.unique(buckets, return_counts=True), strict=True):
                rows[int(index)] = rows.get(int(index), 0) + int(count)
        buffers.spill()
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
