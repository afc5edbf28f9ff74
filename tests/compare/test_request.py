"""One request under two rankers: every metric against an independent reference on the same
orderings, deterministic tie-breaking, entries and exits, errors, and the workspace loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import ndcg_score

from rankaudit.compare import (
    CompareSettings,
    ParameterError,
    compare_orderings,
    compare_request,
    locate_tweet,
    rbo,
)
from rankaudit.errors import NotFoundError, WorkspaceError
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
HEADS = {"favorite": 0.5, "reply": 13.5, "negative_feedback": -74.0}


def one_request(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "request_id": "r1",
            "user_id": "u1",
            "tweet_id": [f"t{i:02d}" for i in range(n)],
            "author_id": [f"a{i % 4}" for i in range(n)],
            "served_at": pd.Timestamp("2026-11-12T10:00:00Z"),
            "label_favorite": (rng.random(n) < 0.4).astype(np.int8),
            "label_reply": (rng.random(n) < 0.15).astype(np.int8),
            "label_negative_feedback": (rng.random(n) < 0.1).astype(np.int8),
        }
    )


def test_metrics_match_scipy_sklearn_and_the_rbo_definition() -> None:
    frame = one_request(n=20, seed=3)
    rng = np.random.default_rng(5)
    score_a, score_b = rng.normal(size=20), rng.normal(size=20)
    result = compare_orderings(frame, score_a, score_b, heads=HEADS, models=("base", "deep"))
    m = result.metrics
    assert m["kendall_tau_b"] == pytest.approx(kendalltau(score_a, score_b).statistic, abs=1e-12)
    assert m["spearman"] == pytest.approx(spearmanr(score_a, score_b).statistic, abs=1e-12)
    order_a = [f"t{i:02d}" for i in np.argsort(-score_a)]
    order_b = [f"t{i:02d}" for i in np.argsort(-score_b)]
    assert m["rbo"] == pytest.approx(rbo(order_a, order_b, p=0.9), abs=1e-12)
    relevance = np.maximum(
        0.5 * frame["label_favorite"]
        + 13.5 * frame["label_reply"]
        - 74 * frame["label_negative_feedback"],
        0,
    ).to_numpy(dtype=float)
    assert relevance.sum() > 0
    for k in (5, 10):
        assert m[f"ndcg@{k}_a"] == pytest.approx(
            ndcg_score(relevance[None, :], score_a[None, :], k=k), abs=1e-12
        )
        assert m[f"ndcg@{k}_b"] == pytest.approx(
            ndcg_score(relevance[None, :], score_b[None, :], k=k), abs=1e-12
        )
        top_a, top_b = set(order_a[:k]), set(order_b[:k])
        assert m[f"overlap@{k}"] == pytest.approx(len(top_a & top_b) / k)
        change = next(c for c in result.top_k if c.k == k)
        assert change.entered == tuple(t for t in order_b[:k] if t not in top_a)
        assert change.exited == tuple(t for t in order_a[:k] if t not in top_b)
    rows = result.rows.set_index("tweet_id")
    for position, tweet in enumerate(order_b, start=1):
        assert rows.loc[tweet, "position_b"] == position
        assert rows.loc[tweet, "displacement"] == order_a.index(tweet) + 1 - position
    assert result.rows["position_b"].tolist() == list(range(1, 21))
    assert m["mean_abs_displacement"] == pytest.approx(rows["displacement"].abs().mean())


def test_ties_are_broken_by_tweet_id_but_measured_as_ties() -> None:
    frame = one_request(n=8, seed=1)
    score_a = np.array([3.0, 3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 0.0])
    score_b = np.array([1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 0.0, 0.0])
    result = compare_orderings(frame, score_a, score_b, heads=HEADS)
    rows = result.rows.set_index("tweet_id")
    # Equal scores: the smaller tweet id goes first.
    assert rows.loc[["t00", "t01", "t02", "t03", "t04"], "position_a"].tolist() == [1, 2, 3, 4, 5]
    assert rows.loc[["t02", "t03", "t01", "t04"], "position_b"].tolist() == [1, 2, 3, 4]
    # Rank correlations see the ties (tau-b and average ranks), exactly as scipy does.
    assert result.metrics["kendall_tau_b"] == pytest.approx(
        kendalltau(score_a, score_b).statistic, abs=1e-12
    )
    assert result.metrics["spearman"] == pytest.approx(
        spearmanr(score_a, score_b).statistic, abs=1e-12
    )
    blocks_a = [{"t00", "t01", "t02"}, {"t03", "t04"}, {"t05", "t06"}, "t07"]
    blocks_b = [{"t02", "t03"}, {"t01", "t04"}, {"t00", "t05"}, {"t06", "t07"}]
    assert result.metrics["rbo"] == pytest.approx(rbo(blocks_a, blocks_b), abs=1e-12)
    # NDCG follows the tie-broken ordering: sklearn fed the same strict order agrees.
    relevance = result.rows.set_index("tweet_id").loc[frame["tweet_id"], "relevance"].to_numpy()
    strict_a = -rows.loc[frame["tweet_id"], "position_a"].to_numpy(dtype=float)
    if relevance.sum() > 0:
        assert result.metrics["ndcg@5_a"] == pytest.approx(
            ndcg_score(relevance[None, :], strict_a[None, :], k=5), abs=1e-12
        )


def test_negative_heads_zero_relevance_and_flag_the_tweet() -> None:
    frame = one_request(n=3)
    frame[["label_favorite", "label_reply", "label_negative_feedback"]] = [
        [1, 1, 0],
        [1, 0, 1],
        [0, 0, 0],
    ]
    result = compare_orderings(
        frame, np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0]), heads=HEADS
    )
    rows = result.rows.set_index("tweet_id")
    assert rows.loc[["t00", "t01", "t02"], "relevance"].tolist() == [14.0, 0.0, 0.0]
    assert rows.loc[["t00", "t01", "t02"], "negative"].tolist() == [False, True, False]
    assert result.metrics["ndcg@5_a"] == 1.0


def test_to_dict_and_to_frame_keys() -> None:
    frame = one_request()
    rng = np.random.default_rng(2)
    result = compare_orderings(frame, rng.normal(size=12), rng.normal(size=12), heads=HEADS)
    doc = result.to_dict()
    assert list(doc) == [
        "kind", "version", "request_id", "user_id", "served_at", "models", "settings",
        "metrics", "top_k", "tweets", "viewer_requests", "relevance",
    ]  # fmt: skip
    assert doc["relevance"] == {
        "kind": "engagement", "column": None, "gain": "linear",
        "label": "engagement-weighted relevance",
    }  # fmt: skip
    assert doc["kind"] == "request"
    assert doc["version"] == 1
    assert doc["models"] == {"a": "a", "b": "b"}
    assert set(doc["metrics"]) == {
        "candidates", "engaged", "kendall_tau_b", "spearman", "rbo", "mean_abs_displacement",
        "overlap@5", "ndcg@5_a", "ndcg@5_b", "overlap@10", "ndcg@10_a", "ndcg@10_b",
    }  # fmt: skip
    assert list(doc["tweets"][0]) == [
        "tweet_id", "author_id", "position_a", "position_b", "displacement", "score_a",
        "score_b", "relevance", "negative", "label_favorite", "label_reply",
        "label_negative_feedback",
    ]  # fmt: skip
    assert [t["position_b"] for t in doc["tweets"]] == list(range(1, 13))
    assert list(result.to_frame().columns) == list(doc["tweets"][0])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            CompareSettings(k=(0,)),
            "The 'k' parameter of compare_orderings must be an int >= 1. Got 0 instead.",
        ),
        (CompareSettings(k=(5, -1)), "must be an int >= 1. Got -1 instead."),
        (
            CompareSettings(p=1.0),
            "The 'p' parameter of compare_orderings must be a float in (0, 1). Got 1.0 instead.",
        ),
        (CompareSettings(p=0), "must be a float in (0, 1). Got 0 instead."),
        (CompareSettings(n_bootstrap=0), "The 'n_bootstrap' parameter"),
        (CompareSettings(confidence=1.5), "The 'confidence' parameter"),
    ],
)
def test_bad_settings_raise_one_clear_message(settings: CompareSettings, message: str) -> None:
    frame = one_request()
    with pytest.raises(ParameterError) as caught:
        compare_orderings(frame, np.zeros(12), np.zeros(12), heads=HEADS, settings=settings)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_frame_must_hold_one_request_and_scores_must_align() -> None:
    frame = pd.concat([one_request(), one_request().assign(request_id="r2")], ignore_index=True)
    with pytest.raises(ParameterError, match=r"exactly one request\. Got 2 request"):
        compare_orderings(frame, np.zeros(24), np.zeros(24), heads=HEADS)
    with pytest.raises(ParameterError, match="'score_b' parameter"):
        compare_orderings(one_request(), np.zeros(12), np.zeros(3), heads=HEADS)


@pytest.fixture(scope="module")
def demo_ids() -> pd.DataFrame:
    return pd.read_parquet(DEMO / "logs", columns=["request_id", "user_id", "tweet_id"])


def test_compare_request_for_a_user_picks_the_most_disagreeing_request(
    demo_ids: pd.DataFrame,
) -> None:
    workspace = load_workspace(DEMO)
    user = str(demo_ids["user_id"].iloc[500])
    result = compare_request(workspace, user=user)
    assert result.user_id == user
    viewer = result.viewer_requests
    assert set(viewer["request_id"]) == set(demo_ids.loc[demo_ids["user_id"] == user, "request_id"])
    spread = viewer.set_index("request_id")["mean_abs_displacement"]
    assert result.request_id == min(spread.index[spread == spread.max()])
    # The request alone gives the same numbers: metrics do not depend on what else was read.
    alone = compare_request(workspace, request=result.request_id)
    assert alone.metrics == pytest.approx(result.metrics, nan_ok=True)
    assert alone.rows["tweet_id"].tolist() == result.rows["tweet_id"].tolist()
    deep = workspace.ranker("deep")
    assert alone.rows["score_b"].to_numpy() == pytest.approx(deep.score(alone.rows))
    assert alone.probabilities[1] is not None
    assert list(alone.probabilities[1].columns) == list(deep.heads)


def test_unknown_ids_and_tweets_raise_not_found(demo_ids: pd.DataFrame) -> None:
    workspace = load_workspace(DEMO)
    with pytest.raises(NotFoundError, match="unknown user 'u_nobody'"):
        compare_request(workspace, user="u_nobody")
    with pytest.raises(NotFoundError, match="unknown request 'r_nothing'"):
        compare_request(workspace, request="r_nothing")
    request = str(demo_ids["request_id"].iloc[0])
    owner = str(demo_ids["user_id"].iloc[0])
    other_user = str(demo_ids.loc[demo_ids["user_id"] != owner, "user_id"].iloc[0])
    with pytest.raises(NotFoundError, match=f"served to viewer '{owner}', not '{other_user}'"):
        compare_request(workspace, request=request, user=other_user)
    with pytest.raises(WorkspaceError, match="no model named 'gbdt'"):
        compare_request(workspace, request=request, models=("baseline", "gbdt"))
    with pytest.raises(ParameterError, match="needs a user or a request"):
        compare_request(workspace)
    result = compare_request(workspace, request=request, models=("served", "chronological"))
    tweet = result.rows["tweet_id"].iloc[0]
    assert locate_tweet(workspace, result, tweet)["tweet_id"] == tweet
    with pytest.raises(NotFoundError, match="unknown tweet 't_none'"):
        locate_tweet(workspace, result, "t_none")
    other = demo_ids.loc[~demo_ids["tweet_id"].isin(result.rows["tweet_id"])].iloc[0]
    with pytest.raises(NotFoundError) as caught:
        locate_tweet(workspace, result, str(other["tweet_id"]))
    assert f"is not a candidate of request '{request}'" in str(caught.value)
    first_other = sorted(demo_ids.loc[demo_ids["tweet_id"] == other["tweet_id"], "request_id"])[0]
    assert f"it was a candidate of request '{first_other}'" in str(caught.value)
