"""Rank, top-k and exposure Shapley values of one tweet: efficiency for every tweet, equality with
a brute-force 2^F enumeration on linear rankers, groups, settings and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution.rank import (
    QUANTITIES,
    RankSettings,
    explain_rank,
    request_reference,
    shapley_game,
)
from rankaudit.errors import AttributionError, NotFoundError, ParameterError
from tests.attribution.rank_models import (
    ToyLinear,
    brute_force_shapley,
    masked,
    request,
    strict_order_ranks,
)

NUMERIC = ("a", "b", "c", "d", "e")
LINEAR = ToyLinear("lin", NUMERIC, (1.5, -2.0, 0.7, 0.3, 1.1))
WITH_CLIENT = ToyLinear(
    "cat", NUMERIC[:3], (1.0, 0.5, -1.5), categorical=("client",),
    shifts={"android": 0.0, "ios": 1.2, "web": -0.8},
)  # fmt: skip


def _brute_rank(ranker: ToyLinear, rows: pd.DataFrame, tweet: str, settings: RankSettings) -> dict[str, np.ndarray]:  # fmt: skip
    """Independent reference: each coalition's rank by a Python sort, Shapley by subsets."""
    features = list(ranker.feature_names)
    reference = request_reference(rows, features, ranker.categorical_features)
    scores = ranker.score(rows)
    i = int(np.flatnonzero(rows["tweet_id"] == tweet)[0])
    ids = list(rows["tweet_id"])

    def position(keep: frozenset[int]) -> float:
        own = ranker.score(masked(rows.iloc[[i]], features, keep, reference))[0]
        mixed = scores.copy()
        mixed[i] = own
        return float(strict_order_ranks(mixed, ids)[i])

    def quantity(name: str) -> callable:  # type: ignore[valid-type]
        def value(keep: frozenset[int]) -> float:
            r = position(keep)
            if name == "rank":
                return r
            if name == "topk":
                return float(r <= settings.k)
            return 1.0 / math.log2(1.0 + r)

        return value

    return {q: brute_force_shapley(quantity(q), len(features)) for q in QUANTITIES}


@pytest.mark.parametrize("ranker", [LINEAR, WITH_CLIENT], ids=["numeric", "categorical"])
def test_exact_mode_equals_brute_force_enumeration(ranker: ToyLinear) -> None:
    rows = request(12, ranker.numeric, seed=3, client=bool(ranker.categorical))
    settings = RankSettings(exact=True, k=4)
    for tweet in ("t000", "t005", "t011"):
        result = explain_rank(ranker, rows, tweet, settings=settings)
        truth = _brute_rank(ranker, rows, tweet, settings)
        for q in QUANTITIES:
            np.testing.assert_allclose(result.values[q].to_numpy(), truth[q], atol=1e-9, rtol=0)


def test_rank_values_sum_to_the_rank_change_for_every_tweet() -> None:
    rows = request(25, NUMERIC, seed=7)
    settings = RankSettings(pairs=3, seed=1, k=5)
    for tweet in rows["tweet_id"]:
        result = explain_rank(LINEAR, rows, tweet, settings=settings)
        for q in QUANTITIES:
            change = result.at_x[q] - result.at_reference[q]
            assert math.fsum(result.values[q]) == pytest.approx(change, abs=1e-12)
        # The tweet's own features give its actual rank among the fixed scores.
        actual = strict_order_ranks(LINEAR.score(rows), list(rows["tweet_id"]))
        assert result.at_x["rank"] == actual[int(tweet[1:])]


def test_sampled_values_approach_the_exact_ones_and_are_seeded() -> None:
    rows = request(20, NUMERIC, seed=11)
    exact = explain_rank(LINEAR, rows, "t004", settings=RankSettings(exact=True))
    sampled = explain_rank(LINEAR, rows, "t004", settings=RankSettings(pairs=200, seed=5))
    again = explain_rank(LINEAR, rows, "t004", settings=RankSettings(pairs=200, seed=5))
    pd.testing.assert_frame_equal(sampled.values, again.values)
    change = abs(exact.at_x["rank"] - exact.at_reference["rank"])
    error = np.abs(sampled.values["rank"] - exact.values["rank"]).max()
    assert error < 0.1 * max(change, 1.0)


