"""Two rankers compared across every request: means with bootstrap intervals, paired
differences with a randomization test, breakdowns by segment, per-head quality.

Per-ranker metrics (NDCG@k) get each ranker's mean, the paired difference b - a and its
p-value; agreement metrics (Kendall tau-b, Spearman, RBO, top-k overlap, mean |displacement|)
describe the pair and get a mean. Every mean comes with a percentile bootstrap interval over
requests (see `rankaudit.compare.stats`). Everything is vectorised over requests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rankaudit.compare.evaluation import head_metrics
from rankaudit.compare.orderings import request_metrics
from rankaudit.compare.scoring import (
    ScoredRequests,
    population_rows,
    relevance_summary,
    score_requests,
)
from rankaudit.compare.segments import Segmentation, request_segmentations
from rankaudit.compare.settings import (
    DEFAULT_MODELS,
    CompareSettings,
    Scope,
    check_models,
    json_float,
)
from rankaudit.compare.stats import bootstrap_means, paired_randomization_test
from rankaudit.data import schema
from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import ParameterError
from rankaudit.workspace import Workspace

if TYPE_CHECKING:
    from rankaudit.engine import Engine

__all__ = [
    "AgreementMetric",
    "Estimate",
    "PopulationComparison",
    "RankerMetric",
    "SegmentSummary",
    "compare_population",
    "summarize_population",
]

JSON_VERSION = 1
#: Agreement metrics in the order they are reported (the per-k overlaps follow `rbo`).
AGREEMENT_METRICS = ("kendall_tau_b", "spearman", "rbo")


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap percentile interval (NaN when no request defines it)."""

    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float | None]:
        return {
            "mean": json_float(self.mean),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
        }


@dataclass(frozen=True)
class RankerMetric:
    """A metric each ranker has per request: both means, the paired difference b - a, and the
    two-sided p-value of the paired randomization test; `n` requests define it."""

    n: int
    a: Estimate
    b: Estimate
    diff: Estimate
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "diff": self.diff.to_dict(),
            "p_value": json_float(self.p_value),
        }


@dataclass(frozen=True)
class AgreementMetric:
    """A metric of the pair per request (tau, RBO, ...): its mean over `n` requests."""

    n: int
    estimate: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.estimate.to_dict()}


@dataclass(frozen=True)
class SegmentSummary:
    """The metrics over one segment's requests (the whole population: segmentation "all")."""

    segmentation: str
    segment: str
    requests: int
    ranker_metrics: Mapping[str, RankerMetric]
    agreement: Mapping[str, AgreementMetric]

    def to_dict(self) -> dict[str, Any]:
        return {
            "segmentation": self.segmentation,
            "segment": self.segment,
            "requests": self.requests,
            "ranker_metrics": {m: v.to_dict() for m, v in self.ranker_metrics.items()},
            "agreement": {m: v.to_dict() for m, v in self.agreement.items()},
        }

    def frame_rows(self) -> list[dict[str, Any]]:
        """Rows of `PopulationComparison.to_frame` for this segment."""
        base = {"segmentation": self.segmentation, "segment": self.segment}
        out: list[dict[str, Any]] = []
        for metric, ranked in self.ranker_metrics.items():
            out.append(
                {
                    **base,
                    "requests": self.requests,
                    "metric": metric,
                    "n": ranked.n,
                    "mean_a": ranked.a.mean,
                    "ci_low_a": ranked.a.ci_low,
                    "ci_high_a": ranked.a.ci_high,
                    "mean_b": ranked.b.mean,
                    "ci_low_b": ranked.b.ci_low,
                    "ci_high_b": ranked.b.ci_high,
                    "diff": ranked.diff.mean,
                    "ci_low_diff": ranked.diff.ci_low,
                    "ci_high_diff": ranked.diff.ci_high,
                    "p_value": ranked.p_value,
                }
            )
        for metric, agreement in self.agreement.items():
            out.append(
                {
                    **base,
                    "requests": self.requests,
                    "metric": metric,
                    "n": agreement.n,
                    "mean": agreement.estimate.mean,
                    "ci_low": agreement.estimate.ci_low,
                    "ci_high": agreement.estimate.ci_high,
                }
            )
        return out


