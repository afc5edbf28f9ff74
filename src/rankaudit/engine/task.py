"""The unit of work of a partitioned run: a task turns one partition's rows into output rows
and a JSON summary. Engines differ only in where `process_partition` runs.

A task is a small picklable object (model configs, options; never a loaded model), so an engine
can send it to other processes or machines; `setup` loads what it needs once per worker.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rankaudit.errors import InputFileError, RankauditError
from rankaudit.store.layout import (
    PartitionMarker,
    atomic_path,
    marker_path,
    part_path,
    sha256_file,
    write_json,
)
from rankaudit.store.stage import StagedInput, arrow_table, read_staged

__all__ = ["PartitionTask", "process_partition"]


class PartitionTask(ABC):
    """What a partitioned run computes. Subclasses are frozen dataclasses of picklable fields."""

    #: The store kind written (`attributions`, `comparisons`, `request-sums`).
    kind: ClassVar[str]

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load models and other per-worker state (called once per worker before any work)."""

    @abstractmethod
    def job(self) -> dict[str, Any]:
        """What identifies this task's output (JSON): a resumed run must present the same."""

    @abstractmethod
    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        """Output rows of one partition's input `rows` (whole requests, sorted by viewer then
        request), in pieces of bounded size, each with its JSON summary."""

    @staticmethod
    def combine(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Several summaries (of pieces, or of partitions) as one; default: none kept."""
        return {}


def process_partition(
    task: PartitionTask, staged: StagedInput, root: Path, index: int
) -> PartitionMarker:
    """Run `task` on staged partition `index` and write `root/part-<index>.parquet`, then its
    marker; both through temporary files and renames, so a kill leaves no half partition."""
    rows = read_staged(staged, index)
    target = part_path(root, index)
    temp = atomic_path(target)
    writer: pq.ParquetWriter | None = None
    rows_out = 0
    summaries = []
    try:
        for piece, summary in task.pieces(rows):
            table = arrow_table(piece)
            if writer is None:
                writer = pq.ParquetWriter(temp, table.schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            rows_out += len(piece)
            summaries.append(summary)
        if writer is None:
            raise InputFileError(f"{target}: the task produced no rows for partition {index}")
        writer.close()
        writer = None
        os.replace(temp, target)
    except RankauditError:
        raise
    except OSError as exc:
        raise InputFileError(f"{target}: cannot write ({exc.strerror or exc})") from None
    except pa.ArrowException as exc:
        raise InputFileError(f"{target}: cannot write ({exc})") from None
    finally:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
    marker = PartitionMarker(
        index=index,
        rows_in=len(rows),
        rows_out=rows_out,
        bytes=target.stat().st_size,
        sha256=sha256_file(target),
        summary=task.combine(summaries),
    )
    write_json(marker_path(root, index), marker.to_dict())
    return marker
