"""The surprise score: each component on hand-made requests, the planted bug surfacing on the
demo workspace, and the fallback without a training period."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.compare import (
    FeatureRanges,
    ParameterError,
    SurpriseSettings,
    find_surprises,
    rbo,
    score_surprises,
    scored_from_scores,
)
from rankaudit.compare.surprise import TABLE_COLUMNS
from rankaudit.synth.world import planted_bug_rows
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
HEADS = {"favorite": 1.0, "negative_feedback": -10.0}


def _request(
    request: str, favorite: list[int], negative: list[int], weight: list[float]
) -> pd.DataFrame:
    n = len(favorite)
    return pd.DataFrame(
        {
            "request_id": request,
            "user_id": "u1",
            "tweet_id": [f"{request}-t{i}" for i in range(n)],
            "served_at": pd.Timestamp("2026-11-13T00:00:00Z"),
            "label_favorite": favorite,
            "label_negative_feedback": negative,
            "real_graph_weight": weight,
        }
    )


def test_components_worked_by_hand() -> None:
    # r1: a orders t0..t5; b reverses it. t0 (favorite) falls from 1 to 6; t5 (ignored) and
    # t4 (negative feedback) enter b's top 2; t5 carries a weight of 3 outside [0, 1].
    r1 = _request("r1", [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0], [0.5, 0.2, 0.1, 0.3, 0.9, 3.0])
    # r2: both rankers agree; nothing is surprising.
    r2 = _request("r2", [0, 1, 0], [0, 0, 0], [0.1, 0.2, 0.3])
    frame = pd.concat([r1, r2], ignore_index=True)
    score_a = np.array([6, 5, 4, 3, 2, 1, 3, 2, 1], dtype=float)
    score_b = np.array([1, 2, 3, 4, 5, 6, 3, 2, 1], dtype=float)
    scored = scored_from_scores(frame, (score_a, score_b), HEADS)
    ranges = FeatureRanges(low={"real_graph_weight": 0.0}, high={"real_graph_weight": 1.0}, rows=10)
    result = score_surprises(scored, SurpriseSettings(k=2), ranges=ranges)
    table = result.table.set_index("request_id")
    one = table.loc["r1"]
    ids = [f"r1-t{i}" for i in range(6)]
    assert one["disagreement"] == pytest.approx(1 - rbo(ids, ids[::-1], p=0.9))
    # All of a's discounted gain (1 / log2(2) for t0 at position 1) is lost: 1 - 1/log2(7) of it.
    assert one["demoted_engagement"] == pytest.approx(1 - 1 / math.log2(7))
    # Entered b's top 2: t5 (ignored: 1) and t4 (negative: counts twice) -> 3 / 2, capped at 1.
    assert one["promoted_unengaged"] == 1.0
    # b's top 2 are t5 (3.0: excess 2 / 1, capped at 1) and t4 (0.9: inside) -> mean 0.5.
    assert one["out_of_range"] == pytest.approx(0.5)
    assert one["feature"] == "real_graph_weight"
    assert one["feature_value"] == 3.0
    assert (one["train_min"], one["train_max"]) == (0.0, 1.0)
    components = one[["disagreement", "demoted_engagement", "promoted_unengaged", "out_of_range"]]
    assert one["surprise"] == pytest.approx(components.mean())
    two = table.loc["r2"]
    assert two[
        ["surprise", "disagreement", "demoted_engagement", "promoted_unengaged", "out_of_range"]
    ].tolist() == pytest.approx([0, 0, 0, 0, 0], abs=1e-12)
    assert two["feature"] == ""
    assert result.table["request_id"].tolist() == ["r1", "r2"]
    assert result.table["rank"].tolist() == [1, 2]
    assert list(result.table.columns) == list(TABLE_COLUMNS)


def test_weights_are_normalised_and_the_range_component_is_optional() -> None:
    frame = _request("r1", [1, 0, 0], [0, 0, 1], [0.1, 0.2, 5.0])
    scored = scored_from_scores(frame, (np.array([3.0, 2, 1]), np.array([1.0, 2, 3])), HEADS)
    without = score_surprises(scored, SurpriseSettings(k=1))
    assert without.ranges is None
    assert without.weights == {
        "disagreement": pytest.approx(1 / 3),
        "demoted_engagement": pytest.approx(1 / 3),
        "promoted_unengaged": pytest.approx(1 / 3),
        "out_of_range": 0.0,
    }
    row = without.table.iloc[0]
    assert math.isnan(row["out_of_range"])
    assert row["surprise"] == pytest.approx(
        (row["disagreement"] + row["demoted_engagement"] + row["promoted_unengaged"]) / 3
    )
    only_range = SurpriseSettings(disagreement=0, demoted_engagement=0, promoted_unengaged=0)
    with pytest.raises(ParameterError, match="must not all be 0"):
        score_surprises(scored, only_range)
    with pytest.raises(
        ParameterError, match="The 'k' parameter of score_surprises must be an int >= 1"
    ):
        score_surprises(scored, SurpriseSettings(k=0))
    with pytest.raises(
        ParameterError, match=r"The 'p' parameter of score_surprises must be a float in \(0, 1\)"
    ):
        score_surprises(scored, SurpriseSettings(p=0.0))
    doc = without.to_dict(top=1)
    assert doc["feature_ranges"] is None
    assert doc["top"][0]["out_of_range"] is None


def test_the_planted_bug_tops_the_demo_surprise_list() -> None:
    workspace = load_workspace(DEMO)
    found = find_surprises(workspace)
    log = pd.read_parquet(DEMO / "logs", columns=["request_id", "client", "served_at"])
    buggy = set(log.loc[planted_bug_rows(log), "request_id"])
    top = found.top(10)
    flagged = top["request_id"].isin(buggy)
    assert flagged.iloc[0], top
    assert flagged.sum() >= 7, top
    assert (top.loc[flagged, "feature"] == "real_graph_weight").all()
    # Its training range comes from the requests served before holdout_from.
    assert found.ranges is not None
    assert found.ranges.until == workspace.holdout_from
    before = log["served_at"] < workspace.holdout_from
    assert found.ranges.rows == before.sum()
    assert found.requests == log.loc[~before, "request_id"].nunique()


def test_without_a_training_period_the_range_is_left_out(
    make_workspace: Callable[..., Path],
) -> None:
    found = find_surprises(load_workspace(make_workspace()), scope="holdout")
    assert found.scope == "all"
    assert found.ranges is None
    assert found.weights["out_of_range"] == 0.0
    assert found.table["out_of_range"].isna().all()
