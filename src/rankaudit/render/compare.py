"""Rich tables for the comparison views: one request, the population summary, the surprises.

Pure functions from result values to rich renderables; log values (ids, category values,
feature names) and model names go in through `log_text`: never markup, control characters
shown as escapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rankaudit.compare.evaluation import Evaluation
from rankaudit.compare.population import Estimate, PopulationComparison
from rankaudit.compare.request import RequestComparison
from rankaudit.compare.scoring import relevance_label
from rankaudit.compare.surprise import COMPONENTS, GRADED_COMPONENT_NAMES, SurpriseList
from rankaudit.data import schema
from rankaudit.render._text import log_text
from rankaudit.render.tables import evaluation_table, timeline_table

__all__ = [
    "population_tables",
    "request_tables",
    "surprises_table",
]


#: How the surprise components are named where relevance is graded (their JSON keys stay).
def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _with_ci(estimate: Estimate, digits: int = 3) -> str:
    if math.isnan(estimate.mean):
        return "—"
    return (
        f"{estimate.mean:.{digits}f} "
        f"[{_fmt(estimate.ci_low, digits)}, {_fmt(estimate.ci_high, digits)}]"
    )


def _p(value: float) -> str:
    if math.isnan(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _signed(value: float, digits: int = 3) -> Text:
    if math.isnan(value):
        return Text("—", style="dim")
    style = "green" if value > 0 else "red" if value < 0 else "dim"
    return Text(f"{value:+.{digits}f}", style=style)


def request_tables(comparison: RequestComparison) -> Group:
    """Both orderings tweet by tweet, the agreement metrics, the top-k entries and exits, and
    the viewer's other requests."""
    first, second = comparison.models
    metrics = comparison.metrics
    graded = comparison.graded is not None
    summary = Table(
        title=log_text(f"how {second} reorders {first} in request {comparison.request_id}"),
        caption=Text(f"NDCG on {relevance_label(comparison.graded)}"),
    )
    summary.add_column("metric", no_wrap=True)
    summary.add_column("value", justify="right", no_wrap=True)
    summary.add_column("meaning")
    summary.add_row(
        "Kendall tau-b", _fmt(metrics["kendall_tau_b"]), "pairwise order agreement (1 = same)"
    )
    summary.add_row("Spearman", _fmt(metrics["spearman"]), "rank correlation (1 = same)")
    summary.add_row(
        f"RBO (p = {comparison.settings.p:g})",
        _fmt(metrics["rbo"]),
        "top-weighted overlap (1 = same)",
    )
    summary.add_row("mean |move|", _fmt(metrics["mean_abs_displacement"], 2), "places per tweet")
    for k in comparison.settings.k:
        summary.add_row(
            f"top-{k} overlap", _fmt(metrics[f"overlap@{k}"]), "share of the top k kept"
        )
        summary.add_row(
            f"NDCG@{k}",
            f"{_fmt(metrics[f'ndcg@{k}_a'])} → {_fmt(metrics[f'ndcg@{k}_b'])}",
            log_text(
                f"{first} → {second}; — when "
                + ("no candidate is relevant" if graded else "nobody engaged")
            ),
        )
    changes = Table(title="top-k entries and exits")
    changes.add_column("k", justify="right")
    changes.add_column(log_text(f"entered with {second}"))
    changes.add_column(log_text(f"left with {second}"))
    for change in comparison.top_k:
        changes.add_row(
            str(change.k),
            log_text(", ".join(change.entered) or "none", style="green"),
            log_text(", ".join(change.exited) or "none", style="red"),
        )
    parts: list[RenderableType] = [timeline_table(comparison), summary, changes]
    if len(comparison.viewer_requests) > 1:
        parts.append(viewer_requests_table(comparison))
    return Group(*parts)


