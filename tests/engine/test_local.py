"""The local engine: several single-threaded worker processes write the same bytes as one
worker in this process, and a worker's error comes back as it was raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankaudit.attribution import plan_attribution, run_attribution
from rankaudit.engine import LocalEngine
from rankaudit.errors import SchemaError
from rankaudit.workspace import load_workspace
from tests.engine.tasks import EchoTask, digests, run_echo


def test_worker_processes_write_the_bytes_of_one_worker(small_demo: Path, tmp_path: Path) -> None:
    workspace = load_workspace(small_demo)
    runs = {}
    for workers in (1, 2):
        plan = plan_attribution(
            workspace, "deep", method="all", reference="request", heads=["score"],
            out=tmp_path / f"w{workers}", partitions=3,
        )  # fmt: skip
        runs[workers] = run_attribution(plan, engine=LocalEngine(workers=workers))
    assert runs[1].partitions == runs[2].partitions == 3
    assert digests(tmp_path / "w1") == digests(tmp_path / "w2")


def test_an_error_in_a_worker_process_comes_back_as_raised(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    trace.mkdir()
    with pytest.raises(SchemaError, match=r"^viewer u03: column 'x' is broken$"):
        run_echo(tmp_path / "out", EchoTask(trace, fail_user="u03"), LocalEngine(workers=2))