#: Columns of `PopulationComparison.to_frame`, in order.
FRAME_COLUMNS = (
    "segmentation",
    "segment",
    "requests",
    "metric",
    "n",
    "mean_a",
    "ci_low_a",
    "ci_high_a",
    "mean_b",
    "ci_low_b",
    "ci_high_b",
    "diff",
    "ci_low_diff",
    "ci_high_diff",
    "p_value",
    "mean",
    "ci_low",
    "ci_high",
)


@dataclass(frozen=True, eq=False)
class PopulationComparison:
    """Rankers a and b (`models`) compared over every request in `scope`.

    `overall` summarises all requests; `segments` one summary per segment (see
    `rankaudit.compare.segments`); `heads[side][head]` holds roc_auc, pr_auc and rce of ranker
    `side` ("a" or "b"), `{}` for a workspace without heads; `per_request` the per-request
    metrics table, one row per request. `graded`: the graded judgements NDCG used (None:
    engagement-weighted relevance).
    """

    models: tuple[str, str]
    scope: Scope
    holdout_from: pd.Timestamp | None
    requests: int
    rows: int
    users: int
    settings: CompareSettings
    overall: SegmentSummary
    segments: tuple[SegmentSummary, ...]
    heads: Mapping[str, Mapping[str, Mapping[str, float | None]]]
    per_request: pd.DataFrame
    graded: GradedRelevance | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `rankaudit compare --format json` without a user or request
        (keys in docs/compare.md); NaN becomes null."""
        return {
            "kind": "population",
            "version": JSON_VERSION,
            "models": {"a": self.models[0], "b": self.models[1]},
            "scope": self.scope,
            "holdout_from": None if self.holdout_from is None else self.holdout_from.isoformat(),
            "requests": self.requests,
            "rows": self.rows,
            "users": self.users,
            "settings": self.settings.to_dict(),
            "overall": self.overall.to_dict(),
            "segments": [s.to_dict() for s in self.segments],
            "heads": {
                side: {
                    head: {
                        key: None if value is None else json_float(value)
                        for key, value in values.items()
                    }
                    for head, values in per_head.items()
                }
                for side, per_head in self.heads.items()
            },
            "relevance": relevance_summary(self.graded),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per (segmentation, segment, metric), overall first; per-ranker metrics fill
        the `_a` / `_b` / `diff` / `p_value` columns, agreement metrics `mean` / `ci_*`."""
        rows = [r for s in (self.overall, *self.segments) for r in s.frame_rows()]
        return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


def _summaries(
    table: pd.DataFrame, segmentations: tuple[Segmentation, ...], settings: CompareSettings
) -> list[SegmentSummary]:
    """Overall + per-segment summaries, every column and segment bootstrapped and tested
    together (one set of resamples, one set of sign flips)."""
    ranker_names = [f"ndcg@{k}" for k in settings.k]
    agreement_names = [
        *AGREEMENT_METRICS,
        *(f"overlap@{k}" for k in settings.k),
        "mean_abs_displacement",
    ]
    n = len(table)
    columns: list[np.ndarray] = []
    for name in ranker_names:
        a = table[f"{name}_a"].to_numpy(dtype=np.float64)
        b = table[f"{name}_b"].to_numpy(dtype=np.float64)
        columns.extend([a, b, b - a])
    columns.extend(table[name].to_numpy(dtype=np.float64) for name in agreement_names)
    values = np.column_stack(columns) if columns else np.empty((n, 0))
    partitions = [s.codes for s in segmentations]
    boot = bootstrap_means(
        values,
        partitions=partitions,
        n_resamples=settings.n_bootstrap,
        confidence=settings.confidence,
        seed=settings.seed,
    )
    diff_columns = [3 * i + 2 for i in range(len(ranker_names))]
    p_values = paired_randomization_test(
        values[:, diff_columns],
        partitions=partitions,
        n_permutations=settings.n_permutations,
        seed=settings.seed,
    )
    groups = [("all", "all", n)] + [
        (s.name, label, int(size))
        for s in segmentations
        for label, size in zip(s.labels, s.sizes(), strict=True)
    ]

    def estimate(row: int, column: int) -> Estimate:
        return Estimate(
            float(boot.mean[row, column]),
            float(boot.ci_low[row, column]),
            float(boot.ci_high[row, column]),
        )

    out = []
    offset = 3 * len(ranker_names)
    for row, (segmentation, label, size) in enumerate(groups):
        ranked = {
            name: RankerMetric(
                n=int(boot.n[row, 3 * i + 2]),
                a=estimate(row, 3 * i),
                b=estimate(row, 3 * i + 1),
                diff=estimate(row, 3 * i + 2),
                p_value=float(p_values[row, i]),
            )
            for i, name in enumerate(ranker_names)
        }
        agreement = {
            name: AgreementMetric(
                n=int(boot.n[row, offset + j]), estimate=estimate(row, offset + j)
            )
            for j, name in enumerate(agreement_names)
        }
        out.append(
            SegmentSummary(
                segmentation=segmentation,
                segment=label,
                requests=size,
                ranker_metrics=ranked,
                agreement=agreement,
            )
        )
    return out


