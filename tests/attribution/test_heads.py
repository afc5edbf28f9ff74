"""Head shares of a score gap (exact on a two-head model) and head flips between two rankers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankaudit.attribution.heads import head_flips, head_gap_shares
from rankaudit.errors import AttributionError, NotFoundError
from tests.attribution.rank_models import ToyLinear, request, strict_order_ranks

NUMERIC = ("a", "b", "c")
TWO_HEADS = ToyLinear(
    "a", NUMERIC, (0.0, 0.0, 0.0), head_w={"fav": (1.0, 0.2, 0.0), "reply": (0.0, -0.5, 1.0)},
    head_weights={"fav": 0.5, "reply": 13.5},
)  # fmt: skip
REWEIGHTED = ToyLinear(
    "b", NUMERIC, (0.0, 0.0, 0.0), head_w={"fav": (1.0, 0.2, 0.0), "reply": (0.0, -0.5, 1.0)},
    head_weights={"fav": 20.0, "reply": 0.1},
)  # fmt: skip


def test_shares_sum_to_the_score_gap_on_a_two_head_model() -> None:
    rows = request(10, NUMERIC, seed=2)
    scores = TWO_HEADS.score(rows)
    shares = head_gap_shares(TWO_HEADS, rows, "t001", "t007")
    assert math.fsum(shares["share"]) == pytest.approx(scores[1] - scores[7], abs=1e-12)
    probs = TWO_HEADS.head_scores(rows)
    reply = shares.set_index("head").loc["reply"]
    assert reply["share"] == pytest.approx(13.5 * (probs["reply"][1] - probs["reply"][7]))
    assert abs(shares["share"].iloc[0]) >= abs(shares["share"].iloc[1])


def test_head_flips_count_the_discordant_pairs() -> None:
    rows = request(12, NUMERIC, seed=6)
    ids = list(rows["tweet_id"])
    flips = head_flips(TWO_HEADS, REWEIGHTED, rows)
    ra = strict_order_ranks(TWO_HEADS.score(rows), ids)
    rb = strict_order_ranks(REWEIGHTED.score(rows), ids)
    discordant = sum(
        (ra[i] - ra[j]) * (rb[i] - rb[j]) < 0 for i in range(12) for j in range(i + 1, 12)
    )
    assert len(flips.pairs) == discordant > 0
    assert flips.pairs_total == 66
    # Per pair the head changes sum to the change of the gap; every flip lowers the gap.
    change = flips.pairs[["fav", "reply"]].sum(axis=1)
    np.testing.assert_allclose(change, flips.pairs["gap_b"] - flips.pairs["gap_a"], atol=1e-12)
    assert (flips.pairs["gap_a"] > 0).all()
    assert (flips.pairs["gap_b"] < 0).all()
    assert int(flips.counts["main"].sum()) == discordant
    # Only weights differ, so no head's own share changes sign: no "flipped" head.
    assert int(flips.counts["flipped"].sum()) == 0
    assert flips.to_dict()["discordant"] == discordant


def test_head_errors() -> None:
    rows = request(4, NUMERIC, seed=1)
    single = ToyLinear("s", NUMERIC, (1.0, 1.0, 1.0))
    with pytest.raises(AttributionError, match="no engagement heads"):
        head_gap_shares(single, rows, "t000", "t001")
    with pytest.raises(NotFoundError, match="t009"):
        head_gap_shares(TWO_HEADS, rows, "t000", "t009")
    other = ToyLinear(
        "o", NUMERIC, (0.0,) * 3, head_w={"fav": (1.0, 0, 0)}, head_weights={"fav": 1.0}
    )
    with pytest.raises(AttributionError, match="different heads"):
        head_flips(TWO_HEADS, other, rows)
