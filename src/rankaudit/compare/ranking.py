"""Agreement between two orderings of the same candidates, vectorised over all requests.

Every kernel takes aligned per-row arrays (`groups`: the request of each row, `x`, `y`: the two
rankers' scores, higher ranks higher) and returns one value per group, groups sorted by id (the
order of `pd.factorize(groups, sort=True)`), like `ndcg_at_k`.

Ties: the rank correlations and RBO treat equal scores as ties (tau-b, average ranks, RBO with
tied groups) rather than breaking them by tweet id, so that an arbitrary tie-break never shows
up as agreement or disagreement. Top-k overlap works on positions, which are tie-broken
(score descending, then tweet id ascending; see `rank_within_groups`).

Kernels loop over distinct list lengths and fixed-size chunks of requests, never over requests.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GroupIndex",
    "kendall_tau_b",
    "rank_agreement",
    "rank_biased_overlap",
    "rbo",
    "spearman_rho",
    "tied_ranks_within_groups",
    "top_k_overlap",
]

#: Pairwise work per chunk of requests (requests x n x n cells); bounds the kernel's memory.
_CHUNK_CELLS = 1 << 22


@dataclass(frozen=True)
class GroupIndex:
    """Rows grouped by request: integer codes (groups sorted by id), sizes and a row order
    that lists each group's rows contiguously (stable inside a group)."""

    codes: NDArray[np.int64]
    n_groups: int
    sizes: NDArray[np.int64]
    order: NDArray[np.int64]
    starts: NDArray[np.int64]

    @classmethod
    def of(cls, groups: ArrayLike) -> GroupIndex:
        """Return the index of `groups` (any hashable ids; codes follow sorted id order)."""
        raw_codes, uniques_index = pd.factorize(np.asarray(groups), sort=True)
        return cls._from_codes(raw_codes.astype(np.int64), len(uniques_index))

    @classmethod
    def _from_codes(cls, codes: NDArray[np.int64], n_groups: int) -> GroupIndex:
        sizes = np.bincount(codes, minlength=n_groups).astype(np.int64)
        order = np.argsort(codes, kind="stable").astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return cls(codes=codes, n_groups=n_groups, sizes=sizes, order=order, starts=starts)


def _index(groups: ArrayLike | GroupIndex) -> GroupIndex:
    return groups if isinstance(groups, GroupIndex) else GroupIndex.of(groups)


