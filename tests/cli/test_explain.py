"""`rankaudit explain`: orderings side by side and contributions that add up."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.explain import explain_tweet
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()


@pytest.fixture(scope="module")
def request_rows() -> pd.DataFrame:
    log = pd.read_parquet(
        DEMO / "logs" / "timelines.parquet", columns=["request_id", "user_id", "tweet_id"]
    )
    return log.loc[log["request_id"] == log["request_id"].iat[0]]


def test_pairwise_contributions_add_up_to_the_score_difference(request_rows: pd.DataFrame) -> None:
    workspace = load_workspace(DEMO)
    user = request_rows["user_id"].iat[0]
    tweet, other = request_rows["tweet_id"].iat[0], request_rows["tweet_id"].iat[5]
    explanation = explain_tweet(
        workspace, user=user, request=request_rows["request_id"].iat[0], tweet=tweet, vs_tweet=other
    )
    rows = explanation.view.rows.set_index("tweet_id")
    for model, column in (("baseline", "score_a"), ("deep", "score_b")):
        totals = explanation.totals(model)
        gap = rows.at[tweet, column] - rows.at[other, column]
        assert totals["score"] - totals["reference_score"] == pytest.approx(gap, rel=1e-6)
        for key, value in totals.items():
            if key.startswith("sum_"):
                assert value == pytest.approx(gap, rel=0.01), (model, key)
        contributions = explanation.contributions(model)
        first = contributions.drop(columns=["feature", "value"]).abs().max(axis=1)
        assert first.is_monotonic_decreasing
    result = runner.invoke(app, ["explain", "--workspace", str(DEMO), "--user", user, "--tweet", tweet,
                                 "--vs-tweet", other], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"why {tweet} vs {other}" in result.stdout
    assert "Σ IG" in result.stdout
    assert "Σ SHAP" in result.stdout


def test_default_tweet_is_the_biggest_mover() -> None:
    explanation = explain_tweet(load_workspace(DEMO))
    rows = explanation.view.rows
    assert (
        abs(rows.set_index("tweet_id").at[explanation.tweet, "displacement"])
        == rows["displacement"].abs().max()
    )
    assert set(explanation.attributions["model"]) == {"baseline", "deep"}
    assert explanation.reference == "request"


def test_bad_tweets_are_one_clear_line(request_rows: pd.DataFrame) -> None:
    log = pd.read_parquet(DEMO / "logs" / "timelines.parquet", columns=["request_id", "tweet_id"])
    foreign = log.loc[log["request_id"] != request_rows["request_id"].iat[0], "tweet_id"].iat[0]
    request = request_rows["request_id"].iat[0]
    for args, message in (
        (["--request", request, "--tweet", "t_missing"], "tweet 't_missing' is not a candidate of request"),
        (["--request", request, "--tweet", request_rows["tweet_id"].iat[0], "--vs-tweet", foreign], f"tweet {foreign!r} is not a candidate"),
        (["--user", "u_nobody"], "unknown user 'u_nobody'"),
        (["--request", request, "--top", "0"], "The 'top' parameter of explain must be an int >= 1"),
    ):  # fmt: skip
        result = runner.invoke(app, ["explain", "--workspace", str(DEMO), *args])
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
