"""What an attribution run explains and how: one frozen settings object threaded through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "DEVICES",
    "FINAL",
    "INTERACTIVE_SETTINGS",
    "METHODS",
    "REFERENCES",
    "AttributionSettings",
    "Device",
    "Method",
    "Reference",
]

Method = Literal["ig", "shap"]
#: Where torch attributions run: `auto` picks CUDA, then MPS, then the CPU.
Device = Literal["auto", "cpu", "cuda", "mps"]
DEVICES: tuple[str, ...] = get_args(Device)
Reference = Literal["global", "request", "pair"]
METHODS: tuple[str, ...] = get_args(Method)
REFERENCES: tuple[str, ...] = get_args(Reference)
#: The `head` value of attributions of the final (weighted) score.
FINAL = "score"


@dataclass(frozen=True)
class AttributionSettings:
    """Knobs of an attribution run; part of the cache key.

    - `ig_steps`: Gauss-Legendre points of the first IG pass over every (row, baseline) pair.
      A row whose relative completeness error exceeds `tolerance` for any explained output
      refines only its pairs that miss their share of that tolerance (a pair's own error,
      sum(attr) - (f(x) - f(b)), is known), worst first, within the row's budget. A module
      with ReLU kinks cuts a refined pair's path at every unit that switches along it and
      integrates each smooth piece on its own (`ig_steps` points per unit of path, at least
      one a piece, doubled at each further step); a smooth module's pair gets four times the
      points. Rows still above the tolerance are flagged `converged = False`.
    - `ig_max_steps`: sets the row's budget: the points that refining every pair from
      `ig_steps` by fours up to `ig_max_steps` costs (32 + 128 points per pair at the default,
      what the former whole-row refinement spent at its 128-point cap); twice that under the
      request reference, where a path serves two rows and each pays for all of it. Equal to
      `ig_steps`: no refinement.
    - `ig_pair_max_steps`: the most points one pair may reach.
    - `tolerance`: relative completeness error accepted by IG, as the issue defines it:
      |sum(attr) - (f(x) - f(ref))| / |f(x) - f(ref)|. An absolute error <= `absolute_floor`
      always passes (rows scored at their reference have no relative error to speak of).
      Along a straight path a ReLU network's gradient jumps wherever a unit switches, so one
      rule over the whole path converges only as 1/points (the demo's deep ranker: 35% of rows
      within 1% at 32 points, 76% at 128); cut at those switches, the pieces are smooth and
      the demo reaches 99.8% of rows (`benchmarks/ig_faithfulness.py`).
    - `background_size`: rows sampled (seeded) from the training window for the `global` reference.
    - `max_baselines`: at most this many candidates (seeded sample) serve as baselines of one
      `request` group; timelines are usually smaller, so this is exact for them.
    - `shap_permutations`: antithetic permutation pairs of the permutation Shapley estimators
      (torch and the model-agnostic fallback); additivity is exact whatever the number.
    - `seed`: every sample drawn by the run.
    - `device`: where torch attributions run (`auto`: CUDA, then MPS, then the CPU); the
      results equal the CPU's within 1e-5 relative. Other model kinds always run on the CPU.
    """

    ig_steps: int = 32
    ig_max_steps: int = 128
    ig_pair_max_steps: int = 2048
    tolerance: float = 0.01
    absolute_floor: float = 1e-6
    background_size: int = 32
    max_baselines: int = 64
    shap_permutations: int = 5
    seed: int = 0
    device: Device = "cpu"

    def __post_init__(self) -> None:
        for name in (
            "ig_steps",
            "ig_max_steps",
            "ig_pair_max_steps",
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
        if self.device not in DEVICES:
            raise ValueError(
                f"The 'device' parameter of AttributionSettings must be one of "
                f"{', '.join(DEVICES)}. Got {self.device!r} instead."
            )


#: Settings of on-the-fly explanations (the web app): fewer IG points and
#: SHAP permutations, so one request explains in well under a second. Completeness is still
#: measured and reported for every row.
INTERACTIVE_SETTINGS = AttributionSettings(ig_steps=16, ig_max_steps=64, shap_permutations=2)
