"""Request segments for population breakdowns, derived from the feature spec.

A segmentation splits requests into named groups; each request belongs to one segment of
each segmentation. Which ones exist depends on the spec (a feature must be constant within
every request to describe the request):

- `in_network_share`: share of the request's candidates with `in_network` = 1 (when the spec
  has that binary feature), in thirds: "0-33%", "33-67%", "67-100%".
- every continuous feature of the `viewer` group (the viewer's activity level, account age):
  tertiles over requests, "low", "mid", "high", with their edges in the label.
- every categorical or binary feature with at most `MAX_LEVELS` values: one segment per value
  (the client, session start).

Segments are listed in that order; values inside a segmentation in sorted order (tertiles low
to high).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.compare.ranking import GroupIndex
from rankaudit.data.spec import FeatureSpec

__all__ = [
    "IN_NETWORK",
    "MAX_LEVELS",
    "Segmentation",
    "request_segmentations",
    "segment_columns",
]

#: The binary feature whose per-request share defines `in_network_share`.
IN_NETWORK = "in_network"
#: Categorical features with more values than this (author ids) are not segmentations.
MAX_LEVELS = 20


@dataclass(frozen=True, eq=False)
class Segmentation:
    """One way to split requests: segment `labels` and each request's segment code (an index
    into `labels`), requests sorted by id. Every label has at least one request."""

    name: str
    labels: tuple[str, ...]
    codes: NDArray[np.int64]

    @classmethod
    def from_bins(cls, name: str, labels: Sequence[str], bins: NDArray[np.int64]) -> Segmentation:
        """Return the segmentation with empty bins dropped (codes renumbered)."""
        used = np.unique(bins)
        remap = np.full(len(labels), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return cls(name, tuple(labels[i] for i in used), remap[bins])

    def sizes(self) -> NDArray[np.int64]:
        """Requests per segment, in label order."""
        return np.bincount(self.codes, minlength=len(self.labels)).astype(np.int64)


def _per_request(
    values: NDArray[np.float64], index: GroupIndex
) -> tuple[NDArray[np.float64], bool]:
    """Return (the lowest value of each request, whether every request holds a single value)."""
    ordered = values[index.order]
    lowest = np.minimum.reduceat(ordered, index.starts)
    highest = np.maximum.reduceat(ordered, index.starts)
    return lowest, bool(np.array_equal(lowest, highest, equal_nan=True))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _tertiles(feature: str, values: NDArray[np.float64]) -> Segmentation:
    low_edge, high_edge = (float(v) for v in np.quantile(values, [1 / 3, 2 / 3]))
    if low_edge == high_edge:
        edges = [low_edge]
        labels = [f"low (<= {_fmt(low_edge)})", f"high (> {_fmt(low_edge)})"]
    else:
        edges = [low_edge, high_edge]
        labels = [
            f"low (<= {_fmt(low_edge)})",
            f"mid ({_fmt(low_edge)}, {_fmt(high_edge)}]",
            f"high (> {_fmt(high_edge)})",
        ]
    bins = np.searchsorted(np.asarray(edges), values, side="left").astype(np.int64)
    return Segmentation.from_bins(feature, labels, bins)


def _tertile_features(spec: FeatureSpec) -> list[str]:
    return [f.name for f in spec if f.kind == "continuous" and f.group == "viewer"]


def _level_features(spec: FeatureSpec) -> list[str]:
    return [f.name for f in spec if f.kind != "continuous"]


def segment_columns(spec: FeatureSpec) -> tuple[str, ...]:
    """The feature columns `request_segmentations` may read under `spec` (what a stored
    comparison keeps besides ids, labels and scores)."""
    share = [IN_NETWORK] if IN_NETWORK in spec else []
    return tuple(dict.fromkeys([*share, *_tertile_features(spec), *_level_features(spec)]))


def request_segmentations(
    rows: pd.DataFrame, index: GroupIndex, spec: FeatureSpec
) -> tuple[Segmentation, ...]:
    """Return the segmentations of the requests of `rows` (grouped by `index`), in the order of
    the module docstring. Vectorised over requests."""
    if index.n_groups == 0:
        return ()
    out: list[Segmentation] = []
    if IN_NETWORK in spec and IN_NETWORK in rows:
        share = np.bincount(
            index.codes,
            weights=rows[IN_NETWORK].to_numpy(dtype=np.float64),
            minlength=index.n_groups,
        ) / np.maximum(index.sizes, 1)
        bins = np.minimum((share * 3).astype(np.int64), 2)
        out.append(Segmentation.from_bins("in_network_share", ("0-33%", "33-67%", "67-100%"), bins))
    for name in _tertile_features(spec):
        if name not in rows:
            continue
        values, constant = _per_request(rows[name].to_numpy(dtype=np.float64), index)
        if constant:
            out.append(_tertiles(name, values))
    for name in _level_features(spec):
        if name not in rows:
            continue
        column = rows[name]
        raw = (
            column.to_numpy(dtype=np.int64)
            if spec[name].kind == "binary"
            else column.astype(str).to_numpy()
        )
        codes, levels = pd.factorize(raw, sort=True)
        if len(levels) > MAX_LEVELS:
            continue
        per_request, constant = _per_request(codes.astype(np.float64), index)
        if constant:
            out.append(
                Segmentation.from_bins(name, [str(v) for v in levels], per_request.astype(np.int64))
            )
    return tuple(out)
