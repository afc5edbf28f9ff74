"""Ranking and classification metrics, vectorised over all requests at once.

Conventions (stable; later views and CI read them):
- Orderings sort by score descending; ties are broken by `tie_key` ascending (the tweet id),
  so every ordering is deterministic.
- Engagement-weighted relevance of a tweet is ``max(0, sum_h weight_h * label_h)``: negative
  heads (negative feedback, report) cancel the gain of positive engagements, and a tweet whose
  net value is negative counts as irrelevant rather than as negative gain, which NDCG cannot hold.
- With graded judgements (`[relevance]`) the relevance is the grade's gain instead
  (`rankaudit.data.relevance.graded_gain`; see `rankaudit.compare.scoring`).
- NDCG@k takes the relevance as the gain, with the 1/log2(rank + 1) discount; requests whose
  ideal DCG is 0 (no relevant candidate) are left out of the mean, as in most IR toolkits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rankaudit.data import schema

__all__ = [
    "dcg_at_k",
    "engagement_relevance",
    "ndcg_at_k",
    "ndcg_ratio",
    "negative_engagement",
    "position_discount",
    "pr_auc",
    "rank_within_groups",
    "rce",
    "roc_and_pr_auc",
    "roc_auc",
]

_EPS = 1e-7


def engagement_relevance(frame: pd.DataFrame, heads: Mapping[str, float]) -> NDArray[np.float64]:
    """Return ``max(0, sum_h weight_h * label_h)`` per row (label columns `label_<head>`)."""
    total = np.zeros(len(frame), dtype=np.float64)
    for head, weight in heads.items():
        total += weight * frame[schema.label_column(head)].to_numpy(dtype=np.float64)
    return np.maximum(total, 0.0)


def negative_engagement(frame: pd.DataFrame, heads: Mapping[str, float]) -> NDArray[np.bool_]:
    """Return True for rows where the viewer did any engagement whose head weight is negative
    (negative feedback, report): the rows relevance clips to 0 although they are worse than
    ignored."""
    out = np.zeros(len(frame), dtype=bool)
    for head, weight in heads.items():
        if weight < 0:
            out |= frame[schema.label_column(head)].to_numpy() == 1
    return out


def position_discount(positions: ArrayLike) -> NDArray[np.float64]:
    """Return the DCG discount 1 / log2(position + 1) of 1-based positions."""
    return np.asarray(1.0 / np.log2(np.asarray(positions, dtype=np.float64) + 1.0))


def rank_within_groups(
    groups: ArrayLike, scores: ArrayLike, tie_key: ArrayLike
) -> NDArray[np.int64]:
    """Return the 1-based rank of every row inside its group: score descending, then tie_key ascending."""
    group_codes = pd.factorize(np.asarray(groups), sort=True)[0]
    tie_codes = pd.factorize(np.asarray(tie_key), sort=True)[0]
    order = np.lexsort((tie_codes, -np.asarray(scores, dtype=np.float64), group_codes))
    sorted_groups = group_codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    run_lengths = np.diff(np.r_[starts, len(order)])
    ranks_sorted = np.arange(len(order)) - np.repeat(starts, run_lengths) + 1
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = ranks_sorted
    return ranks


def ndcg_at_k(
    groups: ArrayLike,
    scores: ArrayLike,
    relevance: ArrayLike,
    *,
    k: int = 10,
    tie_key: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Return NDCG@k per group (sorted by group id), NaN where the ideal DCG is 0.

    `groups`, `scores`, `relevance` and `tie_key` are aligned per row.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"The 'k' parameter of ndcg_at_k must be an int >= 1. Got {k!r} instead.")
    group_arr = np.asarray(groups)
    rel = np.asarray(relevance, dtype=np.float64)
    ties = np.arange(len(rel)) if tie_key is None else np.asarray(tie_key)
    codes, uniques = pd.factorize(group_arr, sort=True)
    actual = dcg_at_k(codes, len(uniques), rank_within_groups(group_arr, scores, ties), rel, k=k)
    ideal = dcg_at_k(codes, len(uniques), rank_within_groups(group_arr, rel, ties), rel, k=k)
    return ndcg_ratio(actual, ideal)


def dcg_at_k(
    codes: ArrayLike, n_groups: int, positions: ArrayLike, relevance: ArrayLike, *, k: int
) -> NDArray[np.float64]:
    """Return DCG@k per group from integer group `codes` (0..n_groups-1) and 1-based
    `positions`: sum of relevance / log2(position + 1) over positions <= k."""
    ranks = np.asarray(positions, dtype=np.int64)
    rel = np.asarray(relevance, dtype=np.float64)
    inside = ranks <= k
    gains = rel[inside] * position_discount(ranks[inside])
    return np.bincount(np.asarray(codes)[inside], weights=gains, minlength=n_groups).astype(
        np.float64
    )


def ndcg_ratio(actual: ArrayLike, ideal: ArrayLike) -> NDArray[np.float64]:
    """Return actual / ideal DCG, NaN where the ideal DCG is 0 (nobody engaged)."""
    actual_arr = np.asarray(actual, dtype=np.float64)
    ideal_arr = np.asarray(ideal, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ideal_arr > 0, actual_arr / ideal_arr, np.nan)


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Return ROC-AUC (ties get half credit); NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels)
    if y.min(initial=0) == y.max(initial=0):
        return float("nan")
    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


def pr_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Return the area under the precision-recall curve (average precision); NaN without positives."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(labels)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, np.asarray(scores, dtype=np.float64)))


def roc_and_pr_auc(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """Return (ROC-AUC, average precision) of 0/1 `labels` ranked by `scores`, from one sort.

    Equal scores form one threshold (ROC ties get half credit), as in `roc_auc` and `pr_auc`;
    NaN where those give NaN (ROC-AUC with one class, average precision without positives).
    """
    y = np.asarray(labels, dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)
    if len(y) == 0:
        return float("nan"), float("nan")
    order = np.argsort(-values)
    ranked = values[order]
    # The last row of each block of equal scores closes a threshold.
    closes = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    true_positives = np.cumsum(y[order])[closes]
    false_positives = closes + 1 - true_positives
    positives, negatives = true_positives[-1], false_positives[-1]
    if positives == 0:
        return float("nan"), float("nan")
    recall = true_positives / positives
    precision = true_positives / (true_positives + false_positives)
    average_precision = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    if negatives == 0:
        return float("nan"), average_precision
    fpr = np.r_[0.0, false_positives / negatives]
    tpr = np.r_[0.0, recall]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0)), average_precision


def rce(labels: ArrayLike, probabilities: ArrayLike) -> float:
    """Return relative cross entropy in percent: 100 * (CE(average rate) - CE(model)) / CE(average rate).

    0 means no better than predicting the observed average rate; higher is better.
    """
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1 - _EPS)
    rate = float(np.clip(y.mean(), _EPS, 1 - _EPS))
    reference = -(y * np.log(rate) + (1 - y) * np.log(1 - rate)).mean()
    model = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    if reference == 0:
        return float("nan")
    return float(100.0 * (reference - model) / reference)
