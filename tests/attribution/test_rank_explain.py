"""`explain_ranks` and `rankaudit explain --quantity` on the demo workspace: the values sum to
each quantity's change, the JSON keys are the documented ones, head shares add up on the
demo's deep ranker, and bad input exits 2 with one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rankaudit.attribution.heads import head_gap_shares
from rankaudit.attribution.rank import RankSettings
from rankaudit.cli import app
from rankaudit.explain import explain_ranks
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
SETTINGS = RankSettings(pairs=2, listwise_pairs=2, k=5)


@pytest.fixture(scope="module")
def workspace():  # type: ignore[no-untyped-def]
    return load_workspace(DEMO)


def test_rank_explanation_of_both_models_is_efficient(workspace) -> None:  # type: ignore[no-untyped-def]
    result = explain_ranks(workspace, quantity="rank", user="u000546", settings=SETTINGS)
    assert set(result.results) == {"baseline", "deep"}
    rows = result.view.rows.set_index("tweet_id")
    for model, side in (("baseline", "position_a"), ("deep", "position_b")):
        explanation = result.results[model]
        assert explanation.at_x["rank"] == rows.loc[result.tweet, side]
        for q in ("rank", "topk", "exposure"):
            change = explanation.at_x[q] - explanation.at_reference[q]
            assert math.fsum(explanation.values[q]) == pytest.approx(change, abs=1e-12)
    document = result.to_dict()
    assert set(document) == {"request_id", "user_id", "tweet_id", "quantity", "by", "models"}
    assert set(document["models"]["deep"]) == {
        "tweet_id", "k", "position_model", "exact", "permutations", "at_x", "at_reference",
        "change", "players",
    }  # fmt: skip


def test_listwise_by_group_and_the_disagreement(workspace) -> None:  # type: ignore[no-untyped-def]
    result = explain_ranks(
        workspace, quantity="listwise", user="u000546", by="group", settings=SETTINGS
    )
    for explanation in result.results.values():
        assert explanation.at_x["kendall"] == pytest.approx(1.0)
        for q in explanation.quantities:
            change = explanation.at_x[q] - explanation.at_reference[q]
            assert abs(math.fsum(explanation.values[q]) - change) <= 1e-9
    metrics = result.view.metrics
    observed = (1 - float(np.asarray(metrics["kendall_tau_b"]).ravel()[0])) / 2
    assert result.disagreement.observed == pytest.approx(observed, abs=1e-9)
    assert math.fsum(result.disagreement.values["discordance"]) == pytest.approx(observed)


def test_head_shares_add_up_on_the_demo_deep_ranker(workspace) -> None:  # type: ignore[no-untyped-def]
    result = explain_ranks(workspace, quantity="rank", user="u000546", settings=SETTINGS)
    rows = result.view.rows
    deep = workspace.ranker("deep")
    pair = list(rows["tweet_id"].iloc[:2])
    shares = head_gap_shares(deep, rows, *pair)
    scores = deep.score(rows.iloc[:2])
    assert math.fsum(shares["share"]) == pytest.approx(scores[0] - scores[1], abs=1e-9)


def test_cli_json_and_errors() -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["explain", "--workspace", str(DEMO), "--user", "u000546",
                               "--quantity", "exposure", "--format", "json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    document = json.loads(done.output)
    assert document["quantity"] == "exposure"
    bad = runner.invoke(app, ["explain", "--workspace", str(DEMO), "--user", "u000546",
                              "--quantity", "rank", "--k", "0"])  # fmt: skip
    assert bad.exit_code == 2
    assert "'k' parameter of RankSettings" in bad.output


def test_why_surprising_lines_and_the_surprises_column(workspace) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console

    from rankaudit.attribution.disagreement import explain_disagreement, why_surprising
    from rankaudit.compare import SurpriseSettings, find_surprises
    from rankaudit.render.compare import surprises_table

    found = find_surprises(workspace, settings=SurpriseSettings(), scope="all")
    listed = [str(r) for r in found.top(2)["request_id"]]
    lines = why_surprising(workspace, listed, settings=SETTINGS)
    assert list(lines) == listed
    rows = explain_ranks(workspace, quantity="rank", request=listed[0], settings=SETTINGS).view.rows
    frame = rows.drop(columns=["score_a", "score_b", "position_a", "position_b", "displacement"])
    direct = explain_disagreement(
        workspace.ranker("baseline"), workspace.ranker("deep"), frame, settings=SETTINGS
    )
    assert lines[listed[0]] == direct.line()
    console = Console(width=400, record=True)
    console.print(surprises_table(found, 2, why=lines))
    text = console.export_text()
    assert "why surprising" in text
    assert lines[listed[1]] in text


def test_global_reference_of_rank_quantities(workspace) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from rankaudit.attribution.api import background_sample
    from rankaudit.attribution.rank import background_points, explain_rank
    from rankaudit.errors import AttributionError
    from rankaudit.explain import GLOBAL_REFERENCE_ROWS

    result = explain_ranks(
        workspace, quantity="rank", user="u000546", reference="global", settings=SETTINGS
    )
    deep = workspace.ranker("deep")
    background = background_sample(workspace, GLOBAL_REFERENCE_ROWS, SETTINGS.seed)
    frame = result.view.rows.drop(
        columns=["score_a", "score_b", "position_a", "position_b", "displacement"]
    )
    direct = explain_rank(deep, frame, result.tweet, settings=SETTINGS, reference=background)
    np.testing.assert_array_equal(result.results["deep"].values["rank"], direct.values["rank"])
    change = direct.at_x["rank"] - direct.at_reference["rank"]
    assert math.fsum(direct.values["rank"]) == pytest.approx(change, abs=1e-12)
    # The global reference is the background as a distribution: the mean of the games
    # against its drawn rows, each with its own antithetic pairs.
    points = background_points(background, deep.feature_names, deep.categorical_features, SETTINGS)
    assert len(points) == min(SETTINGS.pairs, GLOBAL_REFERENCE_ROWS)
    pairs = max(1, SETTINGS.pairs // len(points))
    games = [
        explain_rank(
            deep,
            frame,
            result.tweet,
            settings=replace(SETTINGS, pairs=pairs, seed=SETTINGS.seed + r),
            reference=point,
        )
        for r, point in enumerate(points)
    ]
    mean = np.mean([g.values["rank"].to_numpy() for g in games], axis=0)
    np.testing.assert_allclose(direct.values["rank"], mean, rtol=0, atol=1e-12)
    at_reference = np.mean([g.at_reference["rank"] for g in games])
    assert direct.at_reference["rank"] == pytest.approx(at_reference, abs=1e-12)
    with pytest.raises(AttributionError, match="background of a global rank reference has no rows"):
        explain_rank(deep, frame, result.tweet, settings=SETTINGS, reference=background.iloc[:0])
    with pytest.raises(AttributionError, match=r"valid: request$"):
        explain_ranks(workspace, quantity="listwise", user="u000546", reference="global")
