"""Where Integrated Gradients evaluates the gradient along a straight path, and with what weight.

IG integrates g(a) = grad f(b + a (x - b)) * (x - b) over a in [0, 1]. Two rules:

- Gauss-Legendre with n points on the whole path (captum's `gausslegendre`): exact for smooth
  integrands as n grows, geometrically fast.
- Piecewise Gauss-Legendre between kinks: a ReLU network's gradient jumps wherever one of its
  units switches on or off along the path, so a rule over the whole path converges only as
  1/points. The path is cut at every switch instead, and each piece, smooth between its ends,
  gets its own Gauss-Legendre points. The switches are found from the units' pre-activations on
  a fine grid of forward passes (no gradients, a fraction of the cost of one gradient point):
  wherever a unit changes sign between two grid points, the kink lies where the straight line
  through its two pre-activations crosses zero.

A node set is three aligned arrays: the pair each node belongs to, its position a on the path
and its weight; a pair's attribution is the weighted sum of its nodes' g(a).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr._utils.approximation_methods import approximation_parameters
from numpy.typing import NDArray
from torch.overrides import TorchFunctionMode

__all__ = [
    "Nodes",
    "Pieces",
    "find_pieces",
    "gauss_legendre",
    "gauss_legendre_nodes",
    "join_nodes",
]

#: Functions with a kink at zero whose inputs the recorder keeps: `nn.ReLU` and `nn.LeakyReLU`
#: call the functional forms, so modules and functional code are both seen.
_KINKED: frozenset[Any] = frozenset(
    {F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_, F.leaky_relu}
)


@functools.lru_cache(maxsize=64)
def gauss_legendre(points: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """captum's Gauss-Legendre positions and weights on [0, 1] for `points` points, computed once
    per count (a report integrates thousands of times)."""
    step_sizes, alphas = approximation_parameters("gausslegendre")
    return np.asarray(alphas(points), dtype=np.float64), np.asarray(
        step_sizes(points), dtype=np.float64
    )


@dataclass(frozen=True)
class Nodes:
    """Integration nodes of several pairs: `pair[k]` (an index into the integrated pairs),
    `alpha[k]` on [0, 1] and `weight[k]`; a pair's weights sum to 1."""

    pair: NDArray[np.int64]
    alpha: NDArray[np.float64]
    weight: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.pair)


def gauss_legendre_nodes(pairs: int, points: int) -> Nodes:
    """The same `points`-point rule on every one of `pairs` pairs, pair by pair."""
    alpha, weight = gauss_legendre(points)
    return Nodes(
        pair=np.repeat(np.arange(pairs, dtype=np.int64), points),
        alpha=np.tile(alpha, pairs),
        weight=np.tile(weight, pairs),
    )


def join_nodes(parts: Sequence[Nodes], pairs: Sequence[int]) -> Nodes:
    """One node set of the pairs of `parts` in turn: part k has `pairs[k]` pairs, numbered after
    those of the parts before it."""
    offsets = np.cumsum([0, *pairs[:-1]], dtype=np.int64)
    return Nodes(
        pair=np.concatenate([p.pair + o for p, o in zip(parts, offsets, strict=True)]),
        alpha=np.concatenate([p.alpha for p in parts]),
        weight=np.concatenate([p.weight for p in parts]),
    )


@dataclass(frozen=True)
class Pieces:
    """The smooth pieces of many pairs' paths, in pair order: piece k of pair `pair[k]` runs
    from `start[k]` for `length[k]`. `kinked` is False when the module showed no unit with a
    kink at all (a smooth network, or one the recorder cannot see into, such as TorchScript)."""

    pair: NDArray[np.int64]
    start: NDArray[np.float64]
    length: NDArray[np.float64]
    kinked: bool

    def points(self, first: int, scale: int) -> NDArray[np.int64]:
        """Gauss-Legendre points per piece: `first` points per unit of path (at least one a
        piece), times `scale`."""
        base = np.maximum(1, np.ceil(first * self.length - 1e-9)).astype(np.int64)
        return base * scale

    def cost(self, first: int, scale: int, pairs: int) -> NDArray[np.int64]:
        """Points per pair: [pairs]."""
        return np.bincount(self.pair, weights=self.points(first, scale), minlength=pairs).astype(
            np.int64
        )

    def select(self, start: int, stop: int) -> Pieces:
        """The pieces of pairs start..stop-1, numbered from 0."""
        lo, hi = np.searchsorted(self.pair, [start, stop])
        return Pieces(self.pair[lo:hi] - start, self.start[lo:hi], self.length[lo:hi], self.kinked)

    def nodes(self, first: int, scale: int, chosen: NDArray[np.int64]) -> Nodes:
        """Nodes of the pairs `chosen` (indices into this object's pairs), numbered
        0..len(chosen)-1 in that order, each piece with its own Gauss-Legendre rule."""
        position = np.full(int(self.pair.max(initial=-1)) + 1, -1, dtype=np.int64)
        position[chosen] = np.arange(len(chosen))
        keep = position[self.pair] >= 0
        pair, start, length = position[self.pair[keep]], self.start[keep], self.length[keep]
        counts = self.points(first, scale)[keep]
        parts: list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]] = []
        for n in np.unique(counts):
            at = counts == n
            alpha, weight = gauss_legendre(int(n))
            parts.append(
                (
                    np.repeat(pair[at], n),
                    (start[at, None] + length[at, None] * alpha[None, :]).ravel(),
                    (length[at, None] * weight[None, :]).ravel(),
                )
            )
        pairs_ = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        alphas = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        weights = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
        order = np.lexsort((alphas, pairs_))  # pair by pair, along the path: deterministic
        return Nodes(pair=pairs_[order], alpha=alphas[order], weight=weights[order])


