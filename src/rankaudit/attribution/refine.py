"""IG's bookkeeping of (row, baseline) pairs: which are integrated and which are reverses,
how many points each refinement step costs and where they go, and which pairs a row refines
within its budget. `ig.TorchIntegratedGradients._explain` drives it, one group at a time or
many packed together."""

from __future__ import annotations

import numpy as np
import torch

from rankaudit.attribution.paths import Nodes, Pieces, gauss_legendre_nodes
from rankaudit.attribution.settings import AttributionSettings

__all__ = ["Mirror", "Schedule", "same_pairs", "schedule_cost", "within_budget"]


class Mirror:
    """Which (row, baseline) pairs are integrated, and which are another pair reversed.

    Pair (i, j) is pair (r, k) reversed when row i is baseline k and baseline j is row r: the
    same segment, so its attributions are the other's negated (the rules are symmetric).
    Integrated: every pair of distinct inputs without a reverse, or whose reverse has the
    larger row, or whose reverse is itself a reverse (duplicate rows). `source[i, j]`: the
    integrated pair behind (i, j), an index into `rows`/`bases` (-1: row i is baseline j, zero
    exactly); `sign[i, j]`: +1 for the pair itself, -1 for a reverse.
    """

    def __init__(self, same: np.ndarray) -> None:
        n, m = same.shape
        matched_row = np.where(same.any(axis=0), same.argmax(axis=0), -1)  # [m]
        matched_base = np.where(same.any(axis=1), same.argmax(axis=1), -1)  # [n]
        rev_row = np.broadcast_to(matched_row[None, :], (n, m))
        rev_base = np.broadcast_to(matched_base[:, None], (n, m))
        reversible = (rev_row >= 0) & (rev_base >= 0) & ~same
        own = ~same & (~reversible | (np.arange(n)[:, None] < rev_row))
        own |= reversible & ~own & ~own[np.maximum(rev_row, 0), np.maximum(rev_base, 0)]
        self.rows, self.bases = np.nonzero(own)
        source = np.full((n, m), -1, dtype=np.int64)
        source[self.rows, self.bases] = np.arange(len(self.rows))
        reverse = np.nonzero(~same & ~own)
        source[reverse] = source[rev_row[reverse], rev_base[reverse]]
        self.source = source
        self.sign = np.where(own, 1.0, -1.0)


class Schedule:
    """Points per refinement step of each integrated pair, and where they go.

    Step 0: `ig_steps` Gauss-Legendre points. Step s >= 1 of a module with kinks: each piece
    between the pair's kinks gets `ig_steps` points per unit of path (at least one), times
    2^(s-1); a pair's path is cut at its kinks (forward passes only: the caller asks for the
    pairs `uncut` returns and hands the pieces to `add_pieces`) when a row first refines it, and
    step 1 is priced as the smooth rule's (4 * `ig_steps`) so that every row prices its pairs
    the same way whichever other rows share them. A smooth module (no kink seen on the first
    pairs cut): `ig_steps` * 4^s Gauss-Legendre points.
    """

    def __init__(self, settings: AttributionSettings, pairs: int) -> None:
        self.first = settings.ig_steps
        #: Points of each pair at step 1 (-1: not cut yet).
        self.base = np.full(pairs, -1, dtype=np.int64)
        self.kinked: bool | None = None
        self.pieces: list[Pieces] = []

    def cost(self, step: np.ndarray, pair: np.ndarray) -> np.ndarray:
        """Points of integrated pairs `pair` at `step` (same shapes)."""
        if self.kinked is False:
            return np.asarray(self.first * 4**step, dtype=np.int64)
        # Step 1 is priced as the smooth rule's, cut or not: the price of a pair then does not
        # depend on whether another row of the call cut it already, and only the pairs a row
        # chooses are cut (forward grids cost). Later steps: the pieces' own points.
        base = np.where(self.base[pair] >= 0, self.base[pair], 4 * self.first)
        piecewise = base * 2 ** np.maximum(step - 1, 0)
        priced = np.where(step == 1, 4 * self.first, piecewise)
        return np.asarray(np.where(step == 0, self.first, priced), dtype=np.int64)

    def uncut(self, pairs: np.ndarray) -> np.ndarray:
        """The integrated pairs among `pairs` whose paths must be cut before they are refined
        (ascending, each once): none once the module proved smooth."""
        if self.kinked is False:
            return np.zeros(0, dtype=np.int64)
        return np.unique(pairs[self.base[pairs] < 0])

    def add_pieces(self, pairs: np.ndarray, cut: Pieces) -> None:
        """The pieces of `pairs` (what `uncut` returned), numbered 0..len(pairs)-1 in `cut`."""
        self.kinked = bool(self.kinked) or cut.kinked
        self.pieces.append(Pieces(pairs[cut.pair], cut.start, cut.length, cut.kinked))
        self.base[pairs] = cut.cost(self.first, 1, len(pairs))

    def nodes(self, step: int, chosen: np.ndarray) -> Nodes:
        """Nodes of integrated pairs `chosen` (ascending, cut already) at `step` >= 1, numbered
        in order."""
        if not self.kinked:
            return gauss_legendre_nodes(len(chosen), self.first * 4**step)
        if len(self.pieces) > 1:  # one object again: later steps look pairs up in it
            parts = self.pieces
            self.pieces = [
                Pieces(
                    pair=np.concatenate([p.pair for p in parts]),
                    start=np.concatenate([p.start for p in parts]),
                    length=np.concatenate([p.length for p in parts]),
                    kinked=True,
                )
            ]
        return self.pieces[0].nodes(self.first, 2 ** (step - 1), chosen)


