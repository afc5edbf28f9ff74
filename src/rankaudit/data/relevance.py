"""Graded relevance: a log column of judged relevance grades (e.g. 0-4) and the gain NDCG uses.

Configured in rankaudit.toml::

    [relevance]
    column = "relevance"     # a numeric column of the log, grades >= 0
    gain = "exponential"     # 2**grade - 1 (the LETOR/Burges convention), or "linear": the grade

Without it, NDCG and surprises use the engagement-weighted relevance of the heads' labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Gain", "GradedRelevance", "graded_gain"]

Gain = Literal["exponential", "linear"]


@dataclass(frozen=True)
class GradedRelevance:
    """Where the grades are (`column`) and how a grade becomes a gain (`gain`)."""

    column: str
    gain: Gain = "exponential"

    def __post_init__(self) -> None:
        if self.gain not in get_args(Gain):
            raise ValueError(
                "The 'gain' parameter of GradedRelevance must be one of "
                f"{', '.join(get_args(Gain))}. Got {self.gain!r} instead."
            )


def graded_gain(grades: ArrayLike, gain: Gain) -> NDArray[np.float64]:
    """Return the float64 gain of each grade: 2**grade - 1 ("exponential") or the grade."""
    values = np.asarray(grades, dtype=np.float64)
    if gain == "exponential":
        return np.exp2(values) - 1.0
    return values.copy()
