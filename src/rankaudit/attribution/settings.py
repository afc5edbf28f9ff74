"""What an attribution run explains and how: one frozen settings object threaded through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "FINAL",
    "INTERACTIVE_SETTINGS",
    "METHODS",
    "REFERENCES",
    "AttributionSettings",
    "Method",
    "Reference",
]

Method = Literal["ig", "shap"]
Reference = Literal["global", "request", "pair"]
METHODS: tuple[str, ...] = get_args(Method)
REFERENCES: tuple[str, ...] = get_args(Reference)
#: The `head` value of attributions of the final (weighted) score.
FINAL = "score"


@dataclass(frozen=True)
class AttributionSettings:
    """Knobs of an attribution run; part of the cache key.

    - `ig_steps`: Gauss-Legendre points of the first IG pass; rows whose relative completeness
      error exceeds `tolerance` are recomputed with four times the points, up to `ig_max_steps`
      (rows still above it are flagged `converged = False`). 32 points settle ~80% of the demo
      rows; quadrupling rather than doubling wastes less work on the rest.
    - `tolerance`: relative completeness error accepted by IG: |sum(attr) - (f(x) - f(ref))|
      divided by max(|f(x) - f(ref)|, mean over baselines of |f(x) - f(b)|). The second term
      matters for rows scored close to their reference: their pairwise differences cancel, their
      integration errors do not. An absolute error <= `absolute_floor` always passes. The
      reported `completeness_relative` divides by |f(x) - f(ref)| alone, as defined.
    - `background_size`: rows sampled (seeded) from the training window for the `global` reference.
    - `max_baselines`: at most this many candidates (seeded sample) serve as baselines of one
      `request` group; timelines are usually smaller, so this is exact for them.
    - `shap_permutations`: antithetic permutation pairs of the permutation Shapley estimators
      (torch and the model-agnostic fallback); additivity is exact whatever the number.
    - `seed`: every sample drawn by the run.
    """

    ig_steps: int = 32
    ig_max_steps: int = 512
    tolerance: float = 0.01
    absolute_floor: float = 1e-6
    background_size: int = 32
    max_baselines: int = 64
    shap_permutations: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "ig_steps",
            "ig_max_steps",
            "background_size",
            "max_baselines",
            "shap_permutations",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"The {name!r} parameter of AttributionSettings must be an int >= 1. "
                    f"Got {value!r} instead."
                )
        if not 0 < self.tolerance < 1:
            raise ValueError(
                f"The 'tolerance' parameter of AttributionSettings must be in (0, 1). "
                f"Got {self.tolerance!r} instead."
            )


#: Settings of on-the-fly explanations (the web app, `rankaudit explain`): fewer IG points and
#: SHAP permutations, so one request explains in well under a second. Completeness is still
#: measured and reported for every row.
INTERACTIVE_SETTINGS = AttributionSettings(ig_steps=16, ig_max_steps=256, shap_permutations=2)
