"""Offline evaluation of rankers on logged requests: NDCG@k and per-head ROC-AUC, PR-AUC, RCE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from rankaudit.compare.metrics import engagement_relevance, ndcg_at_k, rce, roc_and_pr_auc
from rankaudit.compare.scoring import judged_grades
from rankaudit.data import schema
from rankaudit.data.relevance import GradedRelevance, graded_gain

__all__ = ["Evaluation", "evaluate_rankers", "head_metrics"]


class _Scorer(Protocol):
    heads: tuple[str, ...]

    def score(self, frame: pd.DataFrame) -> np.ndarray: ...

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Evaluation:
    """Metrics per model. `heads[model][head]` holds roc_auc, pr_auc and (for models that
    predict that head's probability) rce; RCE is None for a score that is not a probability."""

    requests: int
    rows: int
    k: int
    ndcg: Mapping[str, float]
    heads: Mapping[str, Mapping[str, Mapping[str, float | None]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rows": self.rows,
            "k": self.k,
            "ndcg": {m: round(v, 6) for m, v in self.ndcg.items()},
            "heads": {
                m: {
                    h: {k: (None if v is None else round(v, 6)) for k, v in d.items()}
                    for h, d in hs.items()
                }
                for m, hs in self.heads.items()
            },
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, head) with roc_auc, pr_auc, rce, plus the model's ndcg."""
        rows = [
            {"model": m, "head": h, **metrics, f"ndcg@{self.k}": self.ndcg[m]}
            for m, hs in self.heads.items()
            for h, metrics in hs.items()
        ]
        return pd.DataFrame(rows)


def evaluate_rankers(
    frame: pd.DataFrame,
    rankers: Mapping[str, _Scorer],
    heads: Mapping[str, float],
    *,
    k: int = 10,
    graded: GradedRelevance | None = None,
) -> Evaluation:
    """Score `frame` (prepared log rows) with every ranker and return its metrics.

    NDCG@k uses the gain of the graded judgements with `graded` (column `graded.column`), else
    engagement-weighted relevance with the workspace's head weights; per-head AUCs (none
    without heads) use the head's probability when the ranker predicts that head, else its
    final score.
    """
    relevance = (
        engagement_relevance(frame, heads)
        if graded is None
        else graded_gain(judged_grades(frame, graded), graded.gain)
    )
    groups = frame[schema.REQUEST_ID].to_numpy()
    tie_key = frame[schema.TWEET_ID].to_numpy()
    ndcg: dict[str, float] = {}
    per_head: dict[str, dict[str, dict[str, float | None]]] = {}
    for name, ranker in rankers.items():
        score = ranker.score(frame)
        ndcg[name] = float(np.nanmean(ndcg_at_k(groups, score, relevance, k=k, tie_key=tie_key)))
        probabilities = ranker.head_scores(frame) if ranker.heads else None
        per_head[name] = head_metrics(frame, heads, score, probabilities)
    return Evaluation(
        requests=int(frame[schema.REQUEST_ID].nunique()),
        rows=len(frame),
        k=k,
        ndcg=ndcg,
        heads=per_head,
    )


def head_metrics(
    frame: pd.DataFrame,
    heads: Mapping[str, float],
    score: np.ndarray,
    probabilities: pd.DataFrame | None,
) -> dict[str, dict[str, float | None]]:
    """Return roc_auc, pr_auc and rce per head of `heads` against the `label_<head>` columns
    of `frame`.

    ROC-AUC and PR-AUC (average precision) equal sklearn's `roc_auc_score` and
    `average_precision_score`, computed from one sort per head. A head the ranker predicts (a
    column of `probabilities`, aligned with `frame` by position) is scored by its probability
    and gets an RCE; otherwise the final `score` ranks the rows and RCE is None (a score is not
    a probability).
    """
    out: dict[str, dict[str, float | None]] = {}
    for head in heads:
        labels = frame[schema.label_column(head)].to_numpy()
        has_head = probabilities is not None and head in probabilities
        values = probabilities[head].to_numpy() if has_head else score  # type: ignore[index]
        roc, average_precision = roc_and_pr_auc(labels, values)
        out[head] = {
            "roc_auc": roc,
            "pr_auc": average_precision,
            "rce": rce(labels, values) if has_head else None,
        }
    return out
