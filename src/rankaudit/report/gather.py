"""Compute what an audit report shows, with the library's own functions, and nothing else.

`gather_report` returns a frozen `ReportData` of library results (comparisons, attribution
frames, the population summary, importance): turning them into JSON, figures and HTML is done
elsewhere (`document`, `plots`, `html`), so every number in every rendering comes from here.
Each selected request is audited by `viewers.audit_viewer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd

from rankaudit.attribution import (
    FINAL,
    AttributionCache,
    attribute_frame,
    resolve_methods,
)
from rankaudit.compare import (
    PopulationComparison,
    SurpriseList,
    compare_request,
)
from rankaudit.compare.population import summarize_population
from rankaudit.compare.request import model_rows
from rankaudit.compare.scoring import ScoredRequests, scoped_log, score_requests
from rankaudit.compare.settings import Scope
from rankaudit.compare.surprise import score_surprises, training_ranges
from rankaudit.data import schema
from rankaudit.errors import NotFoundError, ParameterError
from rankaudit.importance import attribute_sample, importance_table, sample_requests
from rankaudit.report.exposure import ExposureSection, gather_exposure
from rankaudit.report.selection import SelectedRequest, Selection
from rankaudit.report.settings import ReportSettings
from rankaudit.report.viewers import (
    PairExplanation,
    ViewerAudit,
    audit_viewer,
    biggest_movers,
    pair_partner,
    report_stores,
)
from rankaudit.workspace import Workspace

__all__ = [
    "ImportanceSample",
    "PairExplanation",
    "ReportData",
    "SeedCheck",
    "ViewerAudit",
    "biggest_movers",
    "gather_report",
    "pair_partner",
]


Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class ImportanceSample:
    """Global importance: the seeded sample of whole requests (`requests`, `rows`, served in
    `window`), its global-reference attributions of the final score, and `importance_table`."""

    requests: int
    rows: int
    window: tuple[str | None, str | None]
    attributions: pd.DataFrame
    table: pd.DataFrame


@dataclass(frozen=True)
class SeedCheck:
    """How much SHAP values move when only the seed changes: one request's request-reference
    SHAP of `model` recomputed with seed + 1. `mean_abs_change` / `mean_abs_attribution` is
    the relative change; `top_feature_changed` the share of tweets whose largest feature
    differs."""

    model: str
    request: str
    tweets: int
    mean_abs_attribution: float
    mean_abs_change: float
    max_abs_change: float
    top_feature_changed: float

    @property
    def relative_change(self) -> float:
        if self.mean_abs_attribution == 0:
            return 0.0
        return self.mean_abs_change / self.mean_abs_attribution


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything a report shows, as library results (ids not yet pseudonymized)."""

    workspace: Workspace
    settings: ReportSettings
    selection: Selection
    methods: Mapping[str, tuple[str, ...]]
    created_at: str
    population: PopulationComparison
    surprises: SurpriseList | None
    viewers: tuple[ViewerAudit, ...]
    importance: ImportanceSample
    seed_checks: tuple[SeedCheck, ...]
    #: Which groups the audited ranker amplifies (None: built by an older caller).
    exposure: ExposureSection | None = None
    #: Attribution stores read for the viewers' tweets, by model (their folder names): those of
    #: the workspace computed with the report's attribution settings, so the same numbers.
    stores: Mapping[str, str] = field(default_factory=dict)


def _importance(
    workspace: Workspace,
    settings: ReportSettings,
    methods: Mapping[str, tuple[str, ...]],
    cache: AttributionCache | None,
) -> ImportanceSample:
    since = workspace.holdout_from
    rows = sample_requests(
        workspace,
        settings.importance_rows,
        seed=settings.seed,
        window=None if since is None else (since, None),
    )
    parts = [
        attribute_sample(
            workspace,
            model,
            method=method,
            reference="global",
            heads=[FINAL],
            settings=settings.attribution,
            rows=rows,
            cache=cache,
        ).frame
        for model in settings.models
        for method in methods[model]
    ]
    attributions = pd.concat(parts, ignore_index=True)
    return ImportanceSample(
        requests=int(rows[schema.REQUEST_ID].nunique()),
        rows=len(rows),
        window=(None if since is None else since.isoformat(), None),
        attributions=attributions,
        table=importance_table(attributions),
    )


def _seed_checks(
    workspace: Workspace, viewer: ViewerAudit, settings: ReportSettings
) -> tuple[SeedCheck, ...]:
    """Recompute the first viewer's request-reference SHAP with seed + 1 (no cache)."""
    reseeded = replace(settings.attribution, seed=settings.seed + 1)
    frame = model_rows(viewer.comparison.rows)
    checks = []
    for model in settings.models:
        ranker = workspace.ranker(model)
        if "shap" not in resolve_methods(ranker, "all"):
            continue
        first = viewer.attributions.loc[
            (viewer.attributions["model"] == model) & (viewer.attributions["method"] == "shap")
        ]
        again = attribute_frame(
            ranker,
            frame,
            methods=["shap"],
            reference="request",
            heads=[FINAL],
            settings=reseeded,
        ).frame
        keys = [schema.TWEET_ID, "feature"]
        joined = first[[*keys, "attribution"]].merge(
            again[[*keys, "attribution"]], on=keys, suffixes=("", "_again"), validate="1:1"
        )
        change = (joined["attribution"] - joined["attribution_again"]).abs()
        changed = _top_feature(joined, "attribution") != _top_feature(joined, "attribution_again")
        checks.append(
            SeedCheck(
                model=model,
                request=viewer.comparison.request_id,
                tweets=int(joined[schema.TWEET_ID].nunique()),
                mean_abs_attribution=float(joined["attribution"].abs().mean()),
                mean_abs_change=float(change.mean()),
                max_abs_change=float(change.max()),
                top_feature_changed=float(changed.mean()),
            )
        )
    return tuple(checks)


