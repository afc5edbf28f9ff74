"""Trivial, exact attributions of the `logged` and `chronological` orders.

Their score is a function of one log column (the served position, or the tweet's age), so the
whole difference f(x) - mean f(baselines) belongs to that column, for either method.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL

__all__ = ["ServedAttributor"]


class ServedAttributor:
    def __init__(self, ranker: Any, method: str) -> None:
        self.ranker = ranker
        self.method = method
        self.features = tuple(ranker.required_columns)
        self.targets: tuple[str, ...] = (FINAL,)

    def explain(self, group: Group) -> GroupExplanation:
        scores = np.asarray(self.ranker.score(group.rows), dtype=np.float64)
        reference = np.full(len(scores), float(np.mean(self.ranker.score(group.baselines))))
        return GroupExplanation(
            attributions={FINAL: (scores - reference)[:, None]},
            scores={FINAL: scores},
            reference_scores={FINAL: reference},
            converged=np.ones(len(scores), dtype=bool),
        )
