"""Two rankers' orderings of the same requests: side by side, and compared per request."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from rankaudit.compare.metrics import dcg_at_k, ndcg_ratio, rank_within_groups
from rankaudit.compare.ranking import rank_agreement, top_k_overlap
from rankaudit.compare.scoring import ScoredRequests
from rankaudit.data import schema

__all__ = ["most_disagreeing_request", "request_metrics", "side_by_side"]


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


def request_metrics(scored: ScoredRequests, *, k: Sequence[int], p: float) -> pd.DataFrame:
    """Return one row per request (sorted by request id) comparing rankers a and b.

    Columns: `request_id`, `user_id`, `served_at`, `candidates`, `engaged` (candidates with
    relevance > 0: engaged with, or judged grade > 0), `kendall_tau_b`, `spearman`, `rbo`
    (tie-aware, extrapolated, persistence `p`), `mean_abs_displacement`, and per cut-off in
    `k`: `overlap@k`, `ndcg@k_a`, `ndcg@k_b` (gain = the rows' `relevance`; NaN where no
    candidate is relevant). Vectorised: no Python loop over requests.
    """
    rows = scored.rows
    index = scored.index
    codes = index.codes
    first_rows = index.order[index.starts]
    score_a = rows["score_a"].to_numpy()
    score_b = rows["score_b"].to_numpy()
    position_a = rows["position_a"].to_numpy()
    position_b = rows["position_b"].to_numpy()
    relevance = rows["relevance"].to_numpy()
    ideal = rank_within_groups(codes, relevance, scored.tweet_codes)
    n = index.n_groups
    columns: dict[str, object] = {
        schema.REQUEST_ID: scored.request_ids,
        schema.USER_ID: rows[schema.USER_ID].iloc[first_rows].to_numpy(),
        schema.SERVED_AT: rows[schema.SERVED_AT].iloc[first_rows].to_numpy(),
        "candidates": index.sizes,
        "engaged": np.bincount(codes, weights=(relevance > 0).astype(np.float64), minlength=n)
        .round()
        .astype(np.int64),
        **rank_agreement(index, score_a, score_b, p=p),
        "mean_abs_displacement": np.bincount(
            codes, weights=np.abs(rows["displacement"].to_numpy()).astype(np.float64), minlength=n
        )
        / index.sizes,
    }
    for cut in k:
        ideal_dcg = dcg_at_k(codes, n, ideal, relevance, k=cut)
        columns[f"overlap@{cut}"] = top_k_overlap(index, position_a, position_b, k=cut)
        columns[f"ndcg@{cut}_a"] = ndcg_ratio(
            dcg_at_k(codes, n, position_a, relevance, k=cut), ideal_dcg
        )
        columns[f"ndcg@{cut}_b"] = ndcg_ratio(
            dcg_at_k(codes, n, position_b, relevance, k=cut), ideal_dcg
        )
    table = pd.DataFrame(columns)
    table[schema.SERVED_AT] = pd.to_datetime(table[schema.SERVED_AT], utc=True)
    return table