def summarize_population(
    scored: ScoredRequests,
    spec: FeatureSpec,
    settings: CompareSettings | None = None,
    *,
    scope: Scope = "all",
    holdout_from: pd.Timestamp | None = None,
) -> PopulationComparison:
    """Return the population comparison of already scored rows (`scope` and `holdout_from`
    only label the result). Raises ParameterError for bad settings."""
    settings = (settings or CompareSettings()).validated("summarize_population")
    table = request_metrics(scored, k=settings.k, p=settings.p)
    segmentations = request_segmentations(scored.rows, scored.index, spec)
    summaries = _summaries(table, segmentations, settings)
    rows = scored.rows
    heads = {
        side: head_metrics(
            rows, scored.heads, rows[f"score_{side}"].to_numpy(), scored.probabilities[i]
        )
        for i, side in enumerate(("a", "b"))
        if scored.heads
    }
    return PopulationComparison(
        models=scored.models,
        scope=scope,
        holdout_from=holdout_from,
        requests=scored.n_requests,
        rows=len(rows),
        users=int(rows[schema.USER_ID].nunique()),
        settings=settings,
        overall=summaries[0],
        segments=tuple(summaries[1:]),
        heads=heads,
        per_request=table,
        graded=scored.graded,
    )


def compare_population(
    workspace: Workspace,
    *,
    models: tuple[str, str] = DEFAULT_MODELS,
    settings: CompareSettings | None = None,
    scope: Scope = "holdout",
    engine: Engine | None = None,
    store: Path | None = None,
    partitions: int | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> PopulationComparison:
    """Return rankers `models` (reference a, audited b) of `workspace` compared over every
    request in `scope`: "holdout" (served from the workspace's `holdout_from` on, what the
    rankers were not trained on; every request when the workspace sets none) or "all".

    Scored in memory by default. With a `store` folder or an `engine`, scored as a partitioned,
    resumable run into `store` (kept; a temporary folder, removed, when None) in `partitions`
    viewer partitions (`rankaudit.compare.batch.run_comparisons`; `progress` gets the rows done
    per partition): the result is the in-memory one, number for number.

    Raises ParameterError for bad settings, scope or partitions, WorkspaceError for an unknown
    model, InputFileError for an unusable `store`.
    """
    caller = "compare_population"
    settings = (settings or CompareSettings()).validated(caller)
    models = check_models(models, caller)
    if engine is None and store is None:
        if partitions is not None:
            raise ParameterError(
                "partitions apply to a partitioned run: give a store folder or an engine"
            )
        rankers, in_scope, effective = population_rows(workspace, models, scope, caller)
        scored = score_requests(
            in_scope, rankers, workspace.heads, graded=workspace.relevance, models=models
        )
    else:
        if partitions is not None and (isinstance(partitions, bool) or partitions < 1):
            raise ParameterError(
                f"The 'partitions' parameter of {caller} must be an int >= 1. "
                f"Got {partitions!r} instead."
            )
        from rankaudit.compare.batch import read_scored, run_comparisons

        root = store if store is not None else Path(tempfile.mkdtemp(prefix="rankaudit-compare-"))
        try:
            run = run_comparisons(
                workspace, root, models=models, scope=scope, engine=engine,
                partitions=partitions, progress=progress,
            )  # fmt: skip
            scored, effective = read_scored(run.out), run.scope
        finally:
            if store is None:
                shutil.rmtree(root, ignore_errors=True)
    return summarize_population(
        scored,
        workspace.spec,
        settings,
        scope=effective,
        holdout_from=workspace.holdout_from,
    )
