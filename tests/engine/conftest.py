"""Shared fixtures of the engine tests: one local Ray cluster for the session, and a small
workspace of demo viewers."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[ModuleType]:
    """Ray, initialised once with a local two-CPU cluster that every Ray test reuses (a
    cluster takes seconds to start); skips the test when Ray is not installed."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
            logging_level=logging.ERROR,
        )  # fmt: skip
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace cut to four viewers: the two smallest with two or more requests and
    the two smallest with one (103 rows, in all three partitions of a three-partition run).
    Its models are linked, not copied."""
    root = tmp_path_factory.mktemp("small-demo")
    frame = pd.read_parquet(DEMO / "logs" / "timelines.parquet")
    per_user = frame.groupby("user_id").agg(
        requests=("request_id", "nunique"), rows=("request_id", "size")
    )
    by_size = per_user.reset_index().sort_values(["rows", "user_id"])
    users = [
        *by_size.loc[by_size["requests"] >= 2, "user_id"].head(2),
        *by_size.loc[by_size["requests"] == 1, "user_id"].head(2),
    ]
    (root / "logs").mkdir()
    frame.loc[frame["user_id"].isin(users)].to_parquet(
        root / "logs" / "timelines.parquet", index=False
    )
    for name in ("rankaudit.toml", "features.yaml", "ground_truth.json", "evaluation.json"):
        shutil.copy(DEMO / name, root / name)
    (root / "models").symlink_to(DEMO / "models", target_is_directory=True)
    return root
