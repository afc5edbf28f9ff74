"""From a workspace to a drift profile: sample whole requests, explain them in batches, reduce
them to per-request sums (`rankaudit.drift.sums`) and build the profile
(`rankaudit.drift.profile.build_profile`).

`explain_requests` is the one computation behind the in-memory `attribute_requests` and the
partitioned `rankaudit.drift.batch.RequestSumsTask`; `profile_model` runs the whole chain.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rankaudit.attribution.grouping import GroupMembers, group_members
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.data import schema
from rankaudit.drift.profile import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_HEADS,
    DEFAULT_SAMPLE_ROWS,
    DRIFT_SETTINGS,
    DriftProfile,
    build_profile,
)
from rankaudit.drift.sums import RequestSums, request_sums
from rankaudit.errors import ParameterError
from rankaudit.importance import Window

if TYPE_CHECKING:
    from rankaudit.engine import Engine
    from rankaudit.models.base import Ranker
    from rankaudit.workspace import Workspace

__all__ = [
    "attribute_requests",
    "explain_requests",
    "profile_background",
    "profile_groups",
    "profile_model",
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


def profile_model(
    workspace: Workspace,
    model: str,
    *,
    method: str = "ig",
    reference: str = "request",
    heads: Sequence[str] = DEFAULT_HEADS,
    sample: int = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    window: Window | None = None,
    settings: AttributionSettings = DRIFT_SETTINGS,
    replicates: int = DEFAULT_BOOTSTRAP,
    confidence: float = 0.95,
    progress: Callable[[int], None] = lambda rows: None,
    on_sample: Callable[[int], None] = lambda rows: None,
    engine: Engine | None = None,
    work_dir: Path | None = None,
    partitions: int | None = None,
) -> DriftProfile:
    """Sample whole requests from the workspace's logs, explain them and build the profile.

    Records the model (name, kind, sha256 fingerprint), the data (workspace name, log file
    names, window, the sample's fingerprint over ids and the model's columns), the method,
    reference, heads, settings, sample size and seed, and the rankaudit version; the profile
    holds per-group importance too, by the groups of the workspace's feature spec.
    `on_sample` is called with the sampled row count before attribution starts.

    Explained in this process by default. With a `work_dir` or an `engine`, explained as a
    partitioned, resumable run into `work_dir` (kept; a temporary folder, removed, when None)
    in `partitions` viewer partitions (`rankaudit.drift.batch.run_request_sums`): the profile
    is the in-memory one, number for number (`created_at` aside).
    """
    from rankaudit import __version__
    from rankaudit.attribution.cache import frame_fingerprint
    from rankaudit.attribution.registry import make_attributor
    from rankaudit.errors import AttributionError
    from rankaudit.importance import sample_requests

    if reference not in ("request", "global"):
        raise AttributionError(
            f"drift profiles use the 'request' or 'global' reference; got {reference!r}"
        )
    if partitions is not None and (isinstance(partitions, bool) or partitions < 1):
        raise ParameterError(
            f"The 'partitions' parameter of profile_model must be an int >= 1. "
            f"Got {partitions!r} instead."
        )
    if partitions is not None and engine is None and work_dir is None:
        raise ParameterError("partitions apply to a partitioned run: give a work_dir or an engine")
    ranker = workspace.ranker(model)
    # Checks method and heads before the sample is drawn.
    attributor = make_attributor(ranker, method, heads=heads, settings=settings)
    groups = group_members(attributor.features, workspace.spec)
    rows = sample_requests(workspace, sample, seed=seed, window=window)
    on_sample(len(rows))
    options: dict[str, Any] = {
        "method": method, "reference": reference, "heads": heads, "settings": settings,
        "groups": groups, "progress": progress,
    }  # fmt: skip
    if engine is None and work_dir is None:
        sums = attribute_requests(workspace, model, rows, **options)
    else:
        from rankaudit.drift.batch import read_request_sums, run_request_sums

        root = work_dir if work_dir is not None else Path(tempfile.mkdtemp(prefix="rankaudit-"))
        try:
            run = run_request_sums(
                workspace, model, rows, out=root, engine=engine, partitions=partitions, **options
            )
            sums = read_request_sums(run.root)
        finally:
            if work_dir is None:
                shutil.rmtree(root, ignore_errors=True)
    since, until = window if window is not None else (None, None)
    metadata = {
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rankaudit_version": __version__,
        "model": {"name": ranker.name, "kind": ranker.kind, "fingerprint": ranker.fingerprint},
        "data": {
            "workspace": workspace.name,
            "logs": [p.name for p in workspace.logs.files],
            "window": {
                "since": None if since is None else pd.Timestamp(since).isoformat(),
                "until": None if until is None else pd.Timestamp(until).isoformat(),
            },
            "fingerprint": frame_fingerprint(rows, list(ranker.required_columns)),
        },
        "sample": {"rows_requested": sample, "seed": seed},
        "source": f"workspace {workspace.name}",
    }
    return build_profile(
        sums, method=method, reference=reference, settings=settings, replicates=replicates,
        seed=seed, confidence=confidence, metadata=metadata,
    )  # fmt: skip
