"""Synthetic request sums and profiles with known shares, for the drift tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rankaudit.drift import DRIFT_SETTINGS, DriftProfile, RequestSums, build_profile

FEATURES = ("a", "b", "c", "d", "e", "f", "g", "h")
#: Shares of the synthetic reference model (sum to 1), in FEATURES order.
SHARES = (0.30, 0.22, 0.16, 0.12, 0.08, 0.06, 0.04, 0.02)


def synthetic_sums(
    shares: Sequence[float] = SHARES,
    *,
    requests: int = 400,
    seed: int = 0,
    noise: float = 0.3,
    features: Sequence[str] = FEATURES,
    heads: Sequence[str] = ("score",),
    prefix: str = "r",
) -> RequestSums:
    """Per-request sums whose expected shares are `shares`: each request has 15-34 rows and
    each feature's |attribution| sum is rows * share * a mean-one gamma factor (`noise` is its
    coefficient of variation)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(15, 35, size=requests)
    target = np.asarray(shares, dtype=np.float64)
    shape = 1.0 / noise**2
    magnitude = np.stack(
        [
            rows[:, None] * target[None, :] * rng.gamma(shape, 1.0 / shape, (requests, len(target)))
            for _ in heads
        ]
    )
    return RequestSums(
        heads=tuple(heads),
        features=tuple(features),
        requests=tuple(f"{prefix}{i:05d}" for i in range(requests)),
        rows=rows.astype(np.int64),
        magnitude=magnitude,
        signed=magnitude * 0.5,
        completeness={h: np.full(int(rows.sum()), 0.01) for h in heads},
    )


def synthetic_profile(
    shares: Sequence[float] = SHARES,
    *,
    seed: int = 0,
    model: str = "m",
    method: str = "ig",
    reference: str = "request",
    **options: object,
) -> DriftProfile:
    """A profile of `synthetic_sums(shares, seed=seed, **options)`."""
    sums = synthetic_sums(shares, seed=seed, **options)  # type: ignore[arg-type]
    return build_profile(
        sums, method=method, reference=reference, settings=DRIFT_SETTINGS, seed=seed,
        metadata={"model": {"name": model, "kind": "torch", "fingerprint": "0" * 64}},
    )  # fmt: skip


def shifted(shares: Sequence[float], feature: int, to: float) -> tuple[float, ...]:
    """`shares` with one feature set to `to` and the others rescaled to sum to 1."""
    values = np.asarray(shares, dtype=np.float64)
    rest = np.delete(np.arange(len(values)), feature)
    values[rest] *= (1.0 - to) / values[rest].sum()
    values[feature] = to
    return tuple(float(v) for v in values)
