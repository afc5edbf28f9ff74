"""Explanations of 220 features stay readable: the top N and "all other features (K)", or one row
per feature group; both add up to score − reference. Checked against linear models whose
attributions are known exactly (tests/wide.py), in the library and through `rankaudit explain`."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.explain import TweetExplanation, explain_tweet
from rankaudit.render import contributions_table
from rankaudit.workspace import load_workspace
from tests.wide import FEATURES, GROUP_SIZES, WideTruth, write_wide_workspace

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
REQUEST, TWEET = "r1", "t012"
runner = CliRunner()


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> WideTruth:
    return write_wide_workspace(tmp_path_factory.mktemp("wide"))


@pytest.fixture(scope="module")
def explained(wide: WideTruth) -> TweetExplanation:
    return explain_tweet(load_workspace(wide.root), request=REQUEST, tweet=TWEET)


def _truth(wide: WideTruth, model: str) -> pd.Series:
    rows = wide.log.loc[wide.log["request_id"] == REQUEST]
    row = rows.loc[rows["tweet_id"] == TWEET].iloc[0]
    return wide.attributions(model, row, rows)


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in `text`, as stripped cells."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def test_attributions_are_the_known_truth(wide: WideTruth, explained: TweetExplanation) -> None:
    for model, tolerance in (("baseline", 1e-12), ("deep", 2e-5)):
        truth = _truth(wide, model)
        table = explained.contributions(model).set_index("feature")
        assert len(table) == len(FEATURES) == 220
        for method in ("shap", "ig"):
            np.testing.assert_allclose(table.loc[list(FEATURES), method], truth, atol=tolerance)


@pytest.mark.parametrize("top", [5, 12])
def test_top_rows_and_all_other_features_add_up_to_the_gap(
    explained: TweetExplanation, top: int
) -> None:
    for model in ("baseline", "deep"):
        totals = explained.totals(model)
        gap = totals["score"] - totals["reference_score"]
        shown = explained.top_contributions(model, top=top)
        assert len(shown) == top + 1
        assert shown["feature"].iat[-1] == f"all other features ({220 - top})"
        ranked = explained.contributions(model)
        for method in ("shap", "ig"):
            # Regrouping is exact: the rows sum to the sum of all 220 attributions...
            assert abs(math.fsum(shown[method]) - totals[f"sum_{method}"]) <= 1e-9
            assert shown[method].iat[-1] == math.fsum(ranked[method].iloc[top:])
        # ... which is score − reference: exactly for the float64 linear model, to float32
        # precision for the torch one.
        for method in ("shap", "ig"):
            bound = 1e-9 if model == "baseline" else 1e-4
            assert abs(math.fsum(shown[method]) - gap) <= bound, (model, method)


def test_group_sums_are_hand_sums(wide: WideTruth, explained: TweetExplanation) -> None:
    for model in ("baseline", "deep"):
        truth = _truth(wide, model)
        by_hand = truth.groupby(pd.Series(wide.groups)).sum()
        grouped = explained.group_contributions(model).set_index("group")
        assert sorted(grouped.index) == sorted(GROUP_SIZES)
        assert grouped["members"].to_dict() == GROUP_SIZES
        for group, members in grouped["features"].items():
            assert {wide.groups[f] for f in members} == {group}
        tolerance = 1e-12 if model == "baseline" else 1e-4
        for method in ("shap", "ig"):
            np.testing.assert_allclose(grouped.loc[by_hand.index, method], by_hand, atol=tolerance)
            table = explained.contributions(model)
            assert abs(math.fsum(grouped[method]) - math.fsum(table[method])) <= 1e-9
        # Largest |sum| first.
        size = grouped[["shap", "ig"]].abs().max(axis=1).to_numpy()
        assert np.all(np.diff(size) <= 0)


def test_order_is_deterministic_and_ties_go_by_name(explained: TweetExplanation) -> None:
    ranked = explained.contributions("baseline")["feature"].tolist()
    # f003 and f010: the same column with weights -2 and 2, so |attribution| ties exactly.
    table = explained.contributions("baseline").set_index("feature")
    assert abs(table.at["f003", "shap"]) == abs(table.at["f010", "shap"]) > 0
    assert ranked.index("f010") == ranked.index("f003") + 1
    shuffled = replace(
        explained, attributions=explained.attributions.sample(frac=1.0, random_state=4)
    )
    for model in ("baseline", "deep"):
        for by in ("feature", "group"):
            pd.testing.assert_frame_equal(
                shuffled.top_contributions(model, top=12, by=by),  # type: ignore[arg-type]
                explained.top_contributions(model, top=12, by=by),  # type: ignore[arg-type]
            )


def test_the_terminal_table_shows_top_rows_and_the_rest(explained: TweetExplanation) -> None:
    from rich.console import Console

    console = Console(width=160, record=True)
    console.print(contributions_table(explained, "baseline", top=12))
    rows = _table_rows(console.export_text())
    assert len(rows) == 13
    assert rows[-1][0] == "all other features (208)"
    shown = explained.top_contributions("baseline", top=12)
    assert [r[0] for r in rows] == shown["feature"].tolist()
    assert [float(r[2]) for r in rows] == pytest.approx(shown["shap"].tolist(), abs=6e-5)


def test_cli_top_and_groups_on_220_features(wide: WideTruth, explained: TweetExplanation) -> None:
    base = ["explain", "--workspace", str(wide.root), "--request", REQUEST, "--tweet", TWEET]
    result = runner.invoke(app, [*base, "--top", "5"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    rows = [r for r in _table_rows(result.stdout) if len(r) == 4]  # the two attribution tables
    assert len(rows) == 2 * 6
    for model, block in (("baseline", rows[:6]), ("deep", rows[6:])):
        shown = explained.top_contributions(model, top=5)
        assert [r[0] for r in block] == shown["feature"].tolist()
        assert block[-1][0] == "all other features (215)"
        assert [float(r[2]) for r in block] == pytest.approx(shown["shap"].tolist(), abs=6e-5)
    result = runner.invoke(app, [*base, "--by", "group"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    rows = [r for r in _table_rows(result.stdout) if len(r) == 4 and r[0] in GROUP_SIZES]
    assert len(rows) == 2 * 7
    grouped = explained.group_contributions("baseline")
    assert [r[0] for r in rows[:7]] == grouped["group"].tolist()
    assert [int(r[1]) for r in rows[:7]] == grouped["members"].tolist()
    assert "engagement <b>history</b>" in result.stdout  # markup in a group name is text


def test_cli_json_keeps_every_feature_and_every_group(
    wide: WideTruth, explained: TweetExplanation
) -> None:
    base = ["explain", "--workspace", str(wide.root), "--request", REQUEST, "--tweet", TWEET]
    result = runner.invoke(app, [*base, "--top", "5", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["tweet_id"], document["request_id"], document["by"]) == (
        TWEET,
        REQUEST,
        "feature",
    )
    for model in ("baseline", "deep"):
        entry = document["models"][model]
        features = entry["features"]
        assert len(features) == 220  # --top shortens the table, never the JSON
        assert [f["feature"] for f in features] == explained.contributions(model)[
            "feature"
        ].tolist()
        assert {f["feature"]: f["group"] for f in features} == wide.groups
        truth = _truth(wide, model)
        got = pd.Series({f["feature"]: f["shap"] for f in features})
        np.testing.assert_allclose(got[truth.index], truth, atol=2e-5)
        assert entry["gap"] == pytest.approx(entry["score"] - entry["reference_score"])
    result = runner.invoke(app, [*base, "--by", "group", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    groups = json.loads(result.stdout)["models"]["baseline"]["groups"]
    assert [g["group"] for g in groups] == explained.group_contributions("baseline")[
        "group"
    ].tolist()
    assert sum(g["members"] for g in groups) == 220
    by_hand = _truth(wide, "baseline").groupby(pd.Series(wide.groups)).sum()
    for group in groups:
        assert group["ig"] == pytest.approx(by_hand[group["group"]], abs=1e-12)
        assert len(group["features"]) == group["members"]


def test_cli_top_5_on_the_demo() -> None:
    request = "r000000819"
    result = runner.invoke(
        app, ["explain", "--workspace", str(DEMO), "--request", request, "--top", "5"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    explanation = explain_tweet(load_workspace(DEMO), request=request)
    for model in ("baseline", "deep"):
        shown = explanation.top_contributions(model, top=5)
        count = len(explanation.contributions(model))
        assert shown["feature"].iat[-1] == f"all other features ({count - 5})"
        section = result.stdout.split(f"\n{model}: ", 1)[1].split("\nscore ", 1)[0]
        assert [r[0] for r in _table_rows(section)] == shown["feature"].tolist()
        totals = explanation.totals(model)
        assert math.fsum(shown["shap"]) == pytest.approx(totals["sum_shap"], abs=1e-9)
    result = runner.invoke(
        app, ["explain", "--workspace", str(DEMO), "--request", request, "--by", "nope"]
    )
    assert result.exit_code == 2
    assert "nope" in result.stderr
