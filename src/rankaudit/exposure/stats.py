"""Intervals and tests for the exposure audit, resampling viewers.

- Paired bootstrap: `n_resamples` resamples of the viewers, drawn with replacement; each
  resample sums both orderings' per-viewer totals with the same weights (so a and b stay
  paired) and recomputes every ratio (`rankaudit.exposure.metrics.ratios`). Percentile interval
  at `confidence`. Draws as in `rankaudit.compare.stats`: a resample is a count per viewer.
- Permutation test between two groups g and h of one grouping: under the null hypothesis the
  two groups' per-viewer totals (reach and exposure under both orderings) are exchangeable
  within each viewer, so each viewer's pair is swapped with probability 1/2; the statistic is
  amplification(g) - amplification(h), the two-sided p-value (1 + hits) / (1 + draws) where a
  hit is a |statistic| at least the observed one (relative tolerance 1e-9).

Random draws come from `numpy.random.default_rng(seed)`, so results repeat exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rankaudit.exposure.metrics import QUANTITIES, ratios

__all__ = [
    "RatioIntervals",
    "bootstrap_ratios",
    "permutation_test",
    "permutation_tests",
    "resample_counts",
]

#: Resamples materialised at once.
_CHUNK = 256
_RTOL = 1e-9


@dataclass(frozen=True)
class RatioIntervals:
    """Point values and percentile intervals of every ratio `ratios` returns: `point[name]`,
    `low[name]`, `high[name]` (per group, or a scalar array for "disparity")."""

    point: dict[str, NDArray[np.float64]]
    low: dict[str, NDArray[np.float64]]
    high: dict[str, NDArray[np.float64]]


def resample_counts(rng: np.random.Generator, rows: int, n: int) -> NDArray[np.float64]:
    """(rows x n) bootstrap weights: how often each of n units is drawn in each resample."""
    draws = rng.integers(0, n, size=(rows, n))
    offsets = (np.arange(rows, dtype=np.int64) * n)[:, None]
    return (
        np.bincount((draws + offsets).ravel(), minlength=rows * n)
        .reshape(rows, n)
        .astype(np.float64)
    )


def bootstrap_ratios(
    values: NDArray[np.float64],
    n_groups: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RatioIntervals:
    """Return the ratios of the per-viewer totals `values` (n_viewers x 4 * n_groups) with
    paired-bootstrap percentile intervals over viewers."""
    point = ratios(values.sum(axis=0), n_groups)
    n = values.shape[0]
    draws: dict[str, list[NDArray[np.float64]]] = {name: [] for name in point}
    if n and n_resamples > 0:
        rng = np.random.default_rng(seed)
        for first in range(0, n_resamples, _CHUNK):
            weights = resample_counts(rng, min(_CHUNK, n_resamples - first), n)
            for name, value in ratios(weights @ values, n_groups).items():
                draws[name].append(value)
    alpha = (1.0 - confidence) / 2.0
    low: dict[str, NDArray[np.float64]] = {}
    high: dict[str, NDArray[np.float64]] = {}
    for name, value in point.items():
        if not draws[name]:
            low[name] = np.full_like(value, np.nan)
            high[name] = np.full_like(value, np.nan)
            continue
        stacked = np.concatenate(draws[name], axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: a group never reached
            low[name] = np.nanquantile(stacked, alpha, axis=0)
            high[name] = np.nanquantile(stacked, 1.0 - alpha, axis=0)
    return RatioIntervals(point=point, low=low, high=high)


def _pair(values: NDArray[np.float64], n_groups: int, g: int, h: int) -> NDArray[np.float64]:
    """(n_viewers, 2, 4): group g's and h's reach_a, reach_b, exposure_a, exposure_b."""
    blocks = [values[:, [i * n_groups + g, i * n_groups + h]] for i in range(len(QUANTITIES))]
    return np.stack(blocks, axis=2)


def _difference(sums_g: NDArray[np.float64], sums_h: NDArray[np.float64]) -> NDArray[np.float64]:
    """amplification(g) - amplification(h) from (..., 4) sums."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            sums_g[..., 1] / sums_g[..., 0] - sums_h[..., 1] / sums_h[..., 0], dtype=np.float64
        )


def permutation_test(
    values: NDArray[np.float64],
    n_groups: int,
    g: int,
    h: int,
    *,
    n_permutations: int = 2000,
    seed: int = 0,
) -> float:
    """Two-sided p-value that groups g and h are amplified alike (see the module docstring);
    NaN when either group reaches no viewer under the reference ordering."""
    (p_value,) = permutation_tests(
        values, n_groups, [(g, h)], n_permutations=n_permutations, seed=seed
    )
    return p_value


def permutation_tests(
    values: NDArray[np.float64],
    n_groups: int,
    pairs: Sequence[tuple[int, int]],
    *,
    n_permutations: int = 2000,
    seed: int = 0,
) -> list[float]:
    """`permutation_test` of every pair (g, h) in `pairs`, each equal to its own call: every
    test draws the same swaps from `default_rng(seed)`, so they are drawn once per chunk and
    shared by all pairs (a grouping's tests cost one set of draws, not one per pair)."""
    observed: list[float] = []
    bases: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]] = []
    for g, h in pairs:
        pair = _pair(values, n_groups, g, h)
        base_g = pair[:, 0].sum(axis=0)
        base_h = pair[:, 1].sum(axis=0)
        observed.append(float(_difference(base_g, base_h)))
        bases.append((base_g, base_h, pair[:, 1] - pair[:, 0]))  # what a swap moves h -> g
    live = [i for i, value in enumerate(observed) if np.isfinite(value)]
    hits = [0] * len(pairs)
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    for first in range(0, n_permutations if live else 0, _CHUNK):
        rows = min(_CHUNK, n_permutations - first)
        swaps = rng.integers(0, 2, size=(rows, n)).astype(np.float64)
        for i in live:
            base_g, base_h, delta = bases[i]
            moved = swaps @ delta  # (rows, 4)
            statistic = _difference(base_g + moved, base_h - moved)
            hits[i] += int(np.sum(np.abs(statistic) >= abs(observed[i]) * (1.0 - _RTOL)))
    return [
        (1.0 + hits[i]) / (1.0 + n_permutations) if i in live else float("nan")
        for i in range(len(pairs))
    ]
