"""Where batch work runs: partitioned, resumable runs (`run_partitioned`) of a `PartitionTask`
on the local engine or on Ray (`make_engine`)."""

from rankaudit.engine.run import (
    ENGINES,
    Engine,
    LocalEngine,
    PartitionedRun,
    make_engine,
    run_partitioned,
)
from rankaudit.engine.task import PartitionTask, process_partition

__all__ = [
    "ENGINES",
    "Engine",
    "LocalEngine",
    "PartitionTask",
    "PartitionedRun",
    "make_engine",
    "process_partition",
    "run_partitioned",
]
