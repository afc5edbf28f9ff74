"""Compute what an audit report shows, with the library's own functions, and nothing else.

`gather_report` returns a frozen `ReportData` of library results (comparisons, attribution
frames, the population summary, importance): turning them into JSON, figures and HTML is done
elsewhere (`document`, `plots`, `html`), so every number in every rendering comes from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from rankaudit.attribution import (
    FINAL,
    AttributionCache,
    AttributionSettings,
    attribute_frame,
    resolve_methods,
)
from rankaudit.compare import (
    PopulationComparison,
    RequestComparison,
    SurpriseList,
    compare_request,
)
from rankaudit.compare.population import summarize_population
from rankaudit.compare.scoring import ScoredRequests, scoped_log, score_requests
from rankaudit.compare.settings import Scope
from rankaudit.compare.surprise import score_surprises, training_ranges
from rankaudit.data import schema
from rankaudit.errors import NotFoundError, ParameterError
from rankaudit.explain import TweetExplanation
from rankaudit.importance import attribute_sample, importance_table, sample_requests
from rankaudit.report.exposure import ExposureSection, gather_exposure
from rankaudit.report.selection import SelectedRequest, Selection
from rankaudit.report.settings import ReportSettings
from rankaudit.store.query import AttributionStore, open_attribution_stores
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

#: Columns `compare_request` adds to the log rows; dropped before attribution, as
#: `rankaudit.explain.explain_tweet` does, so the numbers are the same.
_ADDED = ["score_a", "score_b", "position_a", "position_b", "displacement"]

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class PairExplanation:
    """Why `tweet` sits above or below `vs_tweet` under both rankers: `explanation` holds the
    pair-reference attributions of the final score, every method, both models."""

    tweet: str
    vs_tweet: str
    explanation: TweetExplanation


@dataclass(frozen=True, eq=False)
class ViewerAudit:
    """One selected request: both orderings, the request-reference attributions of every
    candidate's final score (both models, every method; long rows of
    `rankaudit.attribution.COLUMNS`), and the biggest movers explained pairwise."""

    selected: SelectedRequest
    comparison: RequestComparison
    attributions: pd.DataFrame
    movers: tuple[PairExplanation, ...]


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


def biggest_movers(comparison: RequestComparison, n: int) -> list[str]:
    """The `n` tweets with the largest |displacement| (ties by tweet id); unmoved tweets never."""
    rows = comparison.rows
    moved = rows.loc[rows["displacement"] != 0]
    ordered = moved.assign(_move=moved["displacement"].abs()).sort_values(
        ["_move", schema.TWEET_ID], ascending=[False, True], kind="stable"
    )
    return [str(t) for t in ordered[schema.TWEET_ID].head(n)]


def pair_partner(comparison: RequestComparison, tweet: str) -> str | None:
    """The tweet `tweet` changed places with, nearest to where ranker b put it: among the
    tweets whose order relative to `tweet` differs between the two rankers, the one closest
    to `tweet`'s position under b (ties by tweet id). None when no order flipped."""
    rows = comparison.rows
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()
    here = int(np.flatnonzero(ids == tweet)[0])
    a = rows["position_a"].to_numpy(dtype=np.int64)
    b = rows["position_b"].to_numpy(dtype=np.int64)
    flipped = np.sign(a - a[here]) != np.sign(b - b[here])
    flipped[here] = False
    if not flipped.any():
        return None
    candidates = pd.DataFrame(
        {"tweet": ids[flipped], "distance": np.abs(b[flipped] - b[here])}
    ).sort_values(["distance", "tweet"], kind="stable")
    return str(candidates["tweet"].iat[0])


def _report_stores(workspace: Workspace, settings: ReportSettings) -> dict[str, AttributionStore]:
    """The workspace's attribution stores of the report's models that were computed with the
    report's attribution settings: their rows are the numbers the report would compute."""
    wanted = json.loads(json.dumps(asdict(settings.attribution)))
    return {
        model: store
        for model, store in open_attribution_stores(workspace.attribution_stores).items()
        if model in settings.models and store.settings == wanted
    }


def _stored_rows(
    store: AttributionStore,
    comparison: RequestComparison,
    methods: tuple[str, ...],
    reference: str,
    pair: tuple[str, str] | None,
) -> pd.DataFrame | None:
    """The store's rows of the request (or the pair), when it holds all of them."""
    rows = store.rows(
        model=store.model, head=FINAL, reference=reference, viewer=comparison.user_id,
        requests=[comparison.request_id], tweet=pair[0] if pair else None,
        vs_tweet=pair[1] if pair else None,
    )  # fmt: skip
    tweets = {pair[0]} if pair else set(comparison.rows[schema.TWEET_ID].astype(str))
    held = set(zip(rows["method"], rows[schema.TWEET_ID].astype(str), strict=True))
    if held != {(m, t) for m in methods for t in tweets}:
        return None
    return rows.reset_index(drop=True)


def _explain_request(
    workspace: Workspace,
    comparison: RequestComparison,
    models: tuple[str, str],
    settings: AttributionSettings,
    cache: AttributionCache | None,
    *,
    reference: str = "request",
    pair: tuple[str, str] | None = None,
    stores: Mapping[str, AttributionStore] | None = None,
) -> pd.DataFrame:
    frame = comparison.rows.drop(columns=_ADDED, errors="ignore")
    parts = []
    for model in models:
        ranker = workspace.ranker(model)
        methods = resolve_methods(ranker, "all")
        store = (stores or {}).get(model)
        if store is not None:
            stored = _stored_rows(store, comparison, methods, reference, pair)
            if stored is not None:
                parts.append(stored)
                continue
        parts.append(
            attribute_frame(
                ranker,
                frame,
                methods=methods,
                reference=reference,
                heads=[FINAL],
                settings=settings,
                pair=pair,
                cache=cache,
            ).frame
        )
    return pd.concat(parts, ignore_index=True)


def _audit_viewer(
    workspace: Workspace,
    selected: SelectedRequest,
    comparison: RequestComparison,
    settings: ReportSettings,
    cache: AttributionCache | None,
    stores: Mapping[str, AttributionStore],
) -> ViewerAudit:
    attributions = _explain_request(
        workspace, comparison, settings.models, settings.attribution, cache, stores=stores
    )
    movers = []
    for tweet in biggest_movers(comparison, settings.movers):
        partner = pair_partner(comparison, tweet)
        if partner is None:
            continue
        rows = _explain_request(
            workspace,
            comparison,
            settings.models,
            settings.attribution,
            cache,
            reference="pair",
            pair=(tweet, partner),
            stores=stores,
        )
        movers.append(
            PairExplanation(
                tweet=tweet,
                vs_tweet=partner,
                explanation=TweetExplanation(
                    view=comparison,
                    tweet=tweet,
                    vs_tweet=partner,
                    reference="pair",
                    attributions=rows,
                ),
            )
        )
    return ViewerAudit(
        selected=selected, comparison=comparison, attributions=attributions, movers=tuple(movers)
    )


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
    frame = viewer.comparison.rows.drop(columns=_ADDED, errors="ignore")
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
    stores = _report_stores(workspace, settings)
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
        viewers.append(_audit_viewer(workspace, resolved, comparison, settings, cache, stores))
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
