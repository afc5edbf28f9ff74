"""Exposure and reach of groups under two orderings, per viewer, and the ratios built on them.

Definitions (S the position model's survival, `rankaudit.exposure.attention`; a the reference
ordering, b the audited one; each row is one candidate tweet of one request):

- exposure of group g to viewer v under an ordering: sum over v's requests and g's tweets there
  of S(position), the expected number of g's tweets v sees;
- reach of g in one request: S(m) with m the best position of g's tweets there (the probability
  that v scrolls deep enough to see one of them); reach of g to viewer v: the probability that
  g reaches v in at least one of v's requests, 1 - prod_r (1 - S(m_r)), requests taken as
  independent;
- population reach of g: the mean of the viewers' reach (expected share of viewers reached);
  exposure share: g's exposure over all groups' exposure;
- amplification of g: reach_b(g) / reach_a(g) - 1 (Huszár et al. 2022; 0 is parity, +2 is
  three times the reach); exposure ratio: exposure_b(g) / exposure_a(g) - 1;
- disparity of a grouping: the largest minus the smallest amplification among its groups.

Each ratio is a ratio of sums over viewers, so resampling viewers (`rankaudit.exposure.stats`)
only needs the per-viewer totals `ViewerTotals` holds. Identical orderings give identical sums,
hence exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["CellTotals", "ViewerTotals", "ratios", "request_cells", "viewer_totals"]

#: Column blocks of the per-viewer matrix, each n_groups wide.
QUANTITIES = ("reach_a", "reach_b", "exposure_a", "exposure_b")


@dataclass(frozen=True)
class CellTotals:
    """Per (request, group) cell that has at least one tweet: `request`, `group` codes, and
    reach (S of the best position) and exposure (sum of S) under orderings a and b."""

    request: NDArray[np.int64]
    group: NDArray[np.int64]
    reach_a: NDArray[np.float64]
    reach_b: NDArray[np.float64]
    exposure_a: NDArray[np.float64]
    exposure_b: NDArray[np.float64]


@dataclass(frozen=True)
class ViewerTotals:
    """`values` (n_viewers x 4 * n_groups): reach_a, reach_b, exposure_a, exposure_b of every
    group (blocks in QUANTITIES order) to every viewer."""

    values: NDArray[np.float64]
    n_groups: int

    @property
    def n_viewers(self) -> int:
        return int(self.values.shape[0])


def request_cells(
    request_codes: ArrayLike,
    group_codes: ArrayLike,
    n_groups: int,
    seen_a: ArrayLike,
    seen_b: ArrayLike,
) -> CellTotals:
    """Return the CellTotals of rows aligned by `request_codes`, `group_codes` (0..n_groups-1)
    and the survival of each row's position under a (`seen_a`) and b (`seen_b`)."""
    key = np.asarray(request_codes, dtype=np.int64) * n_groups + np.asarray(
        group_codes, dtype=np.int64
    )
    a = np.asarray(seen_a, dtype=np.float64)
    b = np.asarray(seen_b, dtype=np.float64)
    if len(key) == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        return CellTotals(empty_i, empty_i, empty_f, empty_f, empty_f, empty_f)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    cells = sorted_key[starts]
    return CellTotals(
        request=cells // n_groups,
        group=cells % n_groups,
        reach_a=np.maximum.reduceat(a[order], starts),
        reach_b=np.maximum.reduceat(b[order], starts),
        exposure_a=np.add.reduceat(a[order], starts),
        exposure_b=np.add.reduceat(b[order], starts),
    )


def viewer_totals(
    cells: CellTotals, viewer_of_request: ArrayLike, n_viewers: int, n_groups: int
) -> ViewerTotals:
    """Return the ViewerTotals of `cells` (`viewer_of_request[r]`: the viewer code of request
    r, 0..n_viewers-1)."""
    viewers = np.asarray(viewer_of_request, dtype=np.int64)
    key = viewers[cells.request] * n_groups + cells.group
    size = n_viewers * n_groups
    blocks: list[NDArray[np.float64]] = []
    with np.errstate(divide="ignore"):
        for reach in (cells.reach_a, cells.reach_b):
            # log P(not reached) summed over the viewer's requests; S = 1 gives -inf, exp 0.
            missed = np.bincount(key, weights=np.log1p(-np.minimum(reach, 1.0)), minlength=size)
            blocks.append(1.0 - np.exp(missed))
    for exposure in (cells.exposure_a, cells.exposure_b):
        blocks.append(np.bincount(key, weights=exposure, minlength=size).astype(np.float64))
    values = np.concatenate([b.reshape(n_viewers, n_groups) for b in blocks], axis=1)
    return ViewerTotals(values=values, n_groups=n_groups)


def ratios(sums: ArrayLike, n_groups: int) -> dict[str, NDArray[np.float64]]:
    """From column sums over viewers (`sums`: (..., 4 * n_groups), blocks in QUANTITIES order,
    any leading batch shape) return "amplification" and "exposure_ratio" (b over a, minus 1;
    NaN where a's total is 0), "share_a" and "share_b" (exposure shares) and "disparity"
    (max - min finite amplification, shape (...,); NaN with fewer than two)."""
    total = np.asarray(sums, dtype=np.float64)
    ra, rb, ea, eb = (total[..., i * n_groups : (i + 1) * n_groups] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        amplification = np.where(ra > 0, rb / np.where(ra > 0, ra, 1.0) - 1.0, np.nan)
        exposure_ratio = np.where(ea > 0, eb / np.where(ea > 0, ea, 1.0) - 1.0, np.nan)
        share_a = ea / ea.sum(axis=-1, keepdims=True)
        share_b = eb / eb.sum(axis=-1, keepdims=True)
    finite = np.isfinite(amplification)
    high = np.where(finite, amplification, -np.inf).max(axis=-1)
    low = np.where(finite, amplification, np.inf).min(axis=-1)
    disparity = np.where(finite.sum(axis=-1) >= 2, high - low, np.nan)
    return {
        "amplification": amplification,
        "exposure_ratio": exposure_ratio,
        "share_a": share_a,
        "share_b": share_b,
        "disparity": disparity,
    }
