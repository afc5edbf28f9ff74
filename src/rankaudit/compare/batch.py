"""The population comparison as a partitioned, resumable run: both rankers' scores of every
candidate in a store (`rankaudit.store.layout`, kind "comparisons").

`run_comparisons` stages the rows in scope by viewer partition and runs `CompareTask` on each
partition with an engine (`rankaudit.engine`); the task scores with `score_requests`, the
function the in-memory `compare_population` uses. `read_scored` reads the store back as the
`ScoredRequests` that `summarize_population` summarises, in log order, so the summary is the
in-memory one number for number (bootstraps resample requests in order).

A store holds one row per candidate tweet: `log_row` (its ordinal among the rows in scope, in
log order), the ids, `served_at`, `position` as served, the labels (none without heads), the
graded relevance column (with `[relevance]`), the features that segment requests, then
`score_a` ... `negative` (with graded relevance also `relevance_grade` and, with heads,
`engagement_relevance`) and the head probabilities `a_p_<head>`, `b_p_<head>` (see
`ScoredRequests.to_frame`). DuckDB reads it as `read_parquet('<store>/part-*.parquet')`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from rankaudit.compare.scoring import (
    ADDED_COLUMNS,
    ScoredRequests,
    population_rows,
    score_requests,
)
from rankaudit.compare.segments import segment_columns
from rankaudit.compare.settings import DEFAULT_MODELS, Scope, check_models
from rankaudit.data import schema
from rankaudit.data.relevance import GradedRelevance
from rankaudit.engine import Engine, PartitionTask, run_partitioned
from rankaudit.models import ModelConfig, cached_ranker
from rankaudit.store import default_partitions
from rankaudit.store.layout import complete_store
from rankaudit.workspace import Workspace

__all__ = ["LOG_ROW", "CompareTask", "ComparisonRun", "read_scored", "run_comparisons"]

#: The column holding each row's ordinal in the rows in scope: reading a store back sorts by
#: it, restoring the in-memory order.
LOG_ROW = "log_row"


@dataclass(frozen=True, eq=False)
class CompareTask(PartitionTask):
    """Score one partition's rows with rankers a and b (`models`): the pure unit of work
    (picklable: model configs and names; rankers are loaded once per worker). `columns`: the
    input columns kept beside the scores; `graded`: the graded judgements relevance comes
    from (None: engagement-weighted)."""

    kind = "comparisons"

    models: tuple[ModelConfig, ModelConfig]
    fingerprints: tuple[str, str]
    heads: tuple[tuple[str, float], ...]
    columns: tuple[str, ...]
    graded: GradedRelevance | None = None

    def setup(self) -> None:
        for config in self.models:
            cached_ranker(config)

    def job(self) -> dict[str, Any]:
        job: dict[str, Any] = {
            "models": [config.name for config in self.models],
            "model_fingerprints": list(self.fingerprints),
            # Pairs, not an object: the head order is the order of the summary's heads.
            "heads": [[head, weight] for head, weight in self.heads],
            "columns": list(self.columns),
        }
        # Only with graded judgements, so that an engagement store's job stays as it was.
        if self.graded is not None:
            job["relevance"] = {"column": self.graded.column, "gain": self.graded.gain}
        return job

    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        rankers = (cached_ranker(self.models[0]), cached_ranker(self.models[1]))
        names = (self.models[0].name, self.models[1].name)
        scored = score_requests(rows, rankers, dict(self.heads), graded=self.graded, models=names)
        yield scored.to_frame(self.columns), {"requests": scored.n_requests}

    @staticmethod
    def combine(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"requests": sum(int(s.get("requests", 0)) for s in summaries)}


@dataclass(frozen=True)
class ComparisonRun:
    """What `run_comparisons` wrote: the store folder, the rankers (a, b), the effective scope,
    rows and requests scored, partitions, and how many of them this call computed (the others
    were finished by an interrupted run)."""

    out: Path
    models: tuple[str, str]
    scope: Scope
    rows: int
    requests: int
    partitions: int
    computed: int


def _kept_columns(workspace: Workspace, rows: pd.DataFrame) -> tuple[str, ...]:
    """The input columns a store keeps: what `summarize_population` reads, and the ids."""
    wanted = [
        LOG_ROW,
        *schema.REQUIRED_COLUMNS,
        schema.POSITION,
        *(schema.label_column(h) for h in workspace.heads),
        *([] if workspace.relevance is None else [workspace.relevance.column]),
        *segment_columns(workspace.spec),
    ]
    return tuple(c for c in dict.fromkeys(wanted) if c == LOG_ROW or c in rows)


def _input_fingerprint(workspace: Workspace, scope: Scope) -> str:
    holdout = None if workspace.holdout_from is None else workspace.holdout_from.isoformat()
    key = f"{workspace.logs_fingerprint()}:{scope}:{holdout}"
    return hashlib.sha256(key.encode()).hexdigest()


def run_comparisons(
    workspace: Workspace,
    out: Path,
    *,
    models: tuple[str, str] = DEFAULT_MODELS,
    scope: Scope = "holdout",
    engine: Engine | None = None,
    partitions: int | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> ComparisonRun:
    """Score every request in `scope` with rankers `models` into the store `out` with `engine`
    (default: local), resuming the partitions an interrupted identical run finished.
    `partitions` defaults to one per ~32k rows in scope; `progress` gets the rows done per
    partition. Raises ParameterError for bad options or an empty scope, WorkspaceError for an
    unknown model, InputFileError for an unusable `out`."""
    caller = "compare_population"
    models = check_models(models, caller)
    rankers, in_scope, effective = population_rows(workspace, models, scope, caller)
    staged = in_scope.assign(**{LOG_ROW: np.arange(len(in_scope), dtype=np.int64)})
    task = CompareTask(
        models=(workspace.model(models[0]), workspace.model(models[1])),
        fingerprints=(rankers[0].fingerprint, rankers[1].fingerprint),
        heads=tuple(workspace.heads.items()),
        columns=_kept_columns(workspace, staged),
        graded=workspace.relevance,
    )
    run = run_partitioned(
        task, out, frames=lambda: [staged], input_fingerprint=_input_fingerprint(workspace, effective),
        partitions=partitions if partitions is not None else default_partitions(len(staged)),
        engine=engine, progress=progress,
    )  # fmt: skip
    return ComparisonRun(
        out=out, models=models, scope=effective, rows=run.rows_out,
        requests=int(run.summary["requests"]), partitions=len(run.markers), computed=run.computed,
    )  # fmt: skip


def read_scored(out: Path) -> ScoredRequests:
    """The ScoredRequests of a complete comparisons store, rows in log order (`log_row`).
    Reads only the columns a summary needs (not the stored positions, which are recomputed
    from the scores). Raises InputFileError for a folder that is not a complete store."""
    manifest, files = complete_store(out, CompareTask.kind, "rankaudit compare --store")
    scores = ("score_a", "score_b")
    columns = [c for c in manifest.columns if c not in ADDED_COLUMNS or c in scores]
    table = (
        ds.dataset([str(f) for f in files], format="parquet")
        .to_table(columns=columns)
        .sort_by(LOG_ROW)
    )
    frame = table.to_pandas().drop(columns=LOG_ROW)
    job = manifest.job
    a, b = job["models"]
    heads = {str(head): float(weight) for head, weight in job["heads"]}
    relevance = job.get("relevance")
    graded = (
        None
        if relevance is None
        else GradedRelevance(column=str(relevance["column"]), gain=relevance["gain"])
    )
    return ScoredRequests.from_frame(frame, heads, models=(str(a), str(b)), graded=graded)
