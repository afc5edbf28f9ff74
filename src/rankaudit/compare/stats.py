"""Population statistics over per-request values: bootstrap intervals and the paired
randomization test, vectorised over many metrics (columns) and segments at once.

Both take an (n requests x m columns) matrix where NaN marks "undefined for this request"
(NDCG without engagement); each column's statistic is the mean over its defined entries. Both
optionally take `partitions`: integer label arrays (one segment code 0..S-1 per request); every
statistic is then also computed inside each segment of each partition. Results stack the
population first, then the segments of each partition in order (partition 0's segments 0..S-1,
then partition 1's, ...).

- Bootstrap: `n_resamples` resamples of the n requests, drawn with replacement, shared by every
  column and segment (paired columns stay paired); a segment's mean in a resample is over the
  segment's requests drawn into it. Percentile interval at `confidence`.
- Paired randomization test (Fisher's sign-flip test, as IR evaluation libraries run it): under
  the null hypothesis each request's difference b - a is as likely to have the opposite sign;
  the two-sided p-value is the share of sign assignments whose |mean difference| is at least
  the observed one. When 2^n <= `n_permutations` every assignment is enumerated (an exact
  p-value); otherwise `n_permutations` random assignments are drawn and
  p = (1 + hits) / (1 + draws), which never reports 0.

Random draws come from `numpy.random.default_rng(seed)`, so results repeat exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["BootstrapResult", "bootstrap_means", "paired_randomization_test"]

#: Resamples / sign assignments materialised at once (rows of the count or sign matrix).
_CHUNK_ROWS = 256
#: Relative tolerance when comparing a permuted statistic with the observed one, so that an
#: assignment equal to the observed one is never lost to floating-point summation order.
_RTOL = 1e-9


@dataclass(frozen=True)
class BootstrapResult:
    """Per (segment, column): defined entries `n`, `mean`, and the percentile interval (NaN
    when n = 0). Arrays are (1 + total segments) x m: the population first."""

    n: NDArray[np.int64]
    mean: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]


def _as_matrix(values: ArrayLike) -> NDArray[np.float64]:
    matrix = np.asarray(values, dtype=np.float64)
    return matrix[:, None] if matrix.ndim == 1 else matrix


@dataclass(frozen=True)
class _Segments:
    """Membership of every request in the population (column 0) and in each segment of each
    partition (the following columns), as a 0/1 matrix (n x (1 + total segments))."""

    membership: NDArray[np.float64]

    @classmethod
    def of(cls, partitions: Sequence[ArrayLike], n: int) -> _Segments:
        blocks = [np.ones((n, 1))]
        for labels in partitions:
            codes = np.asarray(labels, dtype=np.int64)
            if codes.shape != (n,) or (n and codes.min() < 0):
                raise ValueError("each partition must give one label >= 0 per request")
            width = int(codes.max()) + 1 if n else 0
            onehot = np.zeros((n, width))
            onehot[np.arange(n), codes] = 1.0
            blocks.append(onehot)
        return cls(np.concatenate(blocks, axis=1))

    @property
    def count(self) -> int:
        return int(self.membership.shape[1])

    def expand(self, values: NDArray[np.float64], dtype: type[np.floating]) -> np.ndarray:
        """Return (n x (segments * m)): `values` restricted to each segment in turn (0
        outside), so that one matrix product gives every segment's totals."""
        n, m = values.shape
        cells = self.membership[:, :, None] * values[:, None, :]
        return cells.reshape(n, self.count * m).astype(dtype)

    def totals(self, weights: np.ndarray, expanded: np.ndarray, m: int) -> np.ndarray:
        """Return (segments, rows, m): weights (rows x n) @ each segment's values."""
        product = weights @ expanded  # (rows, segments * m)
        return np.asarray(product.reshape(len(weights), self.count, m).transpose(1, 0, 2))

    def sums(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return (segments, m): exact column sums over the population and each segment."""
        return np.asarray(self.membership.T @ values, dtype=np.float64)


def bootstrap_means(
    values: ArrayLike,
    *,
    partitions: Sequence[ArrayLike] = (),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Return each column's mean over its defined (non-NaN) entries with a percentile
    bootstrap interval, for the population and every segment of `partitions`."""
    matrix = _as_matrix(values)
    n, m = matrix.shape
    segments = _Segments.of(partitions, n)
    defined = ~np.isnan(matrix)
    filled = np.where(defined, matrix, 0.0)
    # Columns usually share a handful of definedness patterns: resample each pattern once.
    masks, mask_of_column = np.unique(defined, axis=1, return_inverse=True)
    mask_of_column = np.asarray(mask_of_column).reshape(-1)
    counts = segments.sums(defined.astype(np.float64)).round().astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = segments.sums(filled) / counts
    draws_mean = np.full((segments.count, n_resamples, m), np.nan)
    if n:
        rng = np.random.default_rng(seed)
        packed = np.concatenate([filled, masks.astype(np.float64)], axis=1)
        width = packed.shape[1]
        expanded = segments.expand(packed, np.float32)
        for first in range(0, n_resamples, _CHUNK_ROWS):
            rows = min(_CHUNK_ROWS, n_resamples - first)
            draws = rng.integers(0, n, size=(rows, n))
            offsets = (np.arange(rows, dtype=np.int64) * n)[:, None]
            times = np.bincount((draws + offsets).ravel(), minlength=rows * n)
            totals = segments.totals(times.reshape(rows, n).astype(np.float32), expanded, width)
            sums = totals[:, :, :m].astype(np.float64)
            sizes = totals[:, :, m:].astype(np.float64)[:, :, mask_of_column]
            with np.errstate(invalid="ignore", divide="ignore"):
                draws_mean[:, first : first + rows] = np.where(sizes > 0, sums / sizes, np.nan)
    alpha = (1.0 - confidence) / 2.0
    low = np.full((segments.count, m), np.nan)
    high = np.full((segments.count, m), np.nan)
    usable = (counts > 0) & ~np.all(np.isnan(draws_mean), axis=1)
    if usable.any():
        picked = draws_mean.transpose(0, 2, 1)[usable]  # (usable cells, resamples)
        low[usable] = np.nanquantile(picked, alpha, axis=1)
        high[usable] = np.nanquantile(picked, 1.0 - alpha, axis=1)
    return BootstrapResult(n=counts, mean=mean, ci_low=low, ci_high=high)


def _sign_chunks(n: int, n_permutations: int, seed: int) -> tuple[bool, Iterator[np.ndarray]]:
    """Return (exact, an iterator over chunks of +-1 sign rows). Exact: all 2^n assignments."""
    if n < 63 and 2**n <= n_permutations:
        assignments = np.arange(2**n, dtype=np.int64)[:, None]
        bits = (assignments >> np.arange(n, dtype=np.int64)) & 1
        return True, iter([1.0 - 2.0 * bits.astype(np.float64)])

    def draw() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        n_bytes = (n + 7) // 8
        for first in range(0, n_permutations, _CHUNK_ROWS):
            rows = min(_CHUNK_ROWS, n_permutations - first)
            packed = rng.integers(0, 256, size=(rows, n_bytes), dtype=np.uint8)
            bits = np.unpackbits(packed, axis=1, count=n)
            yield 1.0 - 2.0 * bits.astype(np.float32)

    return False, draw()


def paired_randomization_test(
    differences: ArrayLike,
    *,
    partitions: Sequence[ArrayLike] = (),
    n_permutations: int = 10_000,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Return the two-sided p-value of each column of paired differences (b - a per request;
    NaN entries are left out of that column) for the population and every segment of
    `partitions`, as a (1 + total segments) x m array; NaN where a column has no entry.

    Random sign flips, or every sign assignment when 2^n <= `n_permutations`.
    """
    matrix = _as_matrix(differences)
    n, m = matrix.shape
    segments = _Segments.of(partitions, n)
    defined = ~np.isnan(matrix)
    filled = np.where(defined, matrix, 0.0)
    counts = segments.sums(defined.astype(np.float64))
    # Sums, not means: a column's count is the same under every assignment.
    observed = np.abs(segments.sums(filled))
    threshold = observed * (1.0 - _RTOL)
    exact, chunks = _sign_chunks(n, n_permutations, seed)
    expanded = segments.expand(filled, np.float64 if exact else np.float32)
    hits = np.zeros((segments.count, m), dtype=np.int64)
    total = 0
    for signs in chunks:
        permuted = np.abs(segments.totals(signs, expanded, m))  # (segments, rows, m)
        hits += (permuted >= threshold[:, None, :]).sum(axis=1)
        total += signs.shape[0]
    p_values = hits / total if exact else (hits + 1) / (total + 1)
    return np.where(counts > 0, p_values, np.nan).astype(np.float64)
