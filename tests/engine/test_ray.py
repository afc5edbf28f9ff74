"""The Ray engine: the same bytes as the local engine, one setup per actor, errors as one line,
finished partitions kept, and a clear line when Ray is missing or its cluster unreachable."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.engine import LocalEngine, make_engine
from rankaudit.errors import ModelLoadError, ParameterError, SchemaError
from rankaudit.store.layout import finished_partitions, partition_of
from tests.engine.tasks import EchoTask, digests, run_echo, traces

pytestmark = [
    # One worker runs them all under `pytest -n 2 --dist loadgroup`, on the session's cluster.
    pytest.mark.xdist_group("ray"),
    # Ray Data sets its own deprecated settings when it copies its context to the actors.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]
runner = CliRunner()
INSTALL_LINE = "error: --engine ray needs Ray: pip install 'rankaudit[ray]'"


def attribute(workspace: Path, out: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        ["attribute", "--workspace", str(workspace), "--model", "deep", "--method", "all",
         "--reference", "request", "--out", str(out), *args],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_ray_writes_the_bytes_the_local_engine_writes(
    ray_cluster: ModuleType, small_demo: Path, tmp_path: Path
) -> None:
    local, distributed = tmp_path / "local", tmp_path / "ray"
    code, stdout, err = attribute(small_demo, local, "--all", "--partitions", "3")
    assert code == 0, err
    code, ray_stdout, err = attribute(
        small_demo, distributed, "--all", "--partitions", "3", "--engine", "ray",
        "--num-workers", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "wrote" in ray_stdout
    assert ray_stdout.replace(str(distributed), "OUT") == stdout.replace(str(local), "OUT")
    files = digests(local)
    assert sorted(files) == [
        "_done/part-00000.json", "_done/part-00001.json", "_done/part-00002.json",
        "_rankaudit_store.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet",
    ]  # fmt: skip
    assert digests(distributed) == files
    log = pd.read_parquet(small_demo / "logs" / "timelines.parquet")
    explained = pd.read_parquet(distributed)
    assert set(explained["tweet_id"]) == set(log["tweet_id"])
    assert explained.groupby("method")["tweet_id"].nunique().to_dict() == {
        "ig": len(log),
        "shap": len(log),
    }


def test_each_actor_sets_up_the_task_once(ray_cluster: ModuleType, tmp_path: Path) -> None:
    reference_trace, trace = tmp_path / "reference-trace", tmp_path / "trace"
    reference_trace.mkdir()
    trace.mkdir()
    reference = run_echo(tmp_path / "local", EchoTask(reference_trace), LocalEngine())
    root = tmp_path / "ray"
    run = run_echo(root, EchoTask(trace), make_engine("ray", num_workers=2))
    assert digests(root) == digests(tmp_path / "local")
    assert run.markers == reference.markers
    assert run.computed == 4
    assert run.summary == {"rows": 36}
    setups, partitions = traces(trace, "setup"), traces(trace, "partition")
    assert len(partitions) == 4
    assert 1 <= len(setups) <= 2
    assert len(set(setups)) == len(setups)  # one setup per actor process
    assert set(partitions) <= set(setups)  # every partition ran where the task was set up
    assert not set(setups) & set(traces(reference_trace, "setup"))  # not in this process


def test_an_error_in_an_actor_is_one_line_and_finished_partitions_stay(
    ray_cluster: ModuleType, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    trace.mkdir()
    run_echo(tmp_path / "local", EchoTask(trace), LocalEngine())
    expected = digests(tmp_path / "local")
    root = tmp_path / "ray"
    with pytest.raises(SchemaError) as caught:
        run_echo(root, EchoTask(trace, fail_user="u03"), make_engine("ray", num_workers=2))
    assert str(caught.value) == "viewer u03: column 'x' is broken"
    finished = finished_partitions(root, 4)  # raises for a corrupt partition
    for index in finished:
        for name in (f"part-{index:05d}.parquet", f"_done/part-{index:05d}.json"):
            assert digests(root)[name] == expected[name]
    failed = int(partition_of(pd.Series(["u03"]), 4)[0])
    assert failed not in finished
    assert not list(root.glob(f"*part-{failed:05d}.parquet*"))  # no file, no temporary

    rerun = run_echo(root, EchoTask(trace), make_engine("ray", num_workers=2))
    assert rerun.computed == 4 - len(finished)
    assert digests(root) == expected


def test_a_failed_setup_is_one_line(ray_cluster: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"^echo\.bin: cannot load the echo model$"):
        run_echo(tmp_path / "ray", EchoTask(tmp_path, fail_setup=True), make_engine("ray"))
    assert not list((tmp_path / "ray").glob("part-*"))


def test_an_unreachable_address_is_one_line_naming_it(small_demo: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "out"
    code, stdout, err = attribute(
        small_demo, out, "--user", "u000457", "--engine", "ray", "--address", "127.0.0.1:1"
    )
    assert (code, stdout) == (2, "")
    assert err.startswith("error: cannot reach the Ray cluster at 127.0.0.1:1 (")
    assert err.endswith("leave out --address to run on a local cluster\n")
    assert err.count("\n") == 1
    assert not out.exists()  # checked before anything is staged


def test_ray_missing_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, small_demo: Path, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    monkeypatch.delitem(sys.modules, "rankaudit.engine.ray_engine", raising=False)
    importlib.import_module("rankaudit.engine.ray_engine")  # importing it needs no Ray
    with pytest.raises(ParameterError, match=r"pip install 'rankaudit\[ray\]'"):
        make_engine("ray")
    out = tmp_path / "out"
    code, stdout, err = attribute(small_demo, out, "--user", "u000457", "--engine", "ray")
    assert (code, stdout, err) == (2, "", INSTALL_LINE + "\n")
    assert not out.exists()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:6379", ("127.0.0.1", 6379)),
        ("ray://head.example:10001", ("head.example", 10001)),
        ("[::1]:6379", ("::1", 6379)),
        ("auto", None),
        ("local", None),
        ("head:port", None),
    ],
)
def test_addresses_checked_before_connecting(
    address: str, expected: tuple[str, int] | None
) -> None:
    from rankaudit.engine.ray_engine import _host_port

    assert _host_port(address) == expected
