"""Route input rows to partitions before a partitioned run (`_staging/` of a store).

One streaming pass over the input (a log, or a selection of it) writes each row to the staged
file of its viewer's partition, so that every unit of work later reads whole requests from one
small file, whichever engine runs it. Staging is atomic as a whole: its files are renamed into
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
    atomic_path,
    part_path,
    partition_of,
    write_json,
)

__all__ = ["StagedInput", "arrow_table", "read_staged", "stage_rows", "staged_input"]

_COMPLETE = "_complete.json"


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
    if not same or any(not part_path(directory, i).is_file() for i in rows):
        return None
    return StagedInput(directory, partitions, fingerprint, rows)


def stage_rows(
    frames: Iterable[pd.DataFrame], root: Path, partitions: int, fingerprint: str
) -> StagedInput:
    """Write prepared `frames` (in log order) to `root/_staging/part-*.parquet` by viewer
    partition, keeping each partition's rows in input order; returns what was staged."""
    directory = root / STAGING
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    writers: dict[int, tuple[pq.ParquetWriter, Path]] = {}
    rows: dict[int, int] = {}
    try:
        for frame in frames:
            if frame.empty:
                continue
            buckets = partition_of(frame[schema.USER_ID], partitions)
            for index, piece in frame.groupby(buckets, sort=True):
                table = arrow_table(piece.reset_index(drop=True))
                key = int(index)  # type: ignore[call-overload]
                if key not in writers:
                    temp = atomic_path(part_path(directory, key))
                    writers[key] = (pq.ParquetWriter(temp, table.schema), temp)
                writer, _ = writers[key]
                writer.write_table(table.cast(writer.schema))
                rows[key] = rows.get(key, 0) + len(piece)
        for key, (writer, temp) in writers.items():
            writer.close()
            temp.replace(part_path(directory, key))
        writers.clear()
    except OSError as exc:
        raise InputFileError(
            f"{directory}: cannot stage the input ({exc.strerror or exc})"
        ) from None
    finally:
        for writer, temp in writers.values():
            writer.close()
            temp.unlink(missing_ok=True)
    write_json(
        directory / _COMPLETE,
        {"fingerprint": fingerprint, "partitions": partitions, "rows": rows},
    )
    return StagedInput(directory, partitions, fingerprint, rows)


def read_staged(staged: StagedInput, index: int) -> pd.DataFrame:
    """Partition `index`'s staged rows, sorted by viewer then request (stable: candidates keep
    their log order), so requests are contiguous and lookups prune by viewer."""
    path = part_path(staged.directory, index)
    try:
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(f"{path}: cannot read the staged rows ({exc})") from None
    frame = frame.sort_values([schema.USER_ID, schema.REQUEST_ID], kind="stable")
    return frame.reset_index(drop=True)