def _tie_ranks(
    index: GroupIndex, scores: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Return (first, average) 1-based ranks inside each group, score descending: tied rows
    share the first position of their block, or the mean of the positions it spans."""
    values = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((-values, index.codes))
    sorted_codes = index.codes[order]
    sorted_values = values[order]
    n = len(order)
    position = np.arange(n, dtype=np.int64) - index.starts[sorted_codes] + 1
    # A new tie block starts at a new group or at a different score.
    new_block = np.ones(n, dtype=bool)
    if n > 1:
        new_block[1:] = (sorted_codes[1:] != sorted_codes[:-1]) | (
            sorted_values[1:] != sorted_values[:-1]
        )
    block = np.cumsum(new_block) - 1
    first = position[new_block]
    last = np.append(position[np.flatnonzero(new_block)[1:] - 1], position[-1]) if n else first
    first_ranks = np.empty(n, dtype=np.int64)
    first_ranks[order] = first[block]
    average_ranks = np.empty(n, dtype=np.float64)
    average_ranks[order] = ((first + last) / 2.0)[block]
    return first_ranks, average_ranks


def tied_ranks_within_groups(
    groups: ArrayLike | GroupIndex, scores: ArrayLike, *, method: str = "average"
) -> NDArray[np.float64]:
    """Return each row's 1-based rank inside its group, score descending, ties sharing a rank.

    `method` "average" gives tied rows the mean of the positions they span (Spearman's ranks);
    "min" gives them the first (the position where the tied block starts).
    """
    if method not in ("average", "min"):
        raise ValueError(
            "The 'method' parameter of tied_ranks_within_groups must be 'average' or 'min'. "
            f"Got {method!r} instead."
        )
    first, average = _tie_ranks(_index(groups), scores)
    return first.astype(np.float64) if method == "min" else average


def _sign_blocks(
    index: GroupIndex, x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Return per group: sum over ordered pairs of sign(dx)*sign(dy), tied ordered pairs in x,
    tied ordered pairs in y (each unordered pair counted twice; the diagonal excluded)."""
    concordance = np.zeros(index.n_groups, dtype=np.float64)
    ties_x = np.zeros(index.n_groups, dtype=np.float64)
    ties_y = np.zeros(index.n_groups, dtype=np.float64)
    xs = x[index.order]
    ys = y[index.order]
    for size in np.unique(index.sizes):
        n = int(size)
        if n < 2:
            continue
        members = np.flatnonzero(index.sizes == size)
        step = max(1, _CHUNK_CELLS // (n * n))
        for first in range(0, len(members), step):
            chunk = members[first : first + step]
            cells = index.starts[chunk][:, None] + np.arange(n)
            bx, by = xs[cells], ys[cells]
            # Comparisons, not subtraction: -inf scores (unserved rows) tie with each other.
            sx = (bx[:, :, None] > bx[:, None, :]).astype(np.int8) - (
                bx[:, :, None] < bx[:, None, :]
            ).astype(np.int8)
            sy = (by[:, :, None] > by[:, None, :]).astype(np.int8) - (
                by[:, :, None] < by[:, None, :]
            ).astype(np.int8)
            concordance[chunk] = (sx * sy).sum(axis=(1, 2), dtype=np.int64)
            ties_x[chunk] = (sx == 0).sum(axis=(1, 2), dtype=np.int64) - n
            ties_y[chunk] = (sy == 0).sum(axis=(1, 2), dtype=np.int64) - n
    return concordance, ties_x, ties_y


def kendall_tau_b(
    groups: ArrayLike | GroupIndex, x: ArrayLike, y: ArrayLike
) -> NDArray[np.float64]:
    """Return Kendall's tau-b between scores `x` and `y` inside each group (sorted by id).

    tau-b = (C - D) / sqrt((n0 - n1) (n0 - n2)), n0 = n(n-1)/2 pairs, n1 / n2 the pairs tied in
    x / y. NaN where either ranker ties every candidate (or the group has one row), as scipy.
    """
    index = _index(groups)
    concordance, ties_x, ties_y = _sign_blocks(
        index, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    )
    n = index.sizes.astype(np.float64)
    pairs = n * (n - 1) / 2
    denominator = np.sqrt((pairs - ties_x / 2) * (pairs - ties_y / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(denominator > 0, (concordance / 2) / denominator, np.nan)
    return np.clip(tau, -1.0, 1.0)


def spearman_rho(groups: ArrayLike | GroupIndex, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """Return Spearman's rho inside each group (sorted by id): the Pearson correlation of the
    average ranks of `x` and `y` (ties share their mean rank). NaN where a ranker ties all."""
    index = _index(groups)
    return _spearman(index, _tie_ranks(index, x)[1], _tie_ranks(index, y)[1])


def _spearman(
    index: GroupIndex, rx: NDArray[np.float64], ry: NDArray[np.float64]
) -> NDArray[np.float64]:
    mean = (index.sizes.astype(np.float64) + 1) / 2  # average ranks always sum to n(n+1)/2
    dx = rx - mean[index.codes]
    dy = ry - mean[index.codes]
    n_groups = index.n_groups
    cov = np.bincount(index.codes, weights=dx * dy, minlength=n_groups)
    var_x = np.bincount(index.codes, weights=dx * dx, minlength=n_groups)
    var_y = np.bincount(index.codes, weights=dy * dy, minlength=n_groups)
    denominator = np.sqrt(var_x * var_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denominator > 0, cov / denominator, np.nan)
    return np.clip(rho, -1.0, 1.0)


def _check_p(p: float, caller: str) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 < float(p) < 1.0:
        raise ValueError(
            f"The 'p' parameter of {caller} must be a float in (0, 1). Got {p!r} instead."
        )
    return float(p)


def _rbo_from_depth_counts(
    entered_x: NDArray[np.float64],
    entered_y: NDArray[np.float64],
    entered_both: NDArray[np.float64],
    depth: NDArray[np.int64],
    last: NDArray[np.bool_],
    segment: NDArray[np.int64],
    n_groups: int,
    p: float,
) -> NDArray[np.float64]:
    """Extrapolated RBO from, per (group, depth) cell, how many items enter each prefix there.

    Cells are laid out group after group, depths 1..k; `last` marks each group's depth k.
    """
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]]) if len(segment) else segment

    def running(values: NDArray[np.float64]) -> NDArray[np.float64]:
        total = np.cumsum(values)
        before = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
        return np.asarray(total - before, dtype=np.float64)

    size_x, size_y, overlap = running(entered_x), running(entered_y), running(entered_both)
    agreement = 2.0 * overlap / (size_x + size_y)
    weights = np.power(p, depth.astype(np.float64))
    body = np.bincount(segment, weights=agreement * weights, minlength=n_groups)
    tail = np.zeros(n_groups, dtype=np.float64)
    tail[segment[last]] = agreement[last] * weights[last]
    return np.asarray((1.0 - p) / p * body + tail, dtype=np.float64)


def rank_biased_overlap(
    groups: ArrayLike | GroupIndex, x: ArrayLike, y: ArrayLike, *, p: float = 0.9
) -> NDArray[np.float64]:
    """Return the extrapolated, tie-aware rank-biased overlap of the two orderings of each group
    (both rankers order the same candidates), groups sorted by id.

    RBO_ext = A_k p^k + (1 - p)/p * sum_{d=1..k} A_d p^d over the k candidates, with agreement
    A_d = |X_:d ∩ Y_:d| / ((|X_:d| + |Y_:d|) / 2). A block of tied scores enters a prefix as a
    whole at the first position it spans, so a prefix may hold more than d items; without ties
    A_d = overlap / d, Webber et al.'s definition. 1 for identical orderings (ties included).
    """
    p = _check_p(p, "rank_biased_overlap")
    index = _index(groups)
    return _rbo(index, _tie_ranks(index, x)[0], _tie_ranks(index, y)[0], p)


def _rbo(
    index: GroupIndex, rx: NDArray[np.int64], ry: NDArray[np.int64], p: float
) -> NDArray[np.float64]:
    n_rows = len(index.codes)
    base = index.starts[index.codes] - 1  # cell of (group, depth d) is start + d - 1
    entered_x = np.bincount(base + rx, minlength=n_rows).astype(np.float64)
    entered_y = np.bincount(base + ry, minlength=n_rows).astype(np.float64)
    entered_both = np.bincount(base + np.maximum(rx, ry), minlength=n_rows).astype(np.float64)
    segment = np.repeat(np.arange(index.n_groups, dtype=np.int64), index.sizes)
    depth = np.arange(n_rows, dtype=np.int64) - np.repeat(index.starts, index.sizes) + 1
    last = depth == index.sizes[segment]
    return _rbo_from_depth_counts(
        entered_x, entered_y, entered_both, depth, last, segment, index.n_groups, p
    )


def rank_agreement(
    groups: ArrayLike | GroupIndex, x: ArrayLike, y: ArrayLike, *, p: float = 0.9
) -> dict[str, NDArray[np.float64]]:
    """Return `kendall_tau_b`, `spearman` and `rbo` (persistence `p`) per group, sorted by id;
    the same values as the three kernels, ranking each score array once."""
    p = _check_p(p, "rank_agreement")
    index = _index(groups)
    x_values = np.asarray(x, dtype=np.float64)
    y_values = np.asarray(y, dtype=np.float64)
    first_x, average_x = _tie_ranks(index, x_values)
    first_y, average_y = _tie_ranks(index, y_values)
    return {
        "kendall_tau_b": kendall_tau_b(index, x_values, y_values),
        "spearman": _spearman(index, average_x, average_y),
        "rbo": _rbo(index, first_x, first_y, p),
    }


def _blocks(ranking: Sequence[Hashable | Collection[Hashable]]) -> list[list[Hashable]]:
    out: list[list[Hashable]] = []
    for entry in ranking:
        if isinstance(entry, set | frozenset | tuple | list):
            out.append(list(entry))
        else:
            out.append([cast(Hashable, entry)])
    return out


def rbo(
    first: Sequence[Hashable | Collection[Hashable]],
    second: Sequence[Hashable | Collection[Hashable]],
    *,
    p: float = 0.9,
) -> float:
    """Return the extrapolated, tie-aware RBO of two rankings given as lists of items, best
    first; an entry that is a set, frozenset, tuple or list is a block of tied items.

    The rankings may hold different items (partial overlap) but must hold the same number of
    items k (the evaluation depth). Same definition as `rank_biased_overlap`: a tied block
    enters a prefix at the first position it spans; A_d = overlap / mean prefix size;
    RBO_ext = A_k p^k + (1 - p)/p * sum_{d<=k} A_d p^d.
    """
    p = _check_p(p, "rbo")
    entered: list[dict[Hashable, int]] = []
    for ranking in (first, second):
        depth_of: dict[Hashable, int] = {}
        position = 1
        for block in _blocks(ranking):
            for item in block:
                if item in depth_of:
                    raise ValueError(f"rbo: item {item!r} appears twice in one ranking")
                depth_of[item] = position
            position += len(block)
        entered.append(depth_of)
    k = len(entered[0])
    if k != len(entered[1]) or k == 0:
        raise ValueError(
            "rbo: both rankings must hold the same, non-zero number of items; "
            f"got {len(entered[0])} and {len(entered[1])}"
        )
    x_depth = np.array(list(entered[0].values()), dtype=np.int64)
    y_depth = np.array(list(entered[1].values()), dtype=np.int64)
    both = np.array(
        [max(d, entered[1][item]) for item, d in entered[0].items() if item in entered[1]],
        dtype=np.int64,
    )
    cells = k + 1
    entered_x = np.bincount(x_depth, minlength=cells)[1:].astype(np.float64)
    entered_y = np.bincount(y_depth, minlength=cells)[1:].astype(np.float64)
    entered_both = np.bincount(both, minlength=cells)[1:].astype(np.float64)
    depth = np.arange(1, k + 1, dtype=np.int64)
    value = _rbo_from_depth_counts(
        entered_x,
        entered_y,
        entered_both,
        depth,
        depth == k,
        np.zeros(k, dtype=np.int64),
        1,
        p,
    )
    return float(value[0])


def top_k_overlap(
    groups: ArrayLike | GroupIndex, position_x: ArrayLike, position_y: ArrayLike, *, k: int
) -> NDArray[np.float64]:
    """Return |top-k of x ∩ top-k of y| / min(k, n) per group (sorted by id), from 1-based,
    tie-broken positions; a group shorter than k compares all its candidates (overlap 1)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(
            f"The 'k' parameter of top_k_overlap must be an int >= 1. Got {k!r} instead."
        )
    index = _index(groups)
    inside = (np.asarray(position_x) <= k) & (np.asarray(position_y) <= k)
    shared = np.bincount(index.codes, weights=inside.astype(np.float64), minlength=index.n_groups)
    return np.asarray(shared / np.minimum(k, index.sizes), dtype=np.float64)
