"""Settings of the ordering comparison, grouped in frozen objects and validated once.

Constructors only store their arguments; `validated(caller)` checks them at the entry point
(`compare_orderings`, `compare_request`, `compare_population`, `find_surprises`) and raises
`ParameterError` with one message template:
"The 'k' parameter of compare_orderings must be an int >= 1. Got 0 instead."
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from rankaudit.errors import ParameterError

__all__ = [
    "DEFAULT_MODELS",
    "CompareSettings",
    "Scope",
    "SurpriseSettings",
    "check_models",
    "json_float",
]

#: The default pair: the reference ranker first, the ranker under audit second.
DEFAULT_MODELS: tuple[str, str] = ("baseline", "deep")

#: Which requests a population comparison covers: those served from the workspace's
#: `holdout_from` on (what the rankers were not trained on), or every logged request.
Scope = Literal["holdout", "all"]


def json_float(value: object) -> float | None:
    """A JSON-safe float for result documents: NaN and infinities become None (null)."""
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def _message(name: str, caller: str, expected: str, value: object) -> str:
    return f"The {name!r} parameter of {caller} must be {expected}. Got {value!r} instead."


def _int_at_least(value: object, minimum: int, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(_message(name, caller, f"an int >= {minimum}", value))
    return value


def _open_unit(value: object, name: str, caller: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0.0 < float(value) < 1.0
    ):
        raise ParameterError(_message(name, caller, "a float in (0, 1)", value))
    return float(value)


def check_models(models: object, caller: str) -> tuple[str, str]:
    """Return `models` as a pair of two different non-empty names; raise ParameterError."""
    if (
        not isinstance(models, tuple | list)
        or len(models) != 2
        or not all(isinstance(m, str) and m for m in models)
        or models[0] == models[1]
    ):
        raise ParameterError(
            _message("models", caller, "a pair of two different model names", models)
        )
    return (models[0], models[1])


@dataclass(frozen=True)
class CompareSettings:
    """How orderings are compared and how population statistics are computed.

    - `k`: cut-offs for top-k overlap, entries/exits and NDCG@k (default 5 and 10).
    - `p`: persistence of rank-biased overlap, in (0, 1) (default 0.9: the top 10 positions
      carry about 86% of the weight).
    - `n_bootstrap`: resamples of requests for percentile confidence intervals.
    - `n_permutations`: random sign flips of the paired randomization test (when 2^n is at
      most this, every sign assignment is enumerated instead: an exact test).
    - `confidence`: level of the intervals, in (0, 1).
    - `seed`: seeds both the bootstrap and the randomization test, so reruns agree.
    """

    k: tuple[int, ...] = (5, 10)
    p: float = 0.9
    n_bootstrap: int = 1000
    n_permutations: int = 10_000
    confidence: float = 0.95
    seed: int = 0

    def validated(self, caller: str) -> CompareSettings:
        """Return the settings with `k` sorted and deduplicated; raise ParameterError naming
        `caller` on the first bad value."""
        ks = self.k if isinstance(self.k, tuple | list) else (self.k,)
        if not ks:
            raise ParameterError(_message("k", caller, "a non-empty list of ints >= 1", self.k))
        checked = tuple(sorted({_int_at_least(k, 1, "k", caller) for k in ks}))
        return CompareSettings(
            k=checked,
            p=_open_unit(self.p, "p", caller),
            n_bootstrap=_int_at_least(self.n_bootstrap, 1, "n_bootstrap", caller),
            n_permutations=_int_at_least(self.n_permutations, 1, "n_permutations", caller),
            confidence=_open_unit(self.confidence, "confidence", caller),
            seed=_int_at_least(self.seed, 0, "seed", caller),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "k": list(self.k),
            "p": self.p,
            "n_bootstrap": self.n_bootstrap,
            "n_permutations": self.n_permutations,
            "confidence": self.confidence,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class SurpriseSettings:
    """How the surprise score is computed (see `rankaudit.compare.surprise`).

    - `k`: the top of the timeline the score looks at (promotions, feature ranges).
    - `p`: persistence of the RBO behind the disagreement component.
    - the four weights: each component's share of the score; they are normalised to sum to 1
      (over the components that can be computed).
    """

    k: int = 5
    p: float = 0.9
    disagreement: float = 1.0
    demoted_engagement: float = 1.0
    promoted_unengaged: float = 1.0
    out_of_range: float = 1.0

    def validated(self, caller: str) -> SurpriseSettings:
        """Return the settings if valid; raise ParameterError naming `caller` otherwise."""
        for name in ("disagreement", "demoted_engagement", "promoted_unengaged", "out_of_range"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ParameterError(_message(name, caller, "a float >= 0", value))
        if self.disagreement + self.demoted_engagement + self.promoted_unengaged <= 0 and (
            self.out_of_range <= 0
        ):
            raise ParameterError(
                f"The weights of {caller} must not all be 0. Got all four 0 instead."
            )
        return SurpriseSettings(
            k=_int_at_least(self.k, 1, "k", caller),
            p=_open_unit(self.p, "p", caller),
            disagreement=float(self.disagreement),
            demoted_engagement=float(self.demoted_engagement),
            promoted_unengaged=float(self.promoted_unengaged),
            out_of_range=float(self.out_of_range),
        )

    @property
    def weights(self) -> dict[str, float]:
        """The four component weights by component name (not yet normalised)."""
        return {
            "disagreement": self.disagreement,
            "demoted_engagement": self.demoted_engagement,
            "promoted_unengaged": self.promoted_unengaged,
            "out_of_range": self.out_of_range,
        }