def viewer_requests_table(comparison: RequestComparison) -> Table:
    """The viewer's requests with their agreement and NDCG (largest k), the shown one marked."""
    k = max(comparison.settings.k)
    first, second = comparison.models
    table = Table(title=log_text(f"requests of viewer {comparison.user_id}"))
    table.add_column("request", no_wrap=True)
    table.add_column("served (UTC)", no_wrap=True)
    table.add_column("candidates", justify="right")
    table.add_column("tau-b", justify="right")
    table.add_column("RBO", justify="right")
    table.add_column(log_text(f"NDCG@{k} {first}"), justify="right")
    table.add_column(log_text(f"NDCG@{k} {second}"), justify="right")
    for row in comparison.viewer_requests.to_dict("records"):
        shown = row[schema.REQUEST_ID] == comparison.request_id
        table.add_row(
            log_text(
                str(row[schema.REQUEST_ID]) + (" ◀" if shown else ""), style="bold" if shown else ""
            ),
            f"{pd.Timestamp(row[schema.SERVED_AT]):%Y-%m-%d %H:%M}",
            str(row["candidates"]),
            _fmt(row["kendall_tau_b"]),
            _fmt(row["rbo"]),
            _fmt(row[f"ndcg@{k}_a"]),
            _fmt(row[f"ndcg@{k}_b"]),
        )
    return table


def population_tables(population: PopulationComparison) -> Group:
    """Per-ranker means with intervals and the paired test, agreement means, segments and
    per-head quality."""
    first, second = population.models
    settings = population.settings
    scope = (
        f"held-out requests (served from {population.holdout_from:%Y-%m-%d %H:%M} UTC)"
        if population.scope == "holdout" and population.holdout_from is not None
        else "all logged requests"
    )
    level = f"{settings.confidence:.0%}"
    overall = population.overall
    ranked = Table(
        title=log_text(
            f"{second} vs {first}: {population.requests} {scope}, {population.rows} rows, "
            f"{population.users} viewers"
        ),
        caption=Text(
            f"NDCG on {relevance_label(population.graded)}; "
            f"mean [{level} bootstrap interval, {settings.n_bootstrap} resamples]; p: paired "
            f"randomization test, {settings.n_permutations} sign flips, two-sided; seed "
            f"{settings.seed}"
        ),
    )
    ranked.add_column("metric", no_wrap=True)
    ranked.add_column("requests", justify="right")
    ranked.add_column(log_text(first), justify="right", no_wrap=True)
    ranked.add_column(log_text(second), justify="right", no_wrap=True)
    ranked.add_column(log_text(f"{second} − {first}"), justify="right", no_wrap=True)
    ranked.add_column("p", justify="right", no_wrap=True)
    for name, metric in overall.ranker_metrics.items():
        ranked.add_row(
            name.replace("ndcg", "NDCG"),
            str(metric.n),
            _with_ci(metric.a),
            _with_ci(metric.b),
            Text.assemble(
                _signed(metric.diff.mean),
                f" [{_fmt(metric.diff.ci_low)}, {_fmt(metric.diff.ci_high)}]",
            ),
            _p(metric.p_value),
        )
    agreement = Table(title="how far the orderings agree (mean per request)")
    agreement.add_column("metric", no_wrap=True)
    agreement.add_column("requests", justify="right")
    agreement.add_column("mean", justify="right", no_wrap=True)
    names = {
        "kendall_tau_b": "Kendall tau-b",
        "spearman": "Spearman",
        "rbo": f"RBO (p = {settings.p:g})",
        "mean_abs_displacement": "mean |move| (places)",
    }
    for name, value in overall.agreement.items():
        agreement.add_row(
            names.get(name, name.replace("overlap@", "top-") + " overlap"),
            str(value.n),
            _with_ci(value.estimate, 2 if name == "mean_abs_displacement" else 3),
        )
    k = max(settings.k)
    segments = Table(
        title=f"by segment (NDCG@{k}, agreement)",
        caption=Text("p: paired randomization test inside the segment"),
    )
    segments.add_column("segment", no_wrap=True)
    segments.add_column("requests", justify="right")
    segments.add_column(log_text(f"NDCG@{k} {first}"), justify="right", no_wrap=True)
    segments.add_column(log_text(f"NDCG@{k} {second}"), justify="right", no_wrap=True)
    segments.add_column(log_text(f"{second} − {first}"), justify="right", no_wrap=True)
    segments.add_column("p", justify="right")
    segments.add_column("tau-b", justify="right")
    segments.add_column("RBO", justify="right")
    for summary in population.segments:
        metric = summary.ranker_metrics[f"ndcg@{k}"]
        segments.add_row(
            log_text(f"{summary.segmentation} = {summary.segment}"),
            str(summary.requests),
            _fmt(metric.a.mean),
            _fmt(metric.b.mean),
            Text.assemble(
                _signed(metric.diff.mean),
                f" [{_fmt(metric.diff.ci_low)}, {_fmt(metric.diff.ci_high)}]",
            ),
            _p(metric.p_value),
            _fmt(summary.agreement["kendall_tau_b"].estimate.mean),
            _fmt(summary.agreement["rbo"].estimate.mean),
        )
    parts: list[RenderableType] = [ranked, agreement]
    if population.segments:
        parts.append(segments)
    if not population.heads:
        # A workspace judged by graded relevance alone has no heads to score.
        return Group(*parts)
    heads = evaluation_table(
        Evaluation(
            requests=population.requests,
            rows=population.rows,
            k=k,
            ndcg={
                first: overall.ranker_metrics[f"ndcg@{k}"].a.mean,
                second: overall.ranker_metrics[f"ndcg@{k}"].b.mean,
            },
            heads={first: population.heads["a"], second: population.heads["b"]},
        ),
        title="per-head ROC-AUC / RCE",
    )
    return Group(*parts, heads)


