"""A killed `rankaudit attribute` run, restarted, skips its finished partitions and ends with
exactly the files of an uninterrupted run; a corrupt finished partition stops a resumed run
with one line and is left as it is."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.conftest import small_log, write_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
PARTITIONS = 8
runner = CliRunner()
# One worker runs the module: its fixtures (a workspace and an uninterrupted run) are built once.
pytestmark = pytest.mark.xdist_group("attribute-resume")


def _workspace(root: Path) -> Path:
    """The simulator's log of 40 viewers with the demo's deep ranker as `masknet`."""
    write_workspace(root, small_log(users=40, seed=5))
    toml = root / "rankaudit.toml"
    toml.write_text(
        toml.read_text()
        + f'\n[models.masknet]\nkind = "torch"\npath = "{(DEMO / "models" / "deep").as_posix()}"\n'
    )
    return root


def _args(workspace: Path, out: Path) -> list[str]:
    return ["attribute", "--workspace", str(workspace), "--model", "masknet", "--method", "ig",
            "--heads", "score", "--ig-max-steps", "32", "--all", "--partitions", str(PARTITIONS),
            "--out", str(out)]  # fmt: skip


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _workspace(tmp_path_factory.mktemp("resume") / "ws")


@pytest.fixture(scope="module")
def full(workspace: Path) -> Path:
    """An uninterrupted run."""
    out = workspace.parent / "full"
    result = runner.invoke(app, _args(workspace, out))
    assert result.exit_code == 0, result.stderr
    assert sum(name.startswith("part-") for name in _files(out)) == PARTITIONS
    return out


def test_a_killed_run_resumes_to_the_same_files(
    workspace: Path, full: Path, tmp_path: Path
) -> None:
    killed = tmp_path / "killed"
    expected = _files(full)

    process = subprocess.Popen(
        [sys.executable, "-m", "rankaudit", *_args(workspace, killed)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(killed.glob("_done/*.json"))) < 2:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the command and its worker processes
    process.wait()
    finished = len(list(killed.glob("_done/*.json")))
    assert 2 <= finished < PARTITIONS, "the run must be killed midway"
    assert not (killed / "_staging").exists() or finished < PARTITIONS

    result = runner.invoke(app, _args(workspace, killed), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert f"{finished} finished by an earlier run" in result.stdout
    assert _files(killed) == expected
    assert pd.read_parquet(killed).equals(pd.read_parquet(full))


def test_killing_the_command_alone_stops_its_workers(workspace: Path, tmp_path: Path) -> None:
    """Worker processes die with the command (no orphan finishing partitions afterwards)."""
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "rankaudit", *_args(workspace, out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("_done/*.json")):
        time.sleep(0.01)
    process.kill()  # the command only, not its process group
    process.wait()
    time.sleep(0.5)
    settled = len(list(out.glob("_done/*.json")))
    time.sleep(3)  # a surviving worker would finish a partition (about 1 s each) meanwhile
    assert len(list(out.glob("_done/*.json"))) == settled < PARTITIONS


def test_a_corrupt_finished_partition_stops_a_resumed_run(
    workspace: Path, full: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(full, out)
    before = _files(out)
    victim = out / "part-00003.parquet"
    victim.write_bytes(victim.read_bytes()[:-100])
    damaged = _files(out)
    result = runner.invoke(app, _args(workspace, out))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "part-00003.parquet: corrupt" in result.stderr
    assert "Traceback" not in result.stderr
    assert _files(out) == damaged  # nothing deleted or rewritten
    # Deleting the partition and its marker recomputes just that partition.
    victim.unlink()
    (out / "_done" / "part-00003.json").unlink()
    result = runner.invoke(app, _args(workspace, out), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert f"{PARTITIONS - 1} finished by an earlier run" in result.stdout
    assert _files(out) == before


def test_another_job_in_the_same_folder_is_refused(
    workspace: Path, full: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(full, out)
    before = _files(out)
    other = [a if a != "32" else "64" for a in _args(workspace, out)]
    result = runner.invoke(app, other)
    assert result.exit_code == 2
    assert "holds another run's output (it differs in settings)" in result.stderr
    assert result.stderr.count("\n") == 1
    assert _files(out) == before


def test_a_resumed_run_removes_the_temporaries_of_the_killed_one(
    workspace: Path, full: Path, tmp_path: Path
) -> None:
    """A run killed while writing a partition or its marker leaves `.part-*.tmp` files (seen
    in CI: `_done/.part-00000.json.12664.48936cd0.tmp`); the next run removes them."""
    out = tmp_path / "out"
    shutil.copytree(full, out)
    before = _files(out)
    (out / "part-00002.parquet").unlink()
    (out / "_done" / "part-00002.json").unlink()
    stale = [
        out / ".part-00002.parquet.12664.0123abcd.tmp",
        out / "_done" / ".part-00000.json.12664.48936cd0.tmp",
        out / "_done" / ".part-00002.json.12664.89abcdef.tmp",
    ]
    for path in stale:
        path.write_bytes(b"")
    result = runner.invoke(app, _args(workspace, out), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert f"{PARTITIONS - 1} finished by an earlier run" in result.stdout
    assert _files(out) == before
