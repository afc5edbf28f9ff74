"""Small in-memory rankers and requests for the rank-level attribution tests, and a
brute-force Shapley enumeration written independently of the library (itertools subsets)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ToyLinear:
    """score = x @ w + shift[category]; optional heads: p_h = x @ head_w[h], weights given."""

    name: str
    numeric: tuple[str, ...]
    weights: tuple[float, ...]
    categorical: tuple[str, ...] = ()
    shifts: Mapping[str, float] = field(default_factory=dict)
    head_w: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    head_weights: Mapping[str, float] = field(default_factory=dict)
    kind: str = "toy"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def required_columns(self) -> tuple[str, ...]:
        return self.feature_names

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return self.categorical

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.head_w)

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[list(self.numeric)].to_numpy(dtype=np.float64)
        return pd.DataFrame({h: x @ np.array(w) for h, w in self.head_w.items()}, index=frame.index)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        if self.head_w:
            probs = self.head_scores(frame)
            return np.asarray(sum(self.head_weights[h] * probs[h] for h in self.heads))
        x = frame[list(self.numeric)].to_numpy(dtype=np.float64)
        out = x @ np.array(self.weights)
        for name in self.categorical:
            out = out + frame[name].map(lambda v: self.shifts.get(str(v), 0.0)).to_numpy(float)
        return np.asarray(out, dtype=np.float64)


def request(n: int, numeric: Sequence[str], seed: int, *, client: bool = False) -> pd.DataFrame:
    """One request of `n` candidates with seeded features (and a `client` category)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=n) for name in numeric})
    frame.insert(0, "tweet_id", [f"t{i:03d}" for i in range(n)])
    frame.insert(0, "request_id", "r1")
    if client:
        frame["client"] = rng.choice(["android", "ios", "web"], size=n)
    frame["label"] = rng.integers(0, 3, size=n).astype(float)
    return frame


def brute_force_shapley(value: Callable[[frozenset[int]], float], n_players: int) -> np.ndarray:
    """Shapley values by the subset formula over all 2^P coalitions."""
    phi = np.zeros(n_players)
    for i in range(n_players):
        others = [j for j in range(n_players) if j != i]
        for size in range(n_players):
            weight = math.factorial(size) * math.factorial(n_players - size - 1)
            weight /= math.factorial(n_players)
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                phi[i] += weight * (value(s | {i}) - value(s))
    return phi


def masked(rows: pd.DataFrame, features: Sequence[str], keep: frozenset[int],
           reference: Mapping[str, object]) -> pd.DataFrame:  # fmt: skip
    """`rows` with the features not in `keep` at `reference`."""
    out = rows.copy()
    for j, name in enumerate(features):
        if j not in keep:
            out[name] = reference[name]
    return out


def strict_order_ranks(scores: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """1-based ranks: score descending, ties by id ascending (sorted by Python)."""
    order = sorted(range(len(scores)), key=lambda a: (-scores[a], ids[a]))
    ranks = np.empty(len(scores))
    for position, a in enumerate(order, start=1):
        ranks[a] = position
    return ranks
