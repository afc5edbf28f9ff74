"""The Ray engine: the partitions of a run processed by a Ray Data actor pool.

The dataset is the list of partition indices left to do (`ray.data.from_items`, one index per
block); `map_batches` hands them one at a time to a pool of actors. Each actor receives the
task when it starts and calls `task.setup()` once, so a model is loaded once per actor, not once
per partition; each call runs `process_partition(task, staged, root, index)` and returns the
partition's marker (JSON) as a row. The driver reads the rows as they stream back, so progress
is reported as partitions finish, in whatever order they finish.

Why not `read_parquet` / `write_parquet`: Ray Data would choose its own blocks and file names,
so a killed run could not tell a finished partition from part of one, and a rerun would write
other files. Here each actor reads its staged partition and writes `part-NNNNN.parquet` and its
marker itself, through the same atomic `process_partition` as the local engine: file names are
deterministic, a killed run resumes from its finished partitions, and the files are byte for
byte those `--engine local` writes.

Where it runs: without an address, on a local Ray cluster started for the run (one CPU per
actor) and shut down after it; with `address`, on an existing cluster (`host:port` of its head,
`ray://host:port` through Ray Client, or `auto`). A Ray already initialised in this process is
reused as it is. Workers import rankaudit and read and write the store's paths themselves, so a
remote cluster needs rankaudit (the same version, with its model dependencies) installed on
every node, and the workspace and output folder on storage every node sees at the same path.

Ray is optional (`pip install 'rankaudit[ray]'`) and imported only when an engine is made.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from rankaudit import errors
from rankaudit.engine.task import PartitionTask, process_partition
from rankaudit.errors import ParameterError, RankauditError
from rankaudit.store.layout import PartitionMarker
from rankaudit.store.stage import StagedInput

__all__ = ["CONNECT_TIMEOUT_S", "INSTALL_HINT", "RayEngine"]

INSTALL_HINT = "--engine ray needs Ray: pip install 'rankaudit[ray]'"
#: Seconds to wait for a TCP connection to a `host:port` address: `ray.init` itself retries an
#: unreachable head for minutes before it gives up.
CONNECT_TIMEOUT_S = 5.0
#: Ray Data's progress bars and execution logs, off while a run streams (the CLI draws its own
#: progress bar).
_QUIET_CONTEXT = {
    "enable_progress_bars": False,
    "enable_operator_progress_bars": False,
    "enable_auto_log_stats": False,
    "verbose_stats_logs": False,
}


def _import_ray() -> ModuleType:
    """The `ray` module, with Ray Data; ParameterError saying how to install them when absent."""
    try:
        import ray
        import ray.data  # Ray Data comes with the `data` extra
    except ImportError:
        raise ParameterError(INSTALL_HINT) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """The host and port of `host:port`, `ray://host:port` or `[v6]:port`; None for the other
    addresses Ray knows (`auto`, `local`)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Raise ParameterError, naming `address`, when it is a host:port that accepts no TCP
    connection within CONNECT_TIMEOUT_S."""
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ParameterError(
            f"cannot reach the Ray cluster at {address} ({reason}); start one there with "
            "`ray start --head`, or leave out --address to run on a local cluster"
        ) from None


class _PartitionActor:
    """An actor of the pool: sets up the task once, then processes partitions.

    A rankaudit error is returned as a row, not raised: Ray would wrap it in its own exception
    (its message replaced, the original reachable only as traceback text), while the driver
    raises it again as it was, one line for the CLI. Other exceptions are bugs and reach the
    driver as Ray's exception, with the actor's traceback."""

    def __init__(self, task: PartitionTask, staged: StagedInput, root: Path, threads: int) -> None:
        import torch

        # Each actor reserves `threads` CPUs: torch's default (every core) would oversubscribe.
        torch.set_num_threads(threads)
        self.task = task
        self.staged = staged
        self.root = root
        self.failure: RankauditError | None = None
        try:
            task.setup()
        except RankauditError as exc:
            self.failure = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows: list[tuple[str, str, str]] = []  # (marker, error class, error message)
        for index in batch["index"]:
            try:
                if self.failure is not None:
                    raise self.failure
                marker = process_partition(self.task, self.staged, self.root, int(index))
            except RankauditError as exc:
                rows.append(("", type(exc).__name__, str(exc)))
            else:
                rows.append((json.dumps(marker.to_dict(), sort_keys=True), "", ""))
        return {
            name: np.array([row[i] for row in rows], dtype=object)
            for i, name in enumerate(("marker", "error_type", "error"))
        }


def _error(kind: str, message: str) -> RankauditError:
    """The rankaudit error of class name `kind` with `message` (RankauditError for a class
    whose constructor takes something else)."""
    cls = getattr(errors, kind, None)
    if not isinstance(cls, type) or not issubclass(cls, RankauditError):
        return RankauditError(message)
    if cls is errors.ValidationFailed:
        return RankauditError(message)
    error: RankauditError = cls(message)
    return error


@contextmanager
def _quiet(ray: ModuleType) -> Iterator[None]:
    """No progress bars, execution logs or warnings from Ray Data within the block; the
    settings are restored afterwards."""
    context = ray.data.DataContext.get_current()
    saved = {name: getattr(context, name) for name in _QUIET_CONTEXT}
    logger = logging.getLogger("ray.data")
    level = logger.level
    for name, value in _QUIET_CONTEXT.items():
        setattr(context, name, value)
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        logger.setLevel(level)


@dataclass(frozen=True)
class RayEngine:
    """Partitions processed by a pool of `num_workers` Ray actors (default: one per CPU of the
    cluster; never more than partitions to do), each loading the task's models once and
    running torch on `threads_per_worker` threads. `address`: the cluster to join; None starts
    a local one for the run. Raises ParameterError when Ray is not installed, or when
    `address` is a host:port nothing answers on (checked here, before a run stages its input,
    and again when the run connects)."""

    address: str | None = None
    num_workers: int | None = None
    threads_per_worker: int = 1

    def __post_init__(self) -> None:
        _import_ray()
        if self.address is not None:
            _check_reachable(self.address)

    @property
    def name(self) -> str:
        return "ray"

    @contextmanager
    def _cluster(self, ray: ModuleType) -> Iterator[None]:
        """Connected to a cluster within the block: the Ray already initialised in this
        process, or one this call starts or joins, and shuts down (or leaves) afterwards.
        Raises ParameterError naming the address when it cannot connect."""
        if self.address is not None:
            _check_reachable(self.address)
        if ray.is_initialized():
            yield
            return
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,  # workers' output would interleave with the CLI's
            "logging_level": logging.ERROR,
        }
        if self.address is None:
            # "local": a new cluster, even when RAY_ADDRESS or `ray start` names another one.
            cpus = (self.num_workers or os.cpu_count() or 1) * self.threads_per_worker
            ray.init(address="local", num_cpus=cpus, **options)
        else:
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                reason = " ".join(str(exc).split())
                raise ParameterError(
                    f"cannot connect to the Ray cluster at {self.address}: {reason}"
                ) from None
        try:
            yield
        finally:
            ray.shutdown()

    def run(
        self,
        task: PartitionTask,
        staged: StagedInput,
        root: Path,
        todo: Sequence[int],
        done: Callable[[PartitionMarker], None],
    ) -> None:
        if not todo:
            return
        ray = _import_ray()
        # Workers do not share the driver's working directory: they get absolute paths.
        staged = replace(staged, directory=staged.directory.absolute())
        root = root.absolute()
        with self._cluster(ray), _quiet(ray):
            cpus = int(ray.cluster_resources().get("CPU", 0)) // self.threads_per_worker
            workers = max(1, min(self.num_workers or cpus, len(todo)))
            with warnings.catch_warnings():
                # `max_restarts` is passed the only way Ray Data takes it (deprecated there).
                warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
                dataset = ray.data.from_items(
                    [{"index": int(i)} for i in todo], override_num_blocks=len(todo)
                ).map_batches(
                    _PartitionActor,
                    fn_constructor_kwargs={
                        "task": task,
                        "staged": staged,
                        "root": root,
                        "threads": self.threads_per_worker,
                    },
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(
                        size=workers, max_tasks_in_flight_per_actor=1
                    ),
                    num_cpus=self.threads_per_worker,
                    # Not Ray Data's endless restarts and retries: a partition that kills its
                    # actor (out of memory) would be retried forever. The run stops instead,
                    # and a rerun resumes from the finished partitions.
                    max_restarts=0,
                )
            rows = iter(dataset.iter_rows())
            try:
                for row in rows:
                    if row["error_type"]:
                        raise _error(str(row["error_type"]), str(row["error"]))
                    done(PartitionMarker.from_dict(json.loads(row["marker"]), "a Ray worker"))
            finally:
                # Stops the actors still working when a partition failed.
                close = getattr(rows, "close", None)
                if close is not None:
                    close()