def surprises_table(
    surprises: SurpriseList, top: int, *, why: Mapping[str, str] | None = None
) -> Table:
    """The `top` most surprising requests with their components and the feature furthest
    outside its training range; with `why` (request id -> line, e.g.
    `attribution.disagreement.why_surprising`), a "why surprising" column."""
    first, second = surprises.models
    graded = surprises.graded is not None
    names = GRADED_COMPONENT_NAMES if graded else {}
    weights = ", ".join(f"{names.get(c, c)} {surprises.weights[c]:.2f}" for c in COMPONENTS)
    table = Table(
        title=log_text(
            f"the {min(top, surprises.requests)} most surprising of {surprises.requests} "
            f"requests ({second} audited against {first}; components over each request's "
            f"top {surprises.settings.k})"
        ),
        caption=Text(
            f"surprise = weighted mean of the components ({weights}); relevance: "
            f"{relevance_label(surprises.graded)}"
            + ("" if surprises.ranges is not None else "; no training period: no range check")
        ),
    )
    table.add_column("#", justify="right")
    table.add_column("request", no_wrap=True)
    table.add_column("viewer", no_wrap=True)
    table.add_column("served (UTC)", no_wrap=True)
    table.add_column("surprise", justify="right")
    table.add_column("disagree", justify="right")
    # ▼: relevant tweets b moved down; ▲: irrelevant ones b brought into its top k.
    table.add_column("relevant ▼" if graded else "engaged ▼", justify="right")
    table.add_column("irrelevant ▲" if graded else "unengaged ▲", justify="right")
    table.add_column("out of range", justify="right")
    table.add_column("furthest outside training range")
    if why is not None:
        table.add_column("why surprising")
    for row in surprises.top(top).to_dict("records"):
        feature = row["feature"]
        detail = (
            log_text(
                f"{feature} = {row['feature_value']:.4g} "
                f"(train {row['train_min']:.4g}..{row['train_max']:.4g})"
            )
            if feature
            else Text("—", style="dim")
        )
        table.add_row(
            str(row["rank"]),
            log_text(row[schema.REQUEST_ID], style="bold"),
            log_text(row[schema.USER_ID]),
            f"{pd.Timestamp(row[schema.SERVED_AT]):%Y-%m-%d %H:%M}",
            _fmt(row["surprise"]),
            _fmt(row["disagreement"], 2),
            _fmt(row["demoted_engagement"], 2),
            _fmt(row["promoted_unengaged"], 2),
            _fmt(row["out_of_range"], 2),
            detail,
            *([] if why is None else [log_text(why.get(str(row[schema.REQUEST_ID]), "—"))]),
        )
    return table
