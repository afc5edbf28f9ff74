"""Shared fixtures: a small synthetic candidate log and the user package on sys.path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).parent

NUMERIC = ("tweet_age_minutes", "author_followers", "has_image", "real_graph_weight")
CATEGORICAL = ("client",)
CLIENTS = ("android", "ios", "web")


def make_frame(n: int = 240, seed: int = 7) -> pd.DataFrame:
    """Return a synthetic log: ids, position, four numeric features, a `client` category and
    two engagement labels that depend on the features (so boosters have something to learn).
    The index is deliberately not 0..n-1, to check that outputs keep it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "request_id": np.repeat([f"r{i}" for i in range(n // 12)], 12)[:n],
            "tweet_id": [f"t{i}" for i in range(n)],
            "position": np.tile(np.arange(1, 13), n // 12 + 1)[:n],
            "tweet_age_minutes": rng.exponential(300.0, n),
            "author_followers": rng.lognormal(6.0, 2.0, n).round(),
            "has_image": rng.integers(0, 2, n).astype(float),
            "real_graph_weight": rng.uniform(0.0, 1.0, n),
            "client": rng.choice(list(CLIENTS), n),
        },
        index=pd.RangeIndex(1000, 1000 + n),
    )
    logit = (
        -0.004 * frame["tweet_age_minutes"]
        + 2.0 * frame["real_graph_weight"]
        + 0.8 * (frame["client"] == "ios")
    )
    frame["label_favorite"] = (logit + rng.normal(0, 0.5, n) > 0.0).astype(int)
    frame["label_reply"] = (frame["has_image"] + rng.normal(0, 0.5, n) > 0.8).astype(int)
    return frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def user_models_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the `user_models` package under tests/models importable."""
    monkeypatch.syspath_prepend(str(HERE))
