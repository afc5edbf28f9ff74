"""Exact head shares of score gaps, and which heads flip pairwise orders between two rankers.

A multi-head ranker scores s = sum_h w_h p_h, so the gap between two tweets splits exactly into
one share per head, w_h (p_h(a) - p_h(b)); no model call beyond the head probabilities. For
two rankers over the same heads the change of a pair's gap, g_B - g_A, splits the same way,
head by head; a pair the two rankers order differently is credited to the heads whose own
share changed sign in the direction of the flip ("flipping heads") and to the head with the
largest change in that direction ("main head").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.listwise import strict_ranks
from rankaudit.data import schema
from rankaudit.errors import AttributionError, NotFoundError

__all__ = ["HeadFlips", "head_contributions", "head_flips", "head_gap_shares"]


def _weights(ranker: Any) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    heads = tuple(ranker.heads)
    if not heads:
        raise AttributionError(
            f"model {ranker.name!r} has no engagement heads; head shares need a multi-head ranker"
        )
    return heads, np.array([ranker.head_weights[h] for h in heads], dtype=np.float64)


def head_contributions(ranker: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """w_h * p_h for every row (index of `rows`) and head (columns, the ranker's order)."""
    heads, weights = _weights(ranker)
    probabilities = ranker.head_scores(rows)[list(heads)].to_numpy(dtype=np.float64)
    return pd.DataFrame(probabilities * weights, index=rows.index, columns=list(heads))


def head_gap_shares(ranker: Any, rows: pd.DataFrame, tweet: str, vs_tweet: str) -> pd.DataFrame:
    """One row per head: `head`, `weight`, `p_tweet`, `p_vs`, `share` = weight * (p_tweet -
    p_vs); the shares sum to the score gap of `tweet` over `vs_tweet` (sum_h w_h p_h) up to
    float rounding. Rows with the largest |share| first (ties by head). Raises NotFoundError
    for a tweet outside `rows`."""
    heads, weights = _weights(ranker)
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()
    picked = []
    for name in (tweet, vs_tweet):
        where = np.flatnonzero(ids == name)
        if len(where) == 0:
            raise NotFoundError(f"tweet {name!r} is not a candidate of the request")
        picked.append(int(where[0]))
    probabilities = ranker.head_scores(rows.iloc[picked])[list(heads)].to_numpy(dtype=np.float64)
    out = pd.DataFrame({
        "head": list(heads), "weight": weights, "p_tweet": probabilities[0],
        "p_vs": probabilities[1], "share": weights * (probabilities[0] - probabilities[1]),
    })  # fmt: skip
    order = np.lexsort((out["head"].to_numpy(), -out["share"].abs().to_numpy()))
    return out.iloc[order].reset_index(drop=True)


@dataclass(frozen=True)
class HeadFlips:
    """Pairs ordered differently by ranker a and ranker b, and the heads that flipped them.

    `pairs`: one row per discordant pair (`tweet_a` above `tweet_b` under ranker a), `gap_a`,
    `gap_b` (score gaps of a over b under each ranker), then one column per head with its share
    of the change gap_b - gap_a (they sum to it), and `main_head`; `counts`: per head, the
    pairs it flipped by its own sign (`flipped`) and the pairs it is the main head of
    (`main`); `pairs_total`: candidate pairs of the request."""

    pairs: pd.DataFrame
    counts: pd.DataFrame
    pairs_total: int

    def to_dict(self) -> dict[str, Any]:
        """Plain values: pairs_total, discordant, counts per head."""
        return {
            "pairs_total": self.pairs_total,
            "discordant": len(self.pairs),
            "heads": [
                {"head": str(r["head"]), "flipped": int(r["flipped"]), "main": int(r["main"])}
                for r in self.counts.to_dict("records")
            ],
        }


def head_flips(ranker_a: Any, ranker_b: Any, rows: pd.DataFrame) -> HeadFlips:
    """Which heads flip which pairwise orders of the request `rows` between `ranker_a` and
    `ranker_b` (both multi-head, over the same heads; weights may differ). Orders break
    score ties by tweet id. Raises AttributionError when the heads differ."""
    heads_a, _ = _weights(ranker_a)
    heads_b, _ = _weights(ranker_b)
    if set(heads_a) != set(heads_b):
        raise AttributionError(
            f"models {ranker_a.name!r} and {ranker_b.name!r} have different heads "
            f"({', '.join(heads_a)} vs {', '.join(heads_b)}); head flips need the same heads"
        )
    heads = list(heads_a)
    rows = rows.reset_index(drop=True)
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()
    part_a = head_contributions(ranker_a, rows)[heads].to_numpy()
    part_b = head_contributions(ranker_b, rows)[heads].to_numpy()
    rank_a = strict_ranks(part_a.sum(axis=1)[None], ids)[0]
    rank_b = strict_ranks(part_b.sum(axis=1)[None], ids)[0]
    n = len(rows)
    first, second = np.triu_indices(n, k=1)
    # Orient every pair so that ranker a puts `upper` above `lower`.
    swap = rank_a[first] > rank_a[second]
    upper = np.where(swap, second, first)
    lower = np.where(swap, first, second)
    discordant = rank_b[upper] > rank_b[lower]
    upper, lower = upper[discordant], lower[discordant]
    share_a = part_a[upper] - part_a[lower]
    share_b = part_b[upper] - part_b[lower]
    change = share_b - share_a  # [pairs, heads]; the flip moves the gap down
    flipped = (share_a > 0) & (share_b < 0)
    main = np.argmin(change, axis=1) if len(change) else np.zeros(0, dtype=np.int64)
    pairs = pd.DataFrame({
        "tweet_a": ids[upper], "tweet_b": ids[lower],
        "gap_a": share_a.sum(axis=1), "gap_b": share_b.sum(axis=1),
        **{h: change[:, j] for j, h in enumerate(heads)},
        "main_head": np.array(heads, dtype=object)[main],
    })  # fmt: skip
    counts = pd.DataFrame({
        "head": heads, "flipped": flipped.sum(axis=0).astype(np.int64),
        "main": np.bincount(main, minlength=len(heads)).astype(np.int64),
    })  # fmt: skip
    return HeadFlips(pairs=pairs, counts=counts, pairs_total=math.comb(n, 2))
