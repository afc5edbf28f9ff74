"""Shapley values of a request-level ranking quantity, features masked jointly over the list.

RankingSHAP (Heuss, de Rijke, Anand 2025): a coalition S scores every candidate of the request
with its features in S at their own values and the others at the request reference
(`rank.request_reference`: numeric mean, categorical mode), the same features masked for every
candidate; the quantity is read off the resulting order (score descending, ties by tweet id
ascending, so every coalition gives one strict order; the empty coalition ties every candidate
and falls back to the tweet-id order):

- `kendall`: Kendall's tau between the coalition's order and the ranker's own order (1 at the
  full coalition); the orders are strict, so tau-b = tau-a (`compare.ranking.kendall_tau_b`);
- `ndcg`: NDCG@k of the coalition's order on the request's relevance (engagement or graded
  gain, as `compare`); undefined for a request without a relevant candidate;
- `rbo`: rank-biased overlap (persistence `rbo_p`) of the coalition's order with a given other
  order, e.g. the other ranker's (`compare.ranking.rank_biased_overlap`).

The values sum to q(all features) - q(reference list) up to float rounding (<= 1e-9): every
sampled permutation telescopes (`rank.shapley_game`). Each coalition costs one model row per
candidate; a batch of permutations is scored in one `ranker.score` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rankaudit.attribution.permutation import players
from rankaudit.attribution.rank import (
    DEFAULT_RANK_SETTINGS,
    RankSettings,
    extra_columns,
    masked_frame,
    request_reference,
    shapley_game,
)
from rankaudit.compare.metrics import position_discount
from rankaudit.compare.ranking import GroupIndex, kendall_tau_b, rank_biased_overlap
from rankaudit.data import schema
from rankaudit.errors import AttributionError

__all__ = [
    "LISTWISE_QUANTITIES",
    "ListwiseExplanation",
    "ListwiseQuantity",
    "explain_listwise",
    "list_game",
    "strict_ranks",
]

ListwiseQuantity = Literal["kendall", "ndcg", "rbo"]
LISTWISE_QUANTITIES: tuple[str, ...] = get_args(ListwiseQuantity)


def strict_ranks(scores: NDArray[np.float64], ids: NDArray[Any]) -> NDArray[np.float64]:
    """1-based ranks of every row of `scores` [c, n]: score descending, ties by `ids`
    ascending (the convention of `compare.metrics.rank_within_groups`), as float64 [c, n]."""
    id_codes = pd.factorize(np.asarray(ids), sort=True)[0]
    earlier = id_codes[None, :] < id_codes[:, None]  # [a, b]: b's id sorts before a's
    out = np.empty(scores.shape, dtype=np.float64)
    for start in range(0, scores.shape[0], 64):
        s = scores[start : start + 64]
        higher = (s[:, None, :] > s[:, :, None]) | (
            (s[:, None, :] == s[:, :, None]) & earlier[None]
        )
        out[start : start + 64] = 1.0 + higher.sum(axis=2)
    return out


def _quantity(
    ranks: NDArray[np.float64],
    quantity: str,
    *,
    own: NDArray[np.float64],
    relevance: NDArray[np.float64] | None,
    target: NDArray[np.float64] | None,
    settings: RankSettings,
) -> NDArray[np.float64]:
    """The quantity of each coalition's order (`ranks` [c, n]): [c]."""
    c, n = ranks.shape
    codes = np.repeat(np.arange(c), n)
    index = GroupIndex.of(codes)
    if quantity == "kendall":
        return kendall_tau_b(index, -ranks.ravel(), np.tile(-own, c))
    if quantity == "rbo":
        if target is None:
            raise AttributionError("RBO needs the other ranker's scores of the request")
        return rank_biased_overlap(index, -ranks.ravel(), np.tile(-target, c), p=settings.rbo_p)
    if relevance is None:
        raise AttributionError("NDCG needs the request's relevance")
    ideal_ranks = np.sort(np.arange(1, n + 1))
    ideal_gain = np.sort(relevance)[::-1]
    inside = ideal_ranks <= settings.k
    ideal = float(np.sum(ideal_gain[inside] * position_discount(ideal_ranks[inside])))
    gains = np.where(ranks <= settings.k, relevance[None, :] * position_discount(ranks), 0.0)
    return np.asarray(gains.sum(axis=1) / ideal, dtype=np.float64)