class _Recorder(TorchFunctionMode):
    """Keeps the input of every kinked function called while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func in _KINKED and args and isinstance(args[0], torch.Tensor):
            value = args[0].detach()
            in_place = func in (F.relu_, torch.relu_, torch.Tensor.relu_) or kwargs.get(
                "inplace", len(args) > 1 and args[-1] is True
            )
            # An in-place ReLU overwrites its input: keep a copy.
            self.inputs.append(value.clone() if in_place else value)
        return func(*args, **kwargs)


def find_pieces(
    forward: Callable[..., torch.Tensor],
    x: Sequence[torch.Tensor],
    b: Sequence[torch.Tensor],
    fixed: Sequence[torch.Tensor],
    grid: int,
    chunk_rows: int,
) -> Pieces:
    """Cut each pair's path (b[i] -> x[i], `fixed[i]` held) at the kinks of the module's units,
    located on a grid of `grid` + 1 forward passes per pair."""
    pairs = x[0].shape[0]
    alpha = torch.linspace(0.0, 1.0, grid + 1, dtype=x[0].dtype, device=x[0].device)
    per_chunk = max(1, chunk_rows // (grid + 1))
    found_pair: list[NDArray[np.int64]] = []
    found_at: list[NDArray[np.float64]] = []
    kinked = False
    for start in range(0, pairs, per_chunk):
        stop = min(pairs, start + per_chunk)
        count = stop - start
        paths = []
        for xi, bi in zip(x, b, strict=True):
            lo, hi = bi[start:stop], xi[start:stop]
            view = (1, grid + 1) + (1,) * (lo.ndim - 1)
            path = lo.unsqueeze(1) + alpha.view(view) * (hi - lo).unsqueeze(1)
            paths.append(path.reshape(count * (grid + 1), *lo.shape[1:]))
        held = [t[start:stop].repeat_interleave(grid + 1, dim=0) for t in fixed]
        recorder = _Recorder()
        with torch.no_grad(), recorder:
            forward(*paths, *held)
        rows = count * (grid + 1)
        for recorded in recorder.inputs:
            if not recorded.ndim or recorded.shape[0] != rows:
                continue  # not one value per path point: not a unit of these rows
            kinked = True
            u = recorded.reshape(count, grid + 1, -1)
            positive = u > 0
            pair, cell, unit = torch.nonzero(positive[:, 1:] != positive[:, :-1], as_tuple=True)
            lo, hi = u[pair, cell, unit].double(), u[pair, cell + 1, unit].double()
            where = (cell.double() + lo / (lo - hi)) / grid
            found_pair.append(pair.cpu().numpy().astype(np.int64) + start)
            found_at.append(where.clamp(0.0, 1.0).cpu().numpy())
    return _pieces(pairs, found_pair, found_at, kinked)


def _pieces(
    pairs: int,
    found_pair: Sequence[NDArray[np.int64]],
    found_at: Sequence[NDArray[np.float64]],
    kinked: bool,
) -> Pieces:
    """Sorted, de-duplicated cut points 0 < a < 1 per pair -> the pieces between them."""
    ends = np.arange(pairs, dtype=np.int64)
    pair = np.concatenate([*found_pair, ends, ends])
    at = np.concatenate([*found_at, np.zeros(pairs), np.ones(pairs)])
    order = np.lexsort((at, pair))
    pair, at = pair[order], at[order]
    distinct = np.ones(len(at), dtype=bool)
    distinct[1:] = (pair[1:] != pair[:-1]) | (at[1:] > at[:-1])
    pair, at = pair[distinct], at[distinct]
    inside = pair[1:] == pair[:-1]
    return Pieces(
        pair=pair[:-1][inside],
        start=at[:-1][inside],
        length=(at[1:] - at[:-1])[inside],
        kinked=kinked,
    )
