"""The contract every attributor follows: explain f(row) - mean f(baselines) for a group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL

__all__ = ["Attributor", "GroupExplanation", "model_outputs", "targets_of"]

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