def schedule_cost(first: int, cap: int) -> int:
    """Points per pair of refining first, 4*first, ... up to `cap` (the whole-row schedule)."""
    total, steps = first, first
    while steps * 4 <= cap:
        steps *= 4
        total += steps
    return total


def same_pairs(
    x_num: torch.Tensor, x_cat: torch.Tensor, b_num: torch.Tensor, b_cat: torch.Tensor
) -> np.ndarray:
    """[n, m] True where row i equals baseline j in every input (its IG is exactly zero)."""
    same = (x_num[:, None, :] == b_num[None, :, :]).all(dim=2)
    if x_cat.shape[1]:
        same &= (x_cat[:, None, :] == b_cat[None, :, :]).all(dim=2)
    return np.asarray(same.cpu().numpy(), dtype=bool)


def within_budget(
    over: np.ndarray, wanted: np.ndarray, cost: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """The pairs each row refines: worst first, only as many as should bring the row within
    its tolerance, and only while their cost fits the row's budget.

    `over` is each pair's error in units of its share; the row is within tolerance when the
    mean of the pairs' errors is under one share, and four times the points cut a pair's error
    about fourfold (ReLU networks converge as 1/points), so the row refines the shortest prefix
    of its worst pairs after which the predicted mean error is below 0.8 of a share.
    """
    pairs = over.shape[1]
    ranked = np.argsort(np.where(wanted, -over, np.inf), axis=1, kind="stable")
    ranked_over = np.take_along_axis(np.where(wanted, over, 0.0), ranked, axis=1)
    ranked_cost = np.take_along_axis(np.where(wanted, cost, 0), ranked, axis=1)
    predicted = over.sum(axis=1, keepdims=True) - 0.75 * np.cumsum(ranked_over, axis=1)
    # Refine up to and including the first pair after which the prediction is good enough.
    enough = np.concatenate(
        [np.zeros((len(over), 1), dtype=bool), predicted[:, :-1] <= 0.8 * pairs], axis=1
    )
    needed: np.ndarray = ~np.logical_or.accumulate(enough, axis=1)
    fits = np.cumsum(ranked_cost, axis=1) <= left[:, None]
    chosen = np.zeros_like(wanted)
    np.put_along_axis(chosen, ranked, needed & fits, axis=1)
    return np.asarray(chosen & wanted, dtype=bool)
