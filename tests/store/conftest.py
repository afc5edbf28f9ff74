"""Fixtures of the store tests: demo workspaces on a few viewers, and attribution stores
written by `rankaudit attribute`'s library functions."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from rankaudit.attribution import plan_attribution, run_attribution
from rankaudit.store import partition_of
from rankaudit.workspace import load_workspace

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
DEMO_LOG = DEMO / "logs" / "timelines.parquet"
PARTITIONS = 4


def demo_workspace(
    root: Path, *, users: Sequence[str] | None = None, attributions: str | list[str] | None = None
) -> Path:
    """A rankaudit.toml in `root` on the demo's spec and models (by absolute path); its log is
    the demo's, or only the rows of `users` (written to `root/logs`). `attributions` names a
    store folder relative to `root` (or a list of them)."""
    root.mkdir(parents=True, exist_ok=True)
    text = (DEMO / "rankaudit.toml").read_text()
    text = re.sub(
        r'^(logs|spec|ground_truth) = "([^"]+)"',
        lambda m: f'{m[1]} = "{DEMO / m[2]}"',
        text,
        flags=re.M,
    )
    text = re.sub(r'^path = "([^"]+)"', lambda m: f'path = "{DEMO / m[1]}"', text, flags=re.M)
    if users is not None:
        log = pd.read_parquet(DEMO_LOG)
        (root / "logs").mkdir(parents=True, exist_ok=True)
        log.loc[log["user_id"].isin(users)].to_parquet(root / "logs" / "timelines.parquet")
        text = re.sub(r"^logs = .*$", 'logs = "logs"', text, flags=re.M)
    extra = f"attributions = {json.dumps(attributions)}\n" if attributions is not None else ""
    (root / "rankaudit.toml").write_text(extra + text)
    return root


def viewers_in_distinct_partitions(count: int, *, served_from: str | None = None) -> list[str]:
    """`count` demo viewers whose ids hash to distinct partitions of a `PARTITIONS` store (with
    `served_from`, viewers served a request from then on)."""
    log = pd.read_parquet(DEMO_LOG, columns=["user_id", "served_at"])
    if served_from is not None:
        log = log.loc[log["served_at"] >= pd.Timestamp(served_from)]
    users = pd.Series(sorted(log["user_id"].unique()))
    buckets = partition_of(users, PARTITIONS)
    chosen: dict[int, str] = {}
    for user, bucket in zip(users, buckets, strict=True):
        chosen.setdefault(int(bucket), str(user))
        if len(chosen) == count:
            break
    return list(chosen.values())


@pytest.fixture(scope="session")
def store_viewers() -> list[str]:
    """Three viewers in three of the four partitions (the fourth stays unfinished)."""
    return viewers_in_distinct_partitions(3)


@pytest.fixture(scope="session")
def baseline_store(tmp_path_factory: pytest.TempPathFactory, store_viewers: list[str]) -> Path:
    """A long attribution store of the baseline ranker (tree SHAP, every head and the score,
    request reference) over the three viewers' requests, in four partitions."""
    root = tmp_path_factory.mktemp("baseline-store")
    workspace = load_workspace(demo_workspace(root / "workspace", users=store_viewers))
    plan = plan_attribution(
        workspace, "baseline", method="all", reference="request", out=root / "store",
        partitions=PARTITIONS,
    )  # fmt: skip
    run_attribution(plan)
    return root / "store"
