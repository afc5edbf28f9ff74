"""Agreement kernels against independent references: scipy for the rank correlations, values
worked by hand from the definition for rank-biased overlap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from rankaudit.compare.ranking import (
    kendall_tau_b,
    rank_biased_overlap,
    rbo,
    spearman_rho,
    tied_ranks_within_groups,
    top_k_overlap,
)


def _random_groups(seed: int, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 40, 120)
    groups = np.repeat([f"r{i:04d}" for i in range(len(sizes))], sizes)
    if ties:
        # Few distinct values: many ties in each ranker, some shared between them.
        x = rng.integers(0, 5, len(groups)).astype(float)
        y = rng.integers(0, 4, len(groups)).astype(float)
        y[::5] = x[::5]
    else:
        x = rng.normal(size=len(groups))
        y = 0.5 * x + rng.normal(size=len(groups))
    return groups, x, y


@pytest.mark.parametrize("ties", [False, True], ids=["no ties", "ties"])
def test_kendall_and_spearman_match_scipy_per_group(ties: bool) -> None:
    groups, x, y = _random_groups(3, ties)
    tau = kendall_tau_b(groups, x, y)
    rho = spearman_rho(groups, x, y)
    for i, request in enumerate(sorted(set(groups))):
        mask = groups == request
        expected_tau = kendalltau(x[mask], y[mask], variant="b").statistic
        if np.isnan(expected_tau):
            assert np.isnan(tau[i])
        else:
            assert tau[i] == pytest.approx(expected_tau, abs=1e-12)
        if np.ptp(x[mask]) == 0 or np.ptp(y[mask]) == 0:
            assert np.isnan(rho[i])
        else:
            assert rho[i] == pytest.approx(spearmanr(x[mask], y[mask]).statistic, abs=1e-12)


def test_rank_correlations_of_identical_reversed_and_constant_lists() -> None:
    groups = ["a"] * 5 + ["b"] * 5 + ["c"] * 3
    x = np.array([5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 1, 1, 1], dtype=float)
    y = np.array([5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 3, 2, 1], dtype=float)
    assert kendall_tau_b(groups, x, y)[:2].tolist() == [1.0, -1.0]
    assert spearman_rho(groups, x, y)[:2].tolist() == [1.0, -1.0]
    # A ranker that ties every candidate leaves both undefined, as scipy does.
    assert np.isnan(kendall_tau_b(groups, x, y)[2])
    assert np.isnan(spearman_rho(groups, x, y)[2])


def test_tied_ranks_follow_scipy_rankdata_on_descending_scores() -> None:
    from scipy.stats import rankdata

    groups, x, _ = _random_groups(5, ties=True)
    average = tied_ranks_within_groups(groups, x)
    first = tied_ranks_within_groups(groups, x, method="min")
    for request in sorted(set(groups))[:20]:
        mask = groups == request
        assert average[mask].tolist() == rankdata(-x[mask], method="average").tolist()
        assert first[mask].tolist() == rankdata(-x[mask], method="min").tolist()


P = 0.9


def _ext(agreements: list[float], p: float = P) -> float:
    """RBO_ext from the definition: A_k p^k + (1 - p)/p * sum_d A_d p^d."""
    k = len(agreements)
    return agreements[-1] * p**k + (1 - p) / p * sum(a * p**d for d, a in enumerate(agreements, 1))


# Each case: two rankings, then the agreements A_1..A_k worked out by hand.
RBO_CASES = {
    "identical": (["a", "b", "c", "d"], ["a", "b", "c", "d"], [1, 1, 1, 1]),
    # depth 1: {a} vs {b} -> 0; depth 2: {a,b} vs {b,a} -> 2/2; then 1.
    "top pair swapped": (["a", "b", "c", "d"], ["b", "a", "c", "d"], [0, 1, 1, 1]),
    "reversed": (["a", "b", "c", "d"], ["d", "c", "b", "a"], [0, 0, 2 / 3, 1]),
    # Partial overlap: only a and b are shared. d1: a|a = 1; d2: {a,b}|{a,x} = 1/2;
    # d3: {a,b,c}|{a,x,b} = 2/3.
    "partial overlap": (["a", "b", "c"], ["a", "x", "b"], [1, 1 / 2, 2 / 3]),
    "disjoint": (["a", "b"], ["x", "y"], [0, 0]),
    # Ties: {a,b} enter the first ranking's prefix together at depth 1, so |S_1| = 2, |L_1| = 1,
    # overlap 1 -> A_1 = 1 / 1.5; depth 2: {a,b} both -> 1; depth 3 -> 1.
    "tie at the top": ([{"a", "b"}, "c"], ["a", "b", "c"], [2 / 3, 1, 1]),
    "same tie in both": ([{"a", "b"}, "c"], [("b", "a"), "c"], [1, 1, 1]),
    # Tie across the lists and partial overlap: S = a, {b, c}, d; L = c, x, a, b.
    # d1: {a}|{c} -> 0; d2: {a,b,c}|{c,x} -> overlap {c}: 1 / 2.5;
    # d3: {a,b,c}|{c,x,a} -> 2 / 3; d4: {a,b,c,d}|{c,x,a,b} -> 3 / 4.
    "ties and partial overlap": (
        ["a", {"b", "c"}, "d"],
        ["c", "x", "a", "b"],
        [0, 0.4, 2 / 3, 0.75],
    ),
}


@pytest.mark.parametrize("case", list(RBO_CASES))
def test_rbo_matches_hand_worked_values(case: str) -> None:
    first, second, agreements = RBO_CASES[case]
    assert rbo(first, second, p=P) == pytest.approx(_ext(agreements), abs=1e-12)
    assert rbo(second, first, p=P) == pytest.approx(_ext(agreements), abs=1e-12)


def test_rbo_numbers_worked_by_hand() -> None:
    # The tie case spelled out: 0.9^3 + 0.1/0.9 * (2/3 * 0.9 + 0.81 + 0.729).
    assert rbo([{"a", "b"}, "c"], ["a", "b", "c"], p=0.9) == pytest.approx(
        0.729 + 0.1 * (2 / 3 + 0.9 + 0.81), abs=1e-12
    )
    # Reversed three items at p = 0.5: A = (0, 1/2, 1) -> 0.125 + 1 * (0 + 1/2 * 0.25 + 0.125).
    assert rbo(["a", "b", "c"], ["c", "b", "a"], p=0.5) == pytest.approx(0.375, abs=1e-12)


def test_vectorised_rbo_equals_the_list_form_on_tied_scores() -> None:
    groups, x, y = _random_groups(7, ties=True)
    ours = rank_biased_overlap(groups, x, y, p=0.8)
    for i, request in enumerate(sorted(set(groups))):
        mask = np.flatnonzero(groups == request)

        def blocks(scores: np.ndarray, rows: np.ndarray = mask) -> list[set[int]]:
            values = sorted(set(scores[rows]), reverse=True)
            return [{int(r) for r in rows if scores[r] == v} for v in values]

        assert ours[i] == pytest.approx(rbo(blocks(x), blocks(y), p=0.8), abs=1e-12)


def test_rbo_is_one_for_identical_tied_orderings_and_symmetric() -> None:
    groups, x, y = _random_groups(11, ties=True)
    assert np.allclose(rank_biased_overlap(groups, x, x), 1.0)
    assert np.allclose(rank_biased_overlap(groups, x, y), rank_biased_overlap(groups, y, x))
    values = rank_biased_overlap(groups, x, y)
    assert ((values >= 0) & (values <= 1)).all()


def test_rbo_without_ties_equals_brute_force_definition() -> None:
    items = list("abcdef")
    for permutation in itertools.islice(itertools.permutations(items), 0, 720, 37):
        expected = _ext(
            [len(set(items[:d]) & set(permutation[:d])) / d for d in range(1, len(items) + 1)]
        )
        assert rbo(items, list(permutation)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("p", [0, 1, -0.1, 1.5, float("nan"), True])
def test_rbo_rejects_p_outside_the_open_unit_interval(p: float) -> None:
    with pytest.raises(ValueError, match=r"The 'p' parameter of rbo must be a float in \(0, 1\)"):
        rbo(["a"], ["a"], p=p)
    with pytest.raises(ValueError, match="rank_biased_overlap"):
        rank_biased_overlap(["r"], [1.0], [1.0], p=p)


def test_rbo_rejects_lists_of_different_lengths_and_repeated_items() -> None:
    with pytest.raises(ValueError, match="same, non-zero number of items"):
        rbo(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="appears twice"):
        rbo(["a", "a"], ["a", "b"])


def test_top_k_overlap_counts_shared_tweets_and_handles_short_lists() -> None:
    groups = ["r1"] * 4 + ["r2"] * 2
    position_a = [1, 2, 3, 4, 1, 2]
    position_b = [2, 1, 4, 3, 2, 1]
    assert top_k_overlap(groups, position_a, position_b, k=1).tolist() == [0.0, 0.0]
    assert top_k_overlap(groups, position_a, position_b, k=2).tolist() == [1.0, 1.0]
    assert top_k_overlap(groups, position_a, position_b, k=3).tolist() == [2 / 3, 1.0]
    with pytest.raises(ValueError, match=r"The 'k' parameter of top_k_overlap must be an int >= 1"):
        top_k_overlap(groups, position_a, position_b, k=0)
