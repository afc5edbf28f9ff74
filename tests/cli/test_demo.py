"""`rankaudit demo` serves the web app on the demo workspace and prints its URL; with --print
it prints one viewer's two orderings side by side in the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.timeline import load_side_by_side
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()


def test_demo_defaults_to_the_most_disagreeing_request() -> None:
    workspace = load_workspace(DEMO)
    view = load_side_by_side(workspace)
    rows = view.rows
    assert rows["position_b"].tolist() == list(range(1, len(rows) + 1))
    assert sorted(rows["position_a"]) == list(range(1, len(rows) + 1))
    # Positions follow the scores, ties broken by tweet id.
    by_deep = rows.sort_values(["score_b", "tweet_id"], ascending=[False, True])
    assert by_deep["position_b"].tolist() == list(range(1, len(rows) + 1))
    deep = workspace.ranker("deep")
    assert rows["score_b"].to_numpy() == __import__("pytest").approx(deep.score(rows))
    result = runner.invoke(
        app, ["demo", "--workspace", str(DEMO), "--print"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.stderr
    assert f"viewer {view.user_id}" in result.stdout
    for tweet in rows["tweet_id"].head(5):
        assert tweet in result.stdout


def test_demo_for_a_chosen_user_and_request() -> None:
    workspace = load_workspace(DEMO)
    frame = pd.read_parquet(DEMO / "logs" / "timelines.parquet", columns=["request_id", "user_id"])
    user = frame["user_id"].iloc[100]
    requests = sorted(frame.loc[frame["user_id"] == user, "request_id"].unique())
    view = load_side_by_side(workspace, user=user, request=requests[0])
    assert view.request_id == requests[0]
    assert view.user_id == user
    assert len(view.rows) == (frame["request_id"] == requests[0]).sum()


def test_unknown_user_or_request_is_one_clear_line() -> None:
    for flag, value, message in (
        ("--user", "u_nobody", "unknown user 'u_nobody'"),
        ("--request", "r_nothing", "unknown request 'r_nothing'"),
    ):
        result = runner.invoke(app, ["demo", "--workspace", str(DEMO), "--print", flag, value])
        assert result.exit_code == 2
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(
        app, ["demo", "--workspace", str(DEMO), "--print", "--vs", "baseline", "gbdt"]
    )
    assert result.exit_code == 2
    assert "no model named 'gbdt'" in result.stderr


def test_demo_checks_ids_before_serving() -> None:
    for flag, value, message in (
        ("--user", "u_nobody", "unknown viewer 'u_nobody'"),
        ("--request", "r_nothing", "unknown request 'r_nothing' in workspace 'demo'"),
    ):
        result = runner.invoke(app, ["demo", "--workspace", str(DEMO), "--port", "0", flag, value])
        assert result.exit_code == 2
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(
        app,
        ["demo", "--workspace", str(DEMO), "--host", "0.0.0.0"],
        env={
            "RANKAUDIT_TOKEN": None,
            "RANKAUDIT_TOKEN_FILE": None,
            "RANKAUDIT_BASIC_AUTH": None,
            "RANKAUDIT_BASIC_AUTH_FILE": None,
        },
    )
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr


def test_demo_serves_the_app_and_prints_its_url(tmp_path: Path) -> None:
    """The server runs in a subprocess: the test reads the announced URLs, fetches both pages
    and stops it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rankaudit", "demo", "--workspace", str(DEMO), "--port", "0",
         "--request", "r000000819"],
        cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        announced = process.stdout.readline()
        opened = process.stdout.readline()
        assert announced.startswith(
            "rankaudit: serving workspace 'demo' (baseline vs deep) at http://127.0.0.1:"
        )
        root = announced.split(" at ")[1].split()[0]
        assert opened.strip() == f"open: {root}timeline/u000406?request=r000000819"
        for url in (root, opened.split()[1]):
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.status == 200
                assert "rankaudit" in response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
