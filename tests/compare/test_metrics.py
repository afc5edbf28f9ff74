import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from rankaudit.compare.metrics import (
    engagement_relevance,
    ndcg_at_k,
    pr_auc,
    rank_within_groups,
    rce,
    roc_and_pr_auc,
    roc_auc,
)


def test_rank_within_groups_breaks_ties_by_key() -> None:
    groups = ["b", "a", "a", "a", "b"]
    scores = [1.0, 0.5, 0.9, 0.5, 2.0]
    tweets = ["t9", "t3", "t1", "t2", "t8"]
    assert rank_within_groups(groups, scores, tweets).tolist() == [2, 3, 1, 2, 1]


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_ndcg_matches_sklearn_per_request(k: int) -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 30, 40)
    groups = np.repeat([f"r{i:03d}" for i in range(len(sizes))], sizes)
    scores = rng.normal(size=len(groups))
    relevance = rng.choice([0.0, 0.0, 0.0, 0.5, 13.5, 11.0], size=len(groups))
    ours = ndcg_at_k(groups, scores, relevance, k=k)
    for index, request in enumerate(sorted(set(groups))):
        mask = groups == request
        if relevance[mask].sum() == 0:
            assert np.isnan(ours[index])
            continue
        expected = ndcg_score(relevance[mask][None, :], scores[mask][None, :], k=k)
        assert ours[index] == pytest.approx(expected, abs=1e-12)


def test_ndcg_rejects_bad_k() -> None:
    with pytest.raises(
        ValueError, match=r"The .k. parameter of ndcg_at_k must be an int >= 1\. Got 0"
    ):
        ndcg_at_k(["a"], [1.0], [1.0], k=0)


def test_relevance_weights_heads_and_clips_negative_totals() -> None:
    frame = pd.DataFrame(
        {
            "label_favorite": [1, 1, 0],
            "label_reply": [0, 1, 0],
            "label_negative_feedback": [0, 0, 1],
        }
    )
    heads = {"favorite": 0.5, "reply": 13.5, "negative_feedback": -74.0}
    assert engagement_relevance(frame, heads).tolist() == [0.5, 14.0, 0.0]


def test_rce_reference_points() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(5000) < 0.1).astype(float)
    assert rce(y, np.full(len(y), y.mean())) == pytest.approx(0.0, abs=1e-9)
    assert rce(y, np.clip(y, 1e-7, 1 - 1e-7)) == pytest.approx(100.0, abs=0.01)
    assert rce(y, np.full(len(y), 0.5)) < 0
    p = np.clip(0.1 + 0.3 * (y - 0.1) + rng.normal(0, 0.02, len(y)), 0.01, 0.99)
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    ref = -(y * np.log(y.mean()) + (1 - y) * np.log(1 - y.mean())).mean()
    assert rce(y, p) == pytest.approx(100 * (ref - ce) / ref)
    assert roc_auc_score(y, p) > 0.5


@pytest.mark.parametrize(
    "case", ["continuous", "ties", "infinite ties", "one class", "no positive"]
)
def test_roc_and_pr_auc_match_sklearn(case: str) -> None:
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(7)
    y = (rng.random(3000) < 0.08).astype(np.int8)
    scores = rng.normal(size=3000) + y
    if case == "ties":
        scores = np.round(scores, 1)
    elif case == "infinite ties":
        scores[::3] = -np.inf
    elif case == "one class":
        y = np.ones_like(y)
    elif case == "no positive":
        y = np.zeros_like(y)
    roc, average_precision = roc_and_pr_auc(y, scores)
    # sklearn refuses infinities; a finite value below every score orders the rows the same.
    scores = np.where(np.isinf(scores), scores[np.isfinite(scores)].min() - 1.0, scores)
    if case in ("one class", "no positive"):
        assert np.isnan(roc)
    else:
        assert roc == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        assert roc == pytest.approx(roc_auc(y, scores), abs=1e-12)
    if case == "no positive":
        assert np.isnan(average_precision)
    else:
        assert average_precision == pytest.approx(average_precision_score(y, scores), abs=1e-12)
        assert average_precision == pytest.approx(pr_auc(y, scores), abs=1e-12)