@dataclass(frozen=True)
class ListwiseExplanation:
    """Shapley values of request-level quantities.

    `values`: one row per player (feature or group): `player`, then one column per explained
    quantity (its own units: tau, NDCG or RBO); `at_x` / `at_reference`: each quantity with
    every feature at its own values and with every feature at the request reference."""

    quantities: tuple[str, ...]
    players: tuple[str, ...]
    values: pd.DataFrame
    at_x: Mapping[str, float]
    at_reference: Mapping[str, float]
    settings: RankSettings

    def to_frame(self) -> pd.DataFrame:
        """The values, largest |first quantity| first (ties by player name)."""
        first = self.values[self.quantities[0]].abs().to_numpy()
        order = np.lexsort((self.values["player"].to_numpy(), -first))
        return self.values.iloc[order].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain values: quantities, k, exact, permutations, at_x, at_reference, change and one
        entry per player, ordered as `to_frame`."""
        return {
            "quantities": list(self.quantities),
            "k": self.settings.k,
            "exact": self.settings.exact,
            "permutations": 0 if self.settings.exact else 2 * self.settings.listwise_pairs,
            "at_x": dict(self.at_x),
            "at_reference": dict(self.at_reference),
            "change": {q: self.at_x[q] - self.at_reference[q] for q in self.quantities},
            "players": [
                {"player": str(r["player"]), **{q: float(r[q]) for q in self.quantities}}
                for r in self.to_frame().to_dict("records")
            ],
        }


def list_game(
    rankers: Sequence[Any],
    rows: pd.DataFrame,
    quantity: Any,
    *,
    groups: Mapping[str, Sequence[str]] | None,
    settings: RankSettings,
) -> tuple[tuple[str, ...], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Play the joint-masking game: `quantity(scores)` maps one score matrix [c, n] per ranker
    (in `rankers` order) to the coalitions' quantities [c, Q]. The players are the union of the
    rankers' features (in first-ranker order) or `groups`. Returns (players, phi [P, Q],
    empty [Q], full [Q])."""
    features = tuple(dict.fromkeys(f for r in rankers for f in r.feature_names))
    categorical = tuple(dict.fromkeys(f for r in rankers for f in r.categorical_features))
    names, membership = players(features, groups)
    rows = rows.reset_index(drop=True)
    n = len(rows)
    reference = request_reference(rows, features, categorical)
    extra = extra_columns(rankers, features)

    def value(coalitions: NDArray[np.bool_]) -> NDArray[np.float64]:
        keep = (coalitions[:, :, None] & membership[None]).any(axis=1)
        c = len(keep)
        frame = masked_frame(
            rows, np.tile(np.arange(n), c), np.repeat(keep, n, axis=0), features, reference,
            extra=extra,
        )  # fmt: skip
        scores = [np.asarray(r.score(frame), dtype=np.float64).reshape(c, n) for r in rankers]
        out: NDArray[np.float64] = quantity(scores)
        return out

    phi, empty, full = shapley_game(
        value, len(names), pairs=settings.listwise_pairs, seed=settings.seed, exact=settings.exact,
        rows_per_coalition=n,
    )  # fmt: skip
    return names, phi, empty, full


def explain_listwise(
    ranker: Any,
    rows: pd.DataFrame,
    *,
    quantities: Sequence[str] = ("kendall",),
    relevance: ArrayLike | None = None,
    other_scores: ArrayLike | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    settings: RankSettings = DEFAULT_RANK_SETTINGS,
) -> ListwiseExplanation:
    """Explain request-level `quantities` of `ranker` on the request `rows` (prepared
    candidates of one request): `kendall` needs nothing more, `ndcg` the per-row `relevance`
    (gain), `rbo` the `other_scores` whose order it is compared with. Raises AttributionError
    for an unknown quantity, a missing input, or NDCG of a request with no relevant candidate."""
    quantities = tuple(quantities)
    for q in quantities:
        if q not in LISTWISE_QUANTITIES:
            raise AttributionError(
                f"unknown listwise quantity {q!r}; valid: {', '.join(LISTWISE_QUANTITIES)}"
            )
    if not quantities:
        raise AttributionError("explain_listwise needs at least one quantity")
    rows = rows.reset_index(drop=True)
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()
    own = strict_ranks(np.asarray(ranker.score(rows), dtype=np.float64)[None], ids)[0]
    rel = None if relevance is None else np.asarray(relevance, dtype=np.float64)
    target = None
    if "ndcg" in quantities and (rel is None or not np.any(rel > 0)):
        raise AttributionError(
            "NDCG needs the request's relevance and at least one relevant candidate; "
            "this request has none: explain kendall or rbo instead"
        )
    if "rbo" in quantities:
        if other_scores is None:
            raise AttributionError("RBO needs the other ranker's scores of the request")
        target = strict_ranks(np.asarray(other_scores, dtype=np.float64)[None], ids)[0]

    def quantity(scores: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
        ranks = strict_ranks(scores[0], ids)
        return np.stack(
            [_quantity(ranks, q, own=own, relevance=rel, target=target, settings=settings)
             for q in quantities], axis=1,
        )  # fmt: skip

    names, phi, empty, full = list_game([ranker], rows, quantity, groups=groups, settings=settings)
    return ListwiseExplanation(
        quantities=quantities,
        players=names,
        values=pd.DataFrame(
            {"player": list(names), **{q: phi[:, j] for j, q in enumerate(quantities)}}
        ),
        at_x={q: float(full[j]) for j, q in enumerate(quantities)},
        at_reference={q: float(empty[j]) for j, q in enumerate(quantities)},
        settings=settings,
    )
