"""`profile_model`: from a workspace to a drift profile, in memory or on an engine.

It sits above both paths (`rankaudit.drift.pipeline` in memory, `rankaudit.drift.batch`
partitioned), which share `explain_requests`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rankaudit.attribution.grouping import group_members
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.drift.batch import read_request_sums, run_request_sums
from rankaudit.drift.pipeline import attribute_requests
from rankaudit.drift.profile import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_HEADS,
    DEFAULT_SAMPLE_ROWS,
    DRIFT_SETTINGS,
    DriftProfile,
    build_profile,
)
from rankaudit.errors import ParameterError
from rankaudit.importance import Window

if TYPE_CHECKING:
    from rankaudit.engine import Engine
    from rankaudit.workspace import Workspace

__all__ = ["profile_model"]


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
