"""The local engine: partitions processed on this machine by single-threaded workers.

Each partition is computed with one math thread, whichever engine runs it: a partition's
numbers then depend on nothing but its rows (float reductions split over threads would move the
last bits), so a local run, a Ray run and runs on machines with other core counts write the
same bytes. The machine's cores are used by running `workers` partitions at once, in worker
processes (spawned, each loading the task's models once); with one worker, or one partition
left, the work runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from rankaudit.engine.task import PartitionTask, process_partition
from rankaudit.models.threads import torch_threads
from rankaudit.store.layout import PartitionMarker
from rankaudit.store.stage import StagedInput

__all__ = ["LocalEngine"]


def _start_worker() -> None:
    """A worker process computes on one thread for its whole life, and dies with its parent
    (on Linux): a killed run leaves no worker finishing partitions behind it."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    try:
        import torch
    except ImportError:  # rankers without torch
        return
    torch.set_num_threads(1)


def _work(task: PartitionTask, staged: StagedInput, root: Path, index: int) -> PartitionMarker:
    task.setup()  # loads models once per worker process (the tasks cache them)
    return process_partition(task, staged, root, index)


@dataclass(frozen=True)
class LocalEngine:
    """`workers` partitions at a time on this machine (default: one per CPU), each on one
    thread; in this process when one worker suffices."""

    workers: int | None = None

    @property
    def name(self) -> str:
        return "local"

    def run(
        self,
        task: PartitionTask,
        staged: StagedInput,
        root: Path,
        todo: Sequence[int],
        done: Callable[[PartitionMarker], None],
    ) -> None:
        workers = min(self.workers or os.cpu_count() or 1, len(todo))
        if workers <= 1:
            with torch_threads(1):
                task.setup()
                for index in todo:
                    done(process_partition(task, staged, root, index))
            return
        context = multiprocessing.get_context("spawn")  # fork is unsafe with torch's threads
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
            pending = {pool.submit(_work, task, staged, root, index) for index in todo}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in finished:
                        done(future.result())  # a worker's error is raised here, as it was
            finally:
                for future in pending:
                    future.cancel()
