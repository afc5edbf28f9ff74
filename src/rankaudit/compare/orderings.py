"""Two rankers' orderings of the same requests, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from rankaudit.compare.metrics import rank_within_groups
from rankaudit.data import schema

__all__ = ["most_disagreeing_request", "side_by_side"]


def side_by_side(frame: pd.DataFrame, score_a: ArrayLike, score_b: ArrayLike) -> pd.DataFrame:
    """Return `frame` with `score_a`, `score_b`, their 1-based positions `position_a`/`position_b`
    within each request (score descending, ties by tweet id) and `displacement` = a - b
    (positive: ranker b moved the tweet up), sorted by request then `position_b`."""
    out = frame.copy()
    out["score_a"] = np.asarray(score_a, dtype=np.float64)
    out["score_b"] = np.asarray(score_b, dtype=np.float64)
    groups = out[schema.REQUEST_ID].to_numpy()
    tweets = out[schema.TWEET_ID].to_numpy()
    out["position_a"] = rank_within_groups(groups, out["score_a"], tweets)
    out["position_b"] = rank_within_groups(groups, out["score_b"], tweets)
    out["displacement"] = out["position_a"] - out["position_b"]
    return out.sort_values([schema.REQUEST_ID, "position_b"], kind="stable").reset_index(drop=True)


def most_disagreeing_request(ordered: pd.DataFrame) -> str:
    """Return the request whose mean |displacement| (a table from `side_by_side`) is largest,
    ties broken by the smallest request id."""
    spread = ordered["displacement"].abs().groupby(ordered[schema.REQUEST_ID], sort=True).mean()
    return str(spread.idxmax())