def _top_feature(frame: pd.DataFrame, column: str) -> pd.Series:
    """Per tweet, the feature with the largest |`column`| (ties by feature name)."""
    ordered = frame.assign(_abs=frame[column].abs()).sort_values(
        [schema.TWEET_ID, "_abs", "feature"], ascending=[True, False, True], kind="stable"
    )
    return ordered.drop_duplicates(schema.TWEET_ID).set_index(schema.TWEET_ID)["feature"]


class _HeldOut:
    """The held-out rows scored once by both rankers, shared by the surprise list, the
    population summary and the exposure audit (each would otherwise read and score them)."""

    def __init__(self, workspace: Workspace, models: tuple[str, str]) -> None:
        self.workspace = workspace
        self.models = models
        self._scored: tuple[ScoredRequests, pd.DataFrame | None, Scope] | None = None

    def get(self) -> tuple[ScoredRequests, pd.DataFrame | None, Scope]:
        """(scored rows in scope, rows served before the holdout or None, effective scope)."""
        if self._scored is None:
            workspace = self.workspace
            rankers, in_scope, earlier, effective = scoped_log(
                workspace, self.models, "holdout", "build_report"
            )
            if in_scope.empty:
                raise ParameterError(
                    f"no request in scope 'holdout': nothing was served from "
                    f"{workspace.holdout_from} on; use scope 'all'"
                )
            scored = score_requests(
                in_scope, rankers, workspace.heads, graded=workspace.relevance, models=self.models
            )
            self._scored = (scored, earlier, effective)
        return self._scored

    def surprises(self, settings: ReportSettings) -> SurpriseList:
        """`find_surprises` of the held-out requests, number for number."""
        scored, earlier, effective = self.get()
        ranges = training_ranges(earlier, self.workspace.spec, self.workspace.holdout_from)
        return score_surprises(scored, settings.surprise, ranges=ranges, scope=effective)

    def population(self, settings: ReportSettings) -> PopulationComparison:
        """`compare_population` of the held-out requests, number for number."""
        scored, _, effective = self.get()
        return summarize_population(
            scored,
            self.workspace.spec,
            settings.compare,
            scope=effective,
            holdout_from=self.workspace.holdout_from,
        )


def _created_at(created_at: datetime | None) -> str:
    moment = created_at or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def gather_report(
    workspace: Workspace,
    selection: Selection,
    *,
    settings: ReportSettings,
    cache: AttributionCache | None = None,
    population: PopulationComparison | None = None,
    surprises: SurpriseList | None = None,
    created_at: datetime | None = None,
    progress: Progress | None = None,
) -> ReportData:
    """Compute every number of the report. `settings` must be validated. `population` and
    `surprises` may be passed when already computed with the same models and settings (the
    web app's overview); otherwise they are computed over the held-out requests.

    Order: the selection is resolved and read first, so an unknown viewer or request fails
    before anything slow. Raises NotFoundError for unknown ids or an empty selection, and what
    the library raises for bad settings or models."""
    say = progress or (lambda message: None)
    models = settings.models
    for name in models:
        workspace.model(name)  # WorkspaceError listing the configured names
    held_out = _HeldOut(workspace, models)
    if surprises is None and selection.mode == "surprising":
        say("ranking requests by surprise")
        surprises = held_out.surprises(settings)
    chosen = selection.requests_from(workspace, seed=settings.seed, surprises=surprises)
    if not chosen:
        raise NotFoundError("the selection is empty: no viewer to report on")
    comparisons = [
        compare_request(
            workspace, user=s.user, request=s.request, models=models, settings=settings.compare
        )
        for s in chosen
    ]
    if surprises is None:
        say("ranking requests by surprise")
        surprises = held_out.surprises(settings)
    by_request = surprises.table.set_index(schema.REQUEST_ID, drop=False)
    methods = {name: resolve_methods(workspace.ranker(name), "all") for name in models}
    stores = report_stores(workspace, settings)
    viewers = []
    seen: set[str] = set()
    for index, (selected, comparison) in enumerate(zip(chosen, comparisons, strict=True)):
        if comparison.request_id in seen:  # two ids naming the same request
            continue
        seen.add(comparison.request_id)
        say(f"explaining viewer {index + 1}/{len(chosen)} (request {comparison.request_id})")
        surprise = selected.surprise
        if not surprise and comparison.request_id in by_request.index:
            record = by_request.loc[comparison.request_id]
            surprise = {str(k): v for k, v in record.items()}
        resolved = SelectedRequest(
            user=comparison.user_id, request=comparison.request_id, surprise=surprise
        )
        viewers.append(audit_viewer(workspace, resolved, comparison, settings, cache, stores))
    if population is None:
        say("comparing the rankers over the held-out requests")
        population = held_out.population(settings)
    say("auditing exposure over the held-out requests")
    exposure = gather_exposure(
        lambda: (held_out.get()[0], held_out.get()[2]), workspace.spec, settings
    )
    say(f"global importance over a sample of about {settings.importance_rows} rows")
    importance = _importance(workspace, settings, methods, cache)
    say("checking SHAP's sensitivity to the seed")
    checks = _seed_checks(workspace, viewers[0], settings)
    return ReportData(
        workspace=workspace,
        settings=settings,
        selection=selection,
        methods=methods,
        created_at=_created_at(created_at),
        population=population,
        surprises=surprises,
        viewers=tuple(viewers),
        importance=importance,
        seed_checks=checks,
        exposure=exposure,
        stores={model: store.root.name for model, store in stores.items()},
    )
