"""Partitioned Parquet stores of attributions and comparisons: the layout batch runs write
(`layout`), the staging of their input (`stage`), and DuckDB queries over them (`query`)."""

from rankaudit.store.layout import (
    MANIFEST,
    Manifest,
    PartitionMarker,
    default_partitions,
    finished_partitions,
    part_path,
    partition_of,
    read_manifest,
)
from rankaudit.store.stage import StagedInput, arrow_table, read_staged, stage_rows, staged_input

__all__ = [
    "MANIFEST",
    "Manifest",
    "PartitionMarker",
    "StagedInput",
    "arrow_table",
    "default_partitions",
    "finished_partitions",
    "part_path",
    "partition_of",
    "read_manifest",
    "read_staged",
    "stage_rows",
    "staged_input",
]
