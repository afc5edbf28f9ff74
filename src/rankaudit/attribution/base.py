"""The contract every attributor follows: explain f(row) - mean f(baselines) for a group;
`explain_groups` runs one over many groups, in packs where it can explain several at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL

__all__ = [
    "PACK_PAIRS",
    "Attributor",
    "GroupExplanation",
    "Packing",
    "explain_groups",
    "model_outputs",
    "targets_of",
]

#: (row, baseline) pairs of the groups explained together by an attributor that packs them:
#: enough requests that the later, sparser refinement rounds still fill whole chunks
#: (measured in benchmarks/attribution.py, whole-log section).
PACK_PAIRS = 16384

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GroupExplanation:
    """Per target (a head, or FINAL): attributions [rows, features], the explained score of each
    row and its reference score (the mean over the group's baselines); `converged` flags rows
    whose method gave up before reaching the tolerance (IG at its step cap)."""

    attributions: Mapping[str, Array]
    scores: Mapping[str, Array]
    reference_scores: Mapping[str, Array]
    converged: NDArray[np.bool_]


class Attributor(Protocol):
    """One attribution method bound to one ranker."""

    method: str
    features: tuple[str, ...]
    targets: tuple[str, ...]

    def explain(self, group: Group) -> GroupExplanation:
        """Return the explanation of every row of `group` for every target."""
        ...


@runtime_checkable
class Packing(Protocol):
    """An attributor that explains several groups at once (IG: their pairs share chunks)."""

    def explain_pack(self, groups: Sequence[Group]) -> list[GroupExplanation]:
        """The explanation of each group, in order, equal to `explain` of each alone."""
        ...


def explain_groups(
    attributor: Attributor, groups: Iterable[Group]
) -> Iterator[tuple[Group, GroupExplanation]]:
    """Each group with its explanation, in order; an attributor that packs gets consecutive
    groups of about `PACK_PAIRS` pairs together."""
    if not isinstance(attributor, Packing):
        for group in groups:
            yield group, attributor.explain(group)
        return
    pack: list[Group] = []
    pairs = 0
    for group in groups:
        pack.append(group)
        pairs += len(group.rows) * len(group.baselines)
        if pairs >= PACK_PAIRS:
            yield from zip(pack, attributor.explain_pack(pack), strict=True)
            pack, pairs = [], 0
    if pack:
        yield from zip(pack, attributor.explain_pack(pack), strict=True)


def targets_of(ranker: Any, heads: Sequence[str] | None) -> tuple[str, ...]:
    """The outputs to explain: the chosen heads (default: all) then the final score."""
    available = tuple(ranker.heads)
    if heads is None:
        return (*available, FINAL)
    return tuple(heads)


def model_outputs(ranker: Any, frame: pd.DataFrame, targets: Sequence[str]) -> dict[str, Array]:
    """Score `frame` for every target with the ranker's own scoring path."""
    out: dict[str, Array] = {}
    if any(t != FINAL for t in targets):
        heads = ranker.head_scores(frame)
        for target in targets:
            if target != FINAL:
                out[target] = heads[target].to_numpy(dtype=np.float64)
    if FINAL in targets:
        out[FINAL] = np.asarray(ranker.score(frame), dtype=np.float64)
    return out


def mean_over_baselines(values: Mapping[str, Array]) -> dict[str, float]:
    return {t: float(np.mean(v)) for t, v in values.items()}
