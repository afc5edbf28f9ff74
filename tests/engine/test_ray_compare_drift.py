"""`compare` and `drift profile` on Ray: the in-memory JSON number for number, in a kept store or
a temporary folder, and the same store bytes as the local engine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from rankaudit.cli import app

# One worker runs them all under `pytest -n 2 --dist loadgroup`, on the session's one cluster.
pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow]
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_compare_on_ray_prints_the_in_memory_json(
    ray_cluster: ModuleType, small_demo: Path, tmp_path: Path
) -> None:
    compare = ("compare", "--workspace", str(small_demo), "--scope", "all", "--format", "json",
               "--bootstrap", "100", "--permutations", "500")  # fmt: skip
    code, in_memory, err = invoke(*compare)
    assert code == 0, err
    assert json.loads(in_memory)["requests"] > 2
    code, temporary, err = invoke(*compare, "--engine", "ray")  # a temporary store
    assert code == 0, err
    assert temporary == in_memory
    local, distributed = tmp_path / "local", tmp_path / "ray"
    code, _, err = invoke(*compare, "--store", str(local), "--partitions", "3")
    assert code == 0, err
    code, kept, err = invoke(
        *compare, "--engine", "ray", "--num-workers", "2", "--store", str(distributed),
        "--partitions", "3",
    )  # fmt: skip
    assert code == 0, err
    assert kept == in_memory
    assert digests(distributed) == digests(local)


def test_drift_profile_on_ray_writes_the_in_memory_profile(
    ray_cluster: ModuleType, small_demo: Path, tmp_path: Path
) -> None:
    def profile(out: Path, *args: str) -> dict[str, object]:
        code, _, err = invoke(
            "drift", "profile", "--workspace", str(small_demo), "--model", "deep",
            "--replicates", "20", "--out", str(out), *args,
        )  # fmt: skip
        assert code == 0, err
        document = json.loads(out.read_text())
        document.pop("created_at")
        return dict(document)

    in_memory = profile(tmp_path / "memory.json")
    work = tmp_path / "sums"
    on_ray = profile(
        tmp_path / "ray.json", "--engine", "ray", "--num-workers", "2", "--partitions", "3",
        "--work-dir", str(work),
    )  # fmt: skip
    assert on_ray == in_memory
    assert sorted(p.name for p in work.glob("part-*.parquet")) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet",
    ]  # fmt: skip