def test_groups_play_as_one_player_and_single_groups_match_features() -> None:
    rows = request(15, NUMERIC, seed=2)
    settings = RankSettings(exact=True)
    grouped = explain_rank(LINEAR, rows, "t003", groups={"ab": ["a", "b"], "rest": ["c", "d", "e"]}, settings=settings)  # fmt: skip
    assert grouped.players == ("ab", "rest")
    # Two players: Shapley of a 2-player game by hand.
    features = list(LINEAR.feature_names)
    reference = request_reference(rows, features, ())
    scores = LINEAR.score(rows)

    def rank(keep: frozenset[int]) -> float:
        mixed = scores.copy()
        mixed[3] = LINEAR.score(masked(rows.iloc[[3]], features, keep, reference))[0]
        return float(strict_order_ranks(mixed, list(rows["tweet_id"]))[3])

    none, ab, rest, both = rank(frozenset()), rank(frozenset({0, 1})), rank(frozenset({2, 3, 4})), rank(frozenset(range(5)))  # fmt: skip
    expected_ab = 0.5 * (ab - none) + 0.5 * (both - rest)
    assert grouped.values["rank"].iloc[0] == pytest.approx(expected_ab, abs=1e-12)
    single = explain_rank(LINEAR, rows, "t003", groups={f: [f] for f in NUMERIC}, settings=settings)
    plain = explain_rank(LINEAR, rows, "t003", settings=settings)
    np.testing.assert_allclose(single.values["rank"], plain.values["rank"], atol=1e-12)


def test_geometric_exposure_uses_the_persistence() -> None:
    rows = request(10, NUMERIC, seed=4)
    settings = RankSettings(exact=True, position_model="geometric", persistence=0.5)
    result = explain_rank(LINEAR, rows, "t002", settings=settings)
    assert result.at_x["exposure"] == pytest.approx(0.5 ** (result.at_x["rank"] - 1))


def test_shapley_game_telescopes_on_a_known_game() -> None:
    # v(S) = (sum of weights in S)^2: Shapley values are known in closed form for 2 players.
    weights = np.array([1.0, 2.0])

    def value(masks: np.ndarray) -> np.ndarray:
        return ((masks * weights).sum(axis=1) ** 2)[:, None]

    phi, empty, full = shapley_game(value, 2, pairs=1, seed=0, exact=False)
    # One antithetic pair over 2 players covers both orders: the exact values.
    np.testing.assert_allclose(phi[:, 0], [0.5 * 1 + 0.5 * (9 - 4), 0.5 * 4 + 0.5 * (9 - 1)])
    assert empty[0] == 0.0
    assert full[0] == 9.0


def test_errors_name_the_fix() -> None:
    rows = request(5, NUMERIC, seed=1)
    with pytest.raises(NotFoundError, match="t999"):
        explain_rank(LINEAR, rows, "t999")
    with pytest.raises(AttributionError, match="in no group"):
        explain_rank(LINEAR, rows, "t001", groups={"ab": ["a", "b"]})
    with pytest.raises(ParameterError, match="'pairs'"):
        RankSettings(pairs=0)
    wide = ToyLinear("wide", tuple(f"f{i}" for i in range(11)), tuple([1.0] * 11))
    with pytest.raises(ParameterError, match="at most 10 players"):
        explain_rank(
            wide, request(5, wide.numeric, seed=1), "t001", settings=RankSettings(exact=True)
        )


def test_a_given_reference_replaces_the_request_one() -> None:
    rows = request(10, NUMERIC, seed=12)
    reference = {name: 0.0 for name in NUMERIC}
    result = explain_rank(
        LINEAR, rows, "t006", settings=RankSettings(exact=True), reference=reference
    )
    mixed = LINEAR.score(rows)
    mixed[6] = 0.0  # every feature at 0: the linear score without intercept is 0
    assert result.at_reference["rank"] == strict_order_ranks(mixed, list(rows["tweet_id"]))[6]
