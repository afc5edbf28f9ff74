"""From a workspace to a drift profile: sample whole requests, explain them in batches, reduce
them to per-request sums (`rankaudit.drift.sums`) and build the profile
(`rankaudit.drift.profile.build_profile`).

`explain_requests` is the one computation behind the in-memory `attribute_requests` and the
partitioned `rankaudit.drift.batch.RequestSumsTask`; `rankaudit.drift.run.profile_model` runs
the whole chain on either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rankaudit.attribution.grouping import GroupMembers, group_members
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.data import schema
from rankaudit.drift.profile import (
    DEFAULT_HEADS,
    DRIFT_SETTINGS,
)
from rankaudit.drift.sums import RequestSums, request_sums
from rankaudit.errors import ParameterError

if TYPE_CHECKING:
    from rankaudit.models.base import Ranker
    from rankaudit.workspace import Workspace

__all__ = [
    "attribute_requests",
    "explain_requests",
    "profile_background",
    "profile_groups",
]

#: Requests explained per batch: bounds memory (the long frame of one batch) and progress steps.
_BATCH_REQUESTS = 256


def _request_batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    ids = rows[schema.REQUEST_ID].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    for i in range(0, len(starts), size):
        stop = starts[i + size] if i + size < len(starts) else len(rows)
        yield rows.iloc[starts[i] : stop]


def explain_requests(
    ranker: Ranker,
    rows: pd.DataFrame,
    *,
    method: str,
    reference: str,
    heads: Sequence[str],
    settings: AttributionSettings,
    background: pd.DataFrame | None,
    groups: GroupMembers | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> RequestSums:
    """Explain `rows` (whole requests) with `ranker` in batches of requests and return their
    per-request sums: the one computation behind `attribute_requests` and the partitioned
    `rankaudit.drift.batch.RequestSumsTask`. Each request is explained on its own, so its sums
    do not depend on the other rows. With `groups`, the sums hold each group's own magnitude
    too (`request_sums`). `progress` is called with the rows done per batch."""
    from rankaudit.attribution import attribute_frame

    # Requests must be contiguous for batching; a stable sort keeps the stored row order.
    rows = rows.sort_values(schema.REQUEST_ID, kind="stable").reset_index(drop=True)
    parts = []
    for batch in _request_batches(rows, _BATCH_REQUESTS):
        result = attribute_frame(
            ranker, batch, methods=[method], reference=reference, heads=heads, settings=settings,
            background=background if reference == "global" else None,
        )  # fmt: skip
        parts.append(request_sums(result.frame, heads=heads, groups=groups))
        progress(len(batch))
    return RequestSums.concat(parts)


def attribute_requests(
    workspace: Workspace,
    model: str,
    rows: pd.DataFrame,
    *,
    method: str = "ig",
    reference: str = "request",
    heads: Sequence[str] = DEFAULT_HEADS,
    settings: AttributionSettings = DRIFT_SETTINGS,
    groups: GroupMembers | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> RequestSums:
    """Explain `rows` (whole requests, e.g. from `sample_requests`) in batches of requests and
    return their per-request sums, with the groups of the workspace's feature spec (or
    `groups`; `{}` for none). `progress` is called with the rows done per batch."""
    from rankaudit.errors import AttributionError

    if rows.empty:
        raise ParameterError("no rows to profile: the sample is empty")
    if reference not in ("request", "global"):
        raise AttributionError(
            f"global importance needs the 'request' or 'global' reference; got {reference!r}"
        )
    if groups is None:
        groups = profile_groups(workspace, model, method=method, heads=heads, settings=settings)
    return explain_requests(
        workspace.ranker(model), rows, method=method, reference=reference, heads=heads,
        settings=settings, background=profile_background(workspace, reference, settings),
        groups=groups, progress=progress,
    )  # fmt: skip


def profile_groups(
    workspace: Workspace,
    model: str,
    *,
    method: str,
    heads: Sequence[str],
    settings: AttributionSettings,
) -> dict[str, tuple[str, ...]]:
    """The feature groups of the model's attributed features by the workspace's spec
    (`rankaudit.attribution.grouping.group_members`): group name -> members."""
    from rankaudit.attribution.registry import make_attributor

    attributor = make_attributor(workspace.ranker(model), method, heads=heads, settings=settings)
    return group_members(attributor.features, workspace.spec)


def profile_background(
    workspace: Workspace, reference: str, settings: AttributionSettings
) -> pd.DataFrame | None:
    """The background sample of the global reference (None for the request reference)."""
    from rankaudit.attribution import background_sample

    if reference != "global":
        return None
    return background_sample(workspace, settings.background_size, settings.seed)
