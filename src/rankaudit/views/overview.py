"""The workspace at a glance: what it holds, how the two rankers compare over the held-out
requests, and the requests most worth a look."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import pandas as pd

from rankaudit.compare import (
    CompareSettings,
    PopulationComparison,
    SurpriseList,
    SurpriseSettings,
    compare_population,
    find_surprises,
)
from rankaudit.data import schema
from rankaudit.data.index import ViewerIndex
from rankaudit.workspace import Workspace

__all__ = ["OverviewView", "WorkspaceSummary", "build_overview", "summarize_workspace"]


@dataclass(frozen=True)
class WorkspaceSummary:
    """Counts and configuration of a workspace (no model is run)."""

    name: str
    rows: int
    requests: int
    users: int
    first_served: pd.Timestamp
    last_served: pd.Timestamp
    holdout_from: pd.Timestamp | None
    features: int
    heads: Mapping[str, float]
    models: tuple[tuple[str, str], ...]  # (name, kind)


@dataclass(frozen=True, eq=False)
class OverviewView:
    """`population`: rankers a and b over the held-out requests (every request without a
    holdout); `surprises`: every request of that scope ranked by surprise."""

    summary: WorkspaceSummary
    population: PopulationComparison
    surprises: SurpriseList


def summarize_workspace(workspace: Workspace, index: ViewerIndex) -> WorkspaceSummary:
    """The workspace's counts (from `index`) and configuration."""
    served = index.requests[schema.SERVED_AT]
    return WorkspaceSummary(
        name=workspace.name,
        rows=index.rows,
        requests=index.n_requests,
        users=index.n_users,
        first_served=pd.Timestamp(served.min()),
        last_served=pd.Timestamp(served.max()),
        holdout_from=workspace.holdout_from,
        features=len(workspace.spec),
        heads=MappingProxyType(dict(workspace.heads)),
        models=tuple((name, config.kind) for name, config in workspace.models.items()),
    )


def build_overview(
    workspace: Workspace,
    index: ViewerIndex,
    *,
    models: tuple[str, str],
    settings: CompareSettings,
    surprise_settings: SurpriseSettings,
) -> OverviewView:
    """Compare `models` over the held-out requests and rank them by surprise (seconds on a
    1M-row log: the caller caches the result)."""
    return OverviewView(
        summary=summarize_workspace(workspace, index),
        population=compare_population(workspace, models=models, settings=settings),
        surprises=find_surprises(workspace, models=models, settings=surprise_settings),
    )
