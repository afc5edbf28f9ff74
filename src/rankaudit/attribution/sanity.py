"""Model-parameter randomisation test (Adebayo et al., "Sanity checks for saliency maps",
NeurIPS 2018): do the explanations depend on the model's weights at all?

`check_sanity` explains a seeded sample of whole requests twice with the same attributors,
reference and settings: once with the trained ranker, once with a copy whose weights are drawn
afresh (`randomised_ranker`). Per tweet it takes the Spearman correlation between the two
attribution vectors (features of the final score) and summarises it by its median per method.
A faithful explanation of a trained model has little in common with that of random weights; a
median near 1 means the explanation is made by the method or the data, not by the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.attribution.api import attribute_frame, resolve_methods
from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.errors import AttributionError, ParameterError

__all__ = [
    "DEFAULT_MAX_SPEARMAN",
    "SANITY_COLUMNS",
    "SanityResult",
    "check_sanity",
    "randomised_ranker",
    "spearman_rows",
]

#: The gate: a median Spearman above this means the explanations ignore the weights.
DEFAULT_MAX_SPEARMAN = 0.3
#: Columns of `SanityResult.to_frame()`, in order.
SANITY_COLUMNS = ("method", "tweets", "undefined", "median_spearman", "max_spearman", "passed")
_ROW_KEYS = ["request_id", "tweet_id"]


def _randomised_fingerprint(fingerprint: str, seed: int) -> str:
    return hashlib.sha256(f"{fingerprint}\nrandomised-{seed}".encode()).hexdigest()


def _randomised_torch(ranker: Any, seed: int) -> Any:
    import copy

    import torch

    module = copy.deepcopy(ranker.module)
    # A private generator state: re-initialising must not move the caller's torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()
    module.eval()
    return dataclasses.replace(
        ranker,
        module=module,
        fingerprint=_randomised_fingerprint(ranker.fingerprint, seed),
        description=f"{ranker.description}, weights re-initialised (seed {seed})",
    )


def _randomised_linear(ranker: Any, seed: int) -> Any:
    coefficients = np.asarray(ranker.coefficients, dtype=np.float64)
    # Same scale (root mean square) as the trained coefficients, random signs and sizes.
    scale = float(np.sqrt(np.mean(coefficients**2))) if coefficients.size else 0.0
    drawn = np.random.default_rng(seed).standard_normal(coefficients.shape) * (scale or 1.0)
    drawn.setflags(write=False)
    return dataclasses.replace(
        ranker,
        coefficients=drawn,
        fingerprint=_randomised_fingerprint(ranker.fingerprint, seed),
    )


def randomised_ranker(ranker: Any, *, seed: int) -> Any:
    """Return a copy of `ranker` with the same architecture, features, heads and preprocessing
    but weights drawn afresh with `seed`: torch modules get `reset_parameters()` on every
    submodule that has one (buffers such as normalisation constants are kept); linear models
    get normal coefficients of the trained ones' root-mean-square scale. The fingerprint
    changes, so caches never mix the two. Raises AttributionError for other kinds."""
    if ranker.kind == "torch":
        return _randomised_torch(ranker, seed)
    if ranker.kind == "linear":
        return _randomised_linear(ranker, seed)
    if ranker.kind in ("lightgbm", "xgboost"):
        raise AttributionError(
            f"sanity: model {ranker.name} ({ranker.kind}) is made of trees: the randomisation "
            "test (retraining on labels shuffled within requests) is not supported for trees "
            "yet; run it on a torch or linear model"
        )
    raise AttributionError(
        f"sanity: model {ranker.name} ({ranker.kind}) has no weights to randomise; run it on "
        "a torch or linear model"
    )


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) of each row of `values`, 0-based."""
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    ranks = np.empty_like(values, dtype=np.float64)
    n, k = values.shape
    for i in range(n):
        row = sorted_values[i]
        # Start of each run of equal values; a run's members share the mean of its ranks.
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        ends = np.r_[starts[1:], k]
        mean_rank = (starts + ends - 1) / 2.0
        ranks[i, order[i]] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the Spearman correlation between each row of `a` and the same row of `b`
    (two [n, k] arrays; ties get average ranks); NaN where either row is constant."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"a and b must be two arrays of one shape [n, k]; got {a.shape}, {b.shape}"
        )
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(denominator > 0, (ra * rb).sum(axis=1) / denominator, np.nan)
    return np.asarray(rho, dtype=np.float64)


