"""A partition task for engine tests: cheap, deterministic, and it leaves a trace of where its
setup and its partitions ran (one file per call, named by process id)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from rankaudit.engine import Engine, PartitionedRun, PartitionTask, run_partitioned
from rankaudit.errors import ModelLoadError, SchemaError


@dataclass(frozen=True)
class EchoTask(PartitionTask):
    """Output rows: the input rows with `double = 2 * x`. `fail_user`: a partition holding
    that viewer raises SchemaError; `fail_setup`: setup raises ModelLoadError."""

    kind: ClassVar[str] = "echo"

    trace: Path
    fail_user: str | None = None
    fail_setup: bool = False

    def _touch(self, what: str) -> None:
        (self.trace / f"{what}-{os.getpid()}-{uuid.uuid4().hex}").touch()

    def setup(self) -> None:
        self._touch("setup")
        if self.fail_setup:
            raise ModelLoadError("echo.bin: cannot load the echo model")

    def job(self) -> dict[str, Any]:
        return {"echo": 1}  # the same job whatever fails: a fixed task resumes a failed run

    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        self._touch("partition")
        if self.fail_user is not None and (rows["user_id"] == self.fail_user).any():
            raise SchemaError(f"viewer {self.fail_user}: column 'x' is broken")
        yield rows.assign(double=rows["x"] * 2), {"rows": len(rows)}

    @staticmethod
    def combine(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"rows": sum(int(s["rows"]) for s in summaries)}


def echo_log(users: int = 12, rows_per_user: int = 3) -> pd.DataFrame:
    """`users` viewers with one request of `rows_per_user` rows each."""
    ids = [i for i in range(users) for _ in range(rows_per_user)]
    return pd.DataFrame(
        {
            "user_id": [f"u{i:02d}" for i in ids],
            "request_id": [f"r{i:02d}" for i in ids],
            "x": range(len(ids)),
        }
    )


def traces(trace: Path, what: str) -> list[int]:
    """The process ids of every `what` call ("setup" or "partition") traced in `trace`."""
    return sorted(int(p.name.split("-")[1]) for p in trace.glob(f"{what}-*"))


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file of a store (partitions, markers, manifest), by relative path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_echo(root: Path, task: EchoTask, engine: Engine) -> PartitionedRun:
    """`task` over `echo_log()` into `root`, in four partitions."""
    return run_partitioned(
        task, root, frames=lambda: [echo_log()], input_fingerprint="echo", partitions=4,
        engine=engine,
    )  # fmt: skip
