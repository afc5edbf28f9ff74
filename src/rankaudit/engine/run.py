"""Partitioned, resumable batch runs on an engine.

`run_partitioned` drives one run into a store folder (`rankaudit.store.layout`):

1. the manifest: a new folder gets one; an existing store must hold the same job (else the run
   stops, touching nothing), so restarting a killed command resumes it;
2. finished partitions are checked against their markers (a corrupt one stops the run with one
   line, and nothing is deleted);
3. the input is staged by viewer partition (one streaming pass; redone when interrupted);
4. the engine runs `process_partition` on every unfinished partition;
5. the manifest is marked complete and the staging removed.

Engines: `LocalEngine` (`rankaudit.engine.local`: single-threaded workers on this machine) and
`RayEngine` (`rankaudit.engine.ray_engine`, a Ray Data actor pool). Both call the same
`process_partition` on one thread per partition, so their outputs are the same bytes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow.parquet as pq

from rankaudit.engine.local import LocalEngine
from rankaudit.engine.task import PartitionTask
from rankaudit.errors import InputFileError, ParameterError
from rankaudit.store.layout import (
    DONE,
    MANIFEST,
    STAGING,
    Manifest,
    PartitionMarker,
    finished_partitions,
    part_path,
    read_manifest,
)
from rankaudit.store.stage import StagedInput, stage_rows, staged_input

__all__ = ["ENGINES", "Engine", "LocalEngine", "PartitionedRun", "make_engine", "run_partitioned"]

ENGINES = ("local", "ray")


class Engine(Protocol):
    """Runs `process_partition(task, staged, root, i)` for every i of `todo`, calling `done`
    with each partition's marker as it finishes (in any order)."""

    @property
    def name(self) -> str: ...

    def run(
        self,
        task: PartitionTask,
        staged: StagedInput,
        root: Path,
        todo: Sequence[int],
        done: Callable[[PartitionMarker], None],
    ) -> None: ...


def make_engine(name: str, *, address: str | None = None, num_workers: int | None = None) -> Engine:
    """The engine called `name` with `num_workers` workers (default: one per CPU); `address`
    is Ray's. Raises ParameterError for an unknown engine, an address for the local engine, or
    Ray missing."""
    if name not in ENGINES:
        raise ParameterError(f"unknown engine {name!r}; valid: {', '.join(ENGINES)}")
    if num_workers is not None and (isinstance(num_workers, bool) or num_workers < 1):
        raise ParameterError(
            f"The 'num-workers' option must be an int >= 1. Got {num_workers!r} instead."
        )
    if name == "local":
        if address is not None:
            raise ParameterError("--address applies to --engine ray only")
        return LocalEngine(workers=num_workers)
    from rankaudit.engine.ray_engine import RayEngine

    ray_engine: Engine = RayEngine(address=address, num_workers=num_workers)
    return ray_engine


@dataclass(frozen=True)
class PartitionedRun:
    """What `run_partitioned` left in `root`: every partition's marker (by index), how many
    were computed by this call (the rest were finished before), and the summary of all."""

    root: Path
    markers: dict[int, PartitionMarker]
    computed: int
    summary: dict[str, Any]

    @property
    def rows_in(self) -> int:
        return sum(m.rows_in for m in self.markers.values())

    @property
    def rows_out(self) -> int:
        return sum(m.rows_out for m in self.markers.values())


def _open_store(root: Path, manifest: Manifest) -> None:
    """Create `root` for `manifest`'s job, or check that it already holds that job."""
    parent = root.parent if str(root.parent) else Path(".")
    if not root.exists():
        if not parent.is_dir():
            raise InputFileError(f"{root}: the output folder {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise InputFileError(f"{root}: the output folder {parent} is not writable")
        try:
            root.mkdir()
        except OSError as exc:
            raise InputFileError(f"{root}: cannot create ({exc.strerror or exc})") from None
    elif not root.is_dir():
        raise InputFileError(f"{root}: is a file; partitioned output goes to a folder")
    elif not os.access(root, os.W_OK):
        raise InputFileError(f"{root}: the output folder is not writable")
    existing = read_manifest(root)
    if existing is None:
        if any(not p.name.startswith(".") for p in root.iterdir()):
            raise InputFileError(
                f"{root}: not empty and not a rankaudit store; choose an empty or new folder"
            )
        manifest.write(root)
        return
    if existing.kind != manifest.kind or existing.partitions != manifest.partitions:
        raise InputFileError(
            f"{root / MANIFEST}: holds {existing.kind} in {existing.partitions} partitions, not "
            f"{manifest.kind} in {manifest.partitions}; choose another folder or delete it"
        )
    changed = sorted(
        k for k in {*existing.job, *manifest.job} if existing.job.get(k) != manifest.job.get(k)
    )
    if changed:
        raise InputFileError(
            f"{root / MANIFEST}: holds another run's output (it differs in {', '.join(changed)}); "
            "choose another folder or delete it"
        )
    # Temporaries of partitions and of their markers left by a killed run (one run per folder
    # at a time): `write_atomic` names them `.<name>.<pid>.<random>.tmp` beside the file.
    for stale in (*root.glob(".part-*.tmp"), *(root / DONE).glob(".part-*.tmp")):
        stale.unlink(missing_ok=True)


def run_partitioned(
    task: PartitionTask,
    root: Path,
    *,
    frames: Callable[[], Iterable[pd.DataFrame]],
    input_fingerprint: str,
    partitions: int,
    engine: Engine | None = None,
    progress: Callable[[int], None] = lambda rows: None,
    on_staged: Callable[[int], None] = lambda rows: None,
) -> PartitionedRun:
    """Run `task` over the rows `frames()` yields (prepared log rows, in log order) into the
    store `root`, in `partitions` viewer partitions, resuming what an earlier identical run
    finished. `on_staged` gets the staged row count, `progress` the input rows of each
    partition done (finished ones included, at the start)."""
    runner: Engine = engine if engine is not None else LocalEngine()
    if isinstance(partitions, bool) or partitions < 1:
        raise ParameterError(f"The 'partitions' option must be an int >= 1. Got {partitions!r}.")
    job = {**task.job(), "input": input_fingerprint}
    _open_store(root, Manifest(kind=task.kind, partitions=partitions, job=job))
    markers = finished_partitions(root, partitions)
    staged = staged_input(root, partitions, input_fingerprint) or stage_rows(
        frames(), root, partitions, input_fingerprint
    )
    on_staged(staged.total_rows)
    progress(sum(m.rows_in for m in markers.values()))
    todo = [i for i in sorted(staged.rows) if i not in markers]
    computed = 0

    def finished(marker: PartitionMarker) -> None:
        nonlocal computed
        markers[marker.index] = marker
        computed += 1
        progress(marker.rows_in)

    runner.run(task, staged, root, todo, finished)
    missing = sorted(set(staged.rows) - set(markers))
    if missing:
        raise InputFileError(f"{root}: partitions {missing[:5]} were not finished; run again")
    columns: tuple[str, ...] = ()
    if markers:
        columns = tuple(pq.read_schema(part_path(root, min(markers))).names)
    Manifest(task.kind, partitions, job, complete=True, columns=columns).write(root)
    shutil.rmtree(root / STAGING, ignore_errors=True)
    summary = task.combine([markers[i].summary for i in sorted(markers)])
    return PartitionedRun(
        root=root, markers=dict(sorted(markers.items())), computed=computed, summary=summary
    )
