"""`rankaudit demo` prints one viewer's two orderings side by side."""

from __future__ import annotations

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
    result = runner.invoke(app, ["demo", "--workspace", str(DEMO)], env={"COLUMNS": "200"})
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
        result = runner.invoke(app, ["demo", "--workspace", str(DEMO), flag, value])
        assert result.exit_code == 2
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["demo", "--workspace", str(DEMO), "--vs", "baseline", "gbdt"])
    assert result.exit_code == 2
    assert "no model named 'gbdt'" in result.stderr
