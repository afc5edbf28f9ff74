"""Population statistics: the randomization test against brute-force enumeration, the
bootstrap against its definition and a normal approximation, segments against subsets."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from rankaudit.compare.stats import bootstrap_means, paired_randomization_test


def _brute_force_p(differences: np.ndarray) -> float:
    """Two-sided sign-flip p-value by enumerating every assignment."""
    observed = abs(differences.mean())
    flips = [
        abs(np.mean(np.array(signs) * differences))
        for signs in itertools.product((1.0, -1.0), repeat=len(differences))
    ]
    return float(np.mean([f >= observed - 1e-12 for f in flips]))


def test_exact_p_value_equals_brute_force_enumeration() -> None:
    differences = np.array([0.30, 0.10, -0.05, 0.20, 0.15, -0.02, 0.25, 0.05])
    expected = _brute_force_p(differences)
    # 12 of the 256 assignments reach |sum| >= 0.98: e.g. flipping only negative entries.
    assert expected == pytest.approx(12 / 256)
    p = paired_randomization_test(differences, n_permutations=256)
    assert p[0, 0] == pytest.approx(expected, abs=1e-15)


def test_exact_p_value_with_ties_among_flipped_sums() -> None:
    # Equal magnitudes make many assignments hit the observed |sum| exactly.
    differences = np.array([1.0, 1.0, -1.0, 1.0, 1.0, 1.0])
    p = paired_randomization_test(differences, n_permutations=10_000)
    assert p[0] == pytest.approx(_brute_force_p(differences), abs=1e-15)


def test_undefined_entries_are_left_out_of_their_column() -> None:
    differences = np.array(
        [[0.3, np.nan], [0.1, 0.2], [-0.05, 0.1], [0.2, np.nan], [0.15, -0.3], [0.4, 0.25]]
    )
    p = paired_randomization_test(differences, n_permutations=10_000)
    assert p[0, 0] == pytest.approx(_brute_force_p(differences[:, 0]))
    assert p[0, 1] == pytest.approx(_brute_force_p(differences[~np.isnan(differences[:, 1]), 1]))
    assert np.isnan(paired_randomization_test(np.full(4, np.nan))[0, 0])


def test_monte_carlo_p_value_approaches_the_exact_one() -> None:
    rng = np.random.default_rng(4)
    differences = rng.normal(0.25, 1.0, 15)
    exact = _brute_force_p(differences)
    sampled = paired_randomization_test(differences, n_permutations=5000, seed=1)[0, 0]
    assert sampled == pytest.approx(exact, abs=0.02)
    # Same seed, same answer; never exactly 0.
    assert paired_randomization_test(differences, n_permutations=5000, seed=1)[0, 0] == sampled
    strong = paired_randomization_test(np.full(200, 0.5), n_permutations=999)[0, 0]
    assert strong == pytest.approx(1 / 1000)


def test_segment_p_values_equal_the_test_on_the_segment_alone() -> None:
    differences = np.array([0.3, 0.1, -0.05, 0.2, 0.15, -0.02, 0.25, 0.05, -0.1, 0.4])
    labels = np.array([0, 1, 0, 0, 1, 1, 0, 1, 0, 1])
    p = paired_randomization_test(differences, partitions=[labels], n_permutations=1024)
    assert p.shape == (3, 1)
    assert p[0, 0] == pytest.approx(_brute_force_p(differences))
    for segment in (0, 1):
        assert p[1 + segment, 0] == pytest.approx(_brute_force_p(differences[labels == segment]))


def test_bootstrap_mean_and_interval() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.4, 0.3, 3000)
    result = bootstrap_means(values, n_resamples=2000, confidence=0.95, seed=3)
    assert result.n.tolist() == [[3000]]
    assert result.mean[0, 0] == pytest.approx(values.mean())
    # The percentile interval of a mean is close to mean +- 1.96 standard errors.
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert result.ci_low[0, 0] == pytest.approx(values.mean() - half_width, abs=0.15 * half_width)
    assert result.ci_high[0, 0] == pytest.approx(values.mean() + half_width, abs=0.15 * half_width)
    again = bootstrap_means(values, n_resamples=2000, confidence=0.95, seed=3)
    assert again.ci_low.tolist() == result.ci_low.tolist()


def test_bootstrap_resamples_requests_with_replacement_by_definition() -> None:
    # Tiny case against a direct implementation with the same draws.
    values = np.array([[1.0, np.nan], [2.0, 5.0], [4.0, 7.0], [8.0, np.nan]])
    result = bootstrap_means(values, n_resamples=50, confidence=0.8, seed=9)
    rng = np.random.default_rng(9)
    draws = rng.integers(0, 4, size=(50, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample may miss column 2 entirely
        means = np.array([np.nanmean(values[d], axis=0) for d in draws])
    assert result.ci_low[0].tolist() == pytest.approx(np.nanquantile(means, 0.1, axis=0).tolist())
    assert result.ci_high[0].tolist() == pytest.approx(np.nanquantile(means, 0.9, axis=0).tolist())
    assert result.mean[0].tolist() == pytest.approx([3.75, 6.0])
    assert result.n[0].tolist() == [4, 2]


def test_bootstrap_segments_and_constant_columns() -> None:
    values = np.column_stack([np.arange(10, dtype=float), np.full(10, 2.0)])
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    result = bootstrap_means(values, partitions=[labels], n_resamples=200)
    assert result.mean[:, 0].tolist() == [4.5, 2.0, 7.0]
    assert result.n[:, 0].tolist() == [10, 5, 5]
    assert result.ci_low[:, 1].tolist() == [2.0, 2.0, 2.0]
    assert result.ci_high[:, 1].tolist() == [2.0, 2.0, 2.0]
    assert result.ci_low[1, 0] >= 0.0
    assert result.ci_high[1, 0] <= 4.0
