"""Listwise Shapley values (joint masking): equality with brute-force enumeration using scipy's
Kendall tau and a hand-written NDCG / RBO, efficiency within 1e-9, and the disagreement game."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau

from rankaudit.attribution.disagreement import explain_disagreement
from rankaudit.attribution.listwise import explain_listwise, strict_ranks
from rankaudit.attribution.rank import RankSettings, request_reference
from rankaudit.compare.ranking import rbo
from rankaudit.errors import AttributionError
from tests.attribution.rank_models import (
    ToyLinear,
    brute_force_shapley,
    masked,
    request,
    strict_order_ranks,
)

NUMERIC = ("a", "b", "c", "d")
LINEAR = ToyLinear("lin", NUMERIC, (1.5, -2.0, 0.7, 0.3))
OTHER = ToyLinear("other", NUMERIC, (0.2, -0.5, 1.8, 1.0))
K = 4


def _ndcg(ranks: np.ndarray, gains: np.ndarray) -> float:
    def dcg(r: np.ndarray) -> float:
        return sum(g / math.log2(1 + p) for g, p in zip(gains, r, strict=True) if p <= K)

    ideal = sorted(gains, reverse=True)[:K]
    return dcg(ranks) / sum(g / math.log2(2 + j) for j, g in enumerate(ideal))


def _order(ranks: np.ndarray, ids: list[str]) -> list[str]:
    return [ids[a] for a in np.argsort(ranks)]


def test_exact_listwise_equals_brute_force_enumeration() -> None:
    rows = request(9, NUMERIC, seed=5)
    ids = list(rows["tweet_id"])
    features = list(NUMERIC)
    reference = request_reference(rows, features, ())
    own = strict_order_ranks(LINEAR.score(rows), ids)
    other = strict_order_ranks(OTHER.score(rows), ids)
    gains = rows["label"].to_numpy()

    def ranks(keep: frozenset[int]) -> np.ndarray:
        return strict_order_ranks(LINEAR.score(masked(rows, features, keep, reference)), ids)

    truth = {
        "kendall": brute_force_shapley(lambda s: kendalltau(ranks(s), own)[0], 4),
        "ndcg": brute_force_shapley(lambda s: _ndcg(ranks(s), gains), 4),
        "rbo": brute_force_shapley(
            lambda s: rbo(_order(ranks(s), ids), _order(other, ids), p=0.9), 4
        ),
    }
    result = explain_listwise(
        LINEAR, rows, quantities=("kendall", "ndcg", "rbo"), relevance=gains,
        other_scores=OTHER.score(rows), settings=RankSettings(exact=True, k=K),
    )  # fmt: skip
    for q, expected in truth.items():
        np.testing.assert_allclose(result.values[q].to_numpy(), expected, atol=1e-9, rtol=0)
    assert result.at_x["kendall"] == pytest.approx(1.0)


def test_sampled_listwise_is_efficient_within_1e_9() -> None:
    rows = request(40, NUMERIC, seed=8)
    result = explain_listwise(
        LINEAR, rows, quantities=("kendall", "ndcg", "rbo"), relevance=rows["label"],
        other_scores=OTHER.score(rows), groups={"ab": ["a", "b"], "c": ["c"], "d": ["d"]},
        settings=RankSettings(listwise_pairs=5, seed=3, k=K),
    )  # fmt: skip
    assert result.players == ("ab", "c", "d")
    for q in result.quantities:
        change = result.at_x[q] - result.at_reference[q]
        assert abs(math.fsum(result.values[q]) - change) <= 1e-9


def test_strict_ranks_match_the_python_sort_with_ties() -> None:
    scores = np.array([[1.0, 2.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    ids = np.array(["t3", "t1", "t0", "t2"])
    np.testing.assert_array_equal(strict_ranks(scores, ids), [[3, 2, 1, 4], [4, 2, 1, 3]])


def test_disagreement_sums_to_the_discordant_share_and_matches_brute_force() -> None:
    rows = request(8, NUMERIC, seed=9)
    ids = list(rows["tweet_id"])
    features = list(NUMERIC)
    reference = request_reference(rows, features, ())

    def discordance(keep: frozenset[int]) -> float:
        frame = masked(rows, features, keep, reference)
        tau = kendalltau(strict_order_ranks(LINEAR.score(frame), ids),
                         strict_order_ranks(OTHER.score(frame), ids))[0]  # fmt: skip
        return (1.0 - tau) / 2.0

    result = explain_disagreement(LINEAR, OTHER, rows, settings=RankSettings(exact=True))
    truth = dict(zip(features, brute_force_shapley(discordance, 4), strict=True))
    for row in result.values.itertuples(index=False):
        assert row.discordance == pytest.approx(truth[row.player], abs=1e-9)
    assert result.observed == pytest.approx(discordance(frozenset(range(4))))
    assert math.fsum(result.values["discordance"]) == pytest.approx(result.observed, abs=1e-9)
    assert result.top(1) == [result.values["player"].iloc[0]]
    assert result.line().startswith(f"disagreement {result.observed:.0%} of pairs")


def test_listwise_errors() -> None:
    rows = request(5, NUMERIC, seed=1)
    with pytest.raises(AttributionError, match="valid: kendall, ndcg, rbo"):
        explain_listwise(LINEAR, rows, quantities=("tau",))
    with pytest.raises(AttributionError, match="relevant candidate"):
        explain_listwise(LINEAR, rows, quantities=("ndcg",), relevance=np.zeros(5))
    with pytest.raises(AttributionError, match="other ranker"):
        explain_listwise(LINEAR, rows, quantities=("rbo",))