def _vectors(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per (request, tweet), one column per feature: attributions of the score."""
    part = frame.loc[(frame["method"] == method) & (frame["head"] == FINAL)]
    wide = part.set_index([*_ROW_KEYS, "feature"])["attribution"].unstack("feature")
    return wide.sort_index(axis=0).sort_index(axis=1)


@dataclass(frozen=True)
class SanityResult:
    """The randomisation test of one model: per tweet, the Spearman correlation between its
    attributions (final score) under the trained and the re-initialised weights.

    `per_tweet` has columns request_id, tweet_id, method, spearman (NaN where either vector is
    constant: undefined, left out of the median); `threshold` is the gate's largest median."""

    model: str
    reference: str
    seed: int
    threshold: float
    per_tweet: pd.DataFrame

    def medians(self) -> dict[str, float]:
        """Median Spearman per method (NaN when no tweet had a defined correlation)."""
        out: dict[str, float] = {}
        for method, values in self.per_tweet.groupby("method", sort=False)["spearman"]:
            defined = values.dropna()
            out[str(method)] = float(defined.median()) if len(defined) else float("nan")
        return out

    @property
    def passed(self) -> bool:
        """True when every method's median is defined and at most `threshold`."""
        return all(np.isfinite(m) and m <= self.threshold for m in self.medians().values())

    def to_frame(self) -> pd.DataFrame:
        """One row per method: see SANITY_COLUMNS."""
        rows = []
        medians = self.medians()
        for method, values in self.per_tweet.groupby("method", sort=False)["spearman"]:
            median = medians[str(method)]
            defined = values.dropna()
            rows.append(
                {
                    "method": str(method),
                    "tweets": len(values),
                    "undefined": int(values.isna().sum()),
                    "median_spearman": median,
                    "max_spearman": float(defined.max()) if len(defined) else float("nan"),
                    "passed": bool(np.isfinite(median) and median <= self.threshold),
                }
            )
        return pd.DataFrame(rows, columns=list(SANITY_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (NaN written as None)."""

        def number(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        methods = [
            {**row, "median_spearman": number(row["median_spearman"]),
             "max_spearman": number(row["max_spearman"])}
            for row in self.to_frame().to_dict(orient="records")
        ]  # fmt: skip
        return {
            "model": self.model,
            "reference": self.reference,
            "head": FINAL,
            "seed": self.seed,
            "max_spearman": self.threshold,
            "passed": self.passed,
            "methods": methods,
        }


def check_sanity(
    ranker: Any,
    rows: pd.DataFrame,
    *,
    methods: str | Sequence[str] = "all",
    settings: AttributionSettings | None = None,
    threshold: float = DEFAULT_MAX_SPEARMAN,
) -> SanityResult:
    """Explain `rows` (prepared log rows of whole requests) with the trained `ranker` and with
    `randomised_ranker(ranker, seed=settings.seed)`, against the request reference, with the
    same attributors and settings; returns the per-tweet Spearman correlations of the final
    score's attribution vectors and their medians per method.

    `methods` is `all` (every method that applies), one method name, or a sequence of them.
    Raises AttributionError for kinds without weights to randomise (trees, served orders).
    """
    if not 0.0 <= threshold <= 1.0 or isinstance(threshold, bool):
        raise ParameterError(
            f"The 'max_spearman' parameter of sanity must be in [0, 1]. Got {threshold!r} instead."
        )
    settings = settings or AttributionSettings()
    chosen: tuple[str, ...] = (
        resolve_methods(ranker, methods)
        if isinstance(methods, str)
        else tuple(m for name in methods for m in resolve_methods(ranker, name))
    )
    randomised = randomised_ranker(ranker, seed=settings.seed)
    options: dict[str, Any] = {"methods": chosen, "reference": "request", "heads": [FINAL]}
    trained = attribute_frame(ranker, rows, settings=settings, **options).frame
    shuffled = attribute_frame(randomised, rows, settings=settings, **options).frame
    parts = []
    for method in chosen:
        a, b = _vectors(trained, method), _vectors(shuffled, method)
        b = b.reindex(index=a.index, columns=a.columns)
        rho = spearman_rows(a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64))
        parts.append(a.index.to_frame(index=False).assign(method=method, spearman=rho))
    per_tweet = pd.concat(parts, ignore_index=True)
    return SanityResult(
        model=ranker.name, reference="request", seed=settings.seed, threshold=threshold,
        per_tweet=per_tweet,
    )  # fmt: skip
