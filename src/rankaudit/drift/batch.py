"""The explaining step of a drift profile as a partitioned, resumable run: per-request sums in a
store (`rankaudit.store.layout`, kind "request-sums").

`run_request_sums` stages the sampled rows by viewer partition and runs `RequestSumsTask` on
each partition with an engine (`rankaudit.engine`); the task calls `explain_requests`, the
function the in-memory `attribute_requests` uses, and writes `RequestSums.to_frame` rows:
one per (request, head, feature) with `magnitude` and `signed` sums, the request's `rows`, and
its rows' completeness errors. `read_request_sums` reads them back as the `RequestSums` that
`build_profile` turns into the profile, the in-memory one number for number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.dataset as ds

from rankaudit.attribution.cache import frame_fingerprint
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.data import schema
from rankaudit.drift.pipeline import explain_requests, profile_background
from rankaudit.drift.profile import DEFAULT_HEADS, DRIFT_SETTINGS
from rankaudit.drift.sums import GroupMembers, RequestSums
from rankaudit.engine import Engine, PartitionedRun, PartitionTask, run_partitioned
from rankaudit.errors import ParameterError
from rankaudit.models import ModelConfig, cached_ranker
from rankaudit.store import default_partitions
from rankaudit.store.layout import complete_store

if TYPE_CHECKING:
    from rankaudit.workspace import Workspace

__all__ = ["RequestSumsTask", "read_request_sums", "run_request_sums"]


@dataclass(frozen=True, eq=False)
class RequestSumsTask(PartitionTask):
    """Explain one partition's sampled requests and keep their sums: the pure unit of work
    (picklable: a model config and options; the ranker is loaded once per worker)."""

    kind = "request-sums"

    config: ModelConfig
    model_fingerprint: str
    method: str
    reference: str
    heads: tuple[str, ...]
    settings: AttributionSettings
    background: pd.DataFrame | None = None
    groups: GroupMembers | None = None

    def setup(self) -> None:
        cached_ranker(self.config)

    def job(self) -> dict[str, Any]:
        features = list(cached_ranker(self.config).required_columns)
        # Groups are listed only when profiled, so runs without them keep their identity.
        groups = {"groups": {g: list(m) for g, m in self.groups.items()}} if self.groups else {}
        return {
            "model": self.config.name,
            "model_fingerprint": self.model_fingerprint,
            "method": self.method,
            "reference": self.reference,
            "heads": list(self.heads),
            "settings": asdict(self.settings),
            "background": frame_fingerprint(self.background, features),
            **groups,
        }

    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        sums = explain_requests(
            cached_ranker(self.config), rows, method=self.method, reference=self.reference,
            heads=self.heads, settings=self.settings, background=self.background,
            groups=self.groups,
        )  # fmt: skip
        yield sums.to_frame(), {"requests": len(sums.requests)}

    @staticmethod
    def combine(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"requests": sum(int(s.get("requests", 0)) for s in summaries)}


def run_request_sums(
    workspace: Workspace,
    model: str,
    rows: pd.DataFrame,
    *,
    out: Path,
    method: str = "ig",
    reference: str = "request",
    heads: Sequence[str] = DEFAULT_HEADS,
    settings: AttributionSettings = DRIFT_SETTINGS,
    groups: GroupMembers | None = None,
    engine: Engine | None = None,
    partitions: int | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> PartitionedRun:
    """Explain `rows` (whole requests, e.g. from `sample_requests`) into the store `out` with
    `engine` (default: local), resuming the partitions an interrupted identical run finished.
    `partitions` defaults to one per ~32k rows; `progress` gets the rows done per partition.
    With `groups`, the store holds each group's own magnitude per request too.
    Raises ParameterError for an empty sample, InputFileError for an unusable `out`."""
    if rows.empty:
        raise ParameterError("no rows to profile: the sample is empty")
    ranker = workspace.ranker(model)
    columns = [
        c for c in dict.fromkeys([*schema.REQUIRED_COLUMNS, *ranker.required_columns]) if c in rows
    ]
    staged = rows[columns]
    task = RequestSumsTask(
        config=workspace.model(model), model_fingerprint=ranker.fingerprint, method=method,
        reference=reference, heads=tuple(heads), settings=settings,
        background=profile_background(workspace, reference, settings), groups=groups,
    )  # fmt: skip
    return run_partitioned(
        task, out, frames=lambda: [staged], input_fingerprint=frame_fingerprint(staged, columns),
        partitions=partitions if partitions is not None else default_partitions(len(staged)),
        engine=engine, progress=progress,
    )  # fmt: skip


def read_request_sums(out: Path) -> RequestSums:
    """The RequestSums of a complete request-sums store. Raises InputFileError for a folder
    that is not one."""
    manifest, files = complete_store(
        out, RequestSumsTask.kind, "rankaudit drift profile --work-dir"
    )
    frame = ds.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()
    groups = manifest.job.get("groups") or {}
    return RequestSums.from_frame(
        frame,
        heads=[str(h) for h in manifest.job["heads"]],
        groups={str(g): tuple(str(f) for f in m) for g, m in groups.items()},
    )
