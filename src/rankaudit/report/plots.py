"""The report's figures, built by the same builders as the web app (`rankaudit.figures`).

The builders escape every log string they put into plotly text (tweet text, ids, feature and
category values; `rankaudit.text.plotly_text`), so the report hands them the results as they
are, only with viewer and author ids (and id-valued features) pseudonymized when asked: a tweet
text like `<b>` is drawn as those three characters, escaped once, and no id escapes
pseudonymization through a hover label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd
import plotly.graph_objects as go

from rankaudit.attribution.grouping import DEFAULT_TOP, feature_groups
from rankaudit.compare import PopulationComparison, RequestComparison
from rankaudit.data import schema
from rankaudit.explain import TweetExplanation
from rankaudit.exposure import MEASURES
from rankaudit.figures import (
    attribution_bars,
    head_quality,
    metric_intervals,
    position_slopegraph,
    segment_differences,
)
from rankaudit.figures.exposure import amplification_bars
from rankaudit.figures.importance import importance_comparison, method_agreement
from rankaudit.report.document import ID_FEATURES, viewer_rows
from rankaudit.report.exposure import pseudonymized_audit
from rankaudit.report.gather import ReportData
from rankaudit.report.pseudonym import Pseudonymizer

__all__ = ["ReportFigure", "build_figures"]

_ID_COLUMNS = frozenset({schema.USER_ID, schema.AUTHOR_ID})


@dataclass(frozen=True, eq=False)
class ReportFigure:
    """One figure of the report: its element id, section, the builder that drew it (the web
    app's), a caption, and the plotly figure."""

    id: str
    section: str
    builder: str
    caption: str
    figure: go.Figure

    def entry(self) -> dict[str, str]:
        """What the JSON document records about the figure."""
        return {
            "id": self.id,
            "section": self.section,
            "builder": self.builder,
            "caption": self.caption,
        }


class _Pseudonymized:
    """Copies of results with viewer and author ids, and the categories of id-valued
    features, pseudonymized (the identity when pseudonymization is off)."""

    def __init__(self, pseudonym: Pseudonymizer) -> None:
        self.pseudonym = pseudonym

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        if "feature_category" in out and "feature" in out:
            is_id = out["feature"].isin(list(ID_FEATURES)).to_numpy()
            out["feature_category"] = [
                (self.pseudonym(c) if flag else c) if isinstance(c, str) else c
                for c, flag in zip(out["feature_category"], is_id, strict=True)
            ]
        for column in _ID_COLUMNS & set(out.columns):
            out[column] = pd.Series(
                [v if v is None else self.pseudonym(v) for v in out[column]],
                index=out.index,
                dtype=object,
            )
        return out

    def comparison(self, comparison: RequestComparison) -> RequestComparison:
        return replace(
            comparison,
            user_id=self.pseudonym(comparison.user_id),
            rows=self.frame(comparison.rows),
        )

    def explanation(self, explanation: TweetExplanation) -> TweetExplanation:
        return TweetExplanation(
            view=self.comparison(explanation.view),
            tweet=explanation.tweet,
            vs_tweet=explanation.vs_tweet,
            reference=explanation.reference,
            attributions=self.frame(explanation.attributions),
            groups=explanation.groups,
        )


def _figures_of_summary(
    population: PopulationComparison,
) -> list[tuple[str, Callable[[], go.Figure], str]]:
    shown = population
    first, second = population.models
    scope = "held-out" if population.scope == "holdout" else "logged"
    biggest = max(population.settings.k)
    metric = f"ndcg@{biggest}"
    out: list[tuple[str, Callable[[], go.Figure], str]] = [
        (
            "metric_intervals",
            lambda: metric_intervals(shown),
            f"Ranking quality over {population.requests:,} {scope} requests: each ranker's mean "
            f"NDCG@k per request with its 95% bootstrap interval (left), and the paired "
            f"difference {second} − {first} with the randomization test's p-value (right).",
        )
    ]
    if metric in population.overall.ranker_metrics:
        out.append(
            (
                "segment_differences",
                lambda: segment_differences(shown, metric),
                f"NDCG@{biggest}, {second} − {first}, in every segment of the requests (95% "
                "intervals; green or red when the interval excludes 0).",
            )
        )
    if population.heads:
        out.append(
            (
                "head_quality",
                lambda: head_quality(shown),
                "Per engagement head: ROC-AUC and RCE of both rankers over the same requests.",
            )
        )
    return out


def _marker_caption(comparison: RequestComparison) -> str:
    """What the slopegraph's markers mean: engagement, or with graded relevance the grade."""
    if comparison.graded is None:
        return "Filled markers: the viewer engaged; red diamonds: negative feedback."
    caption = "Filled markers: judged relevant (grade above 0)"
    return caption + ("; red diamonds: negative feedback." if comparison.heads else ".")


def build_figures(data: ReportData, pseudonym: Pseudonymizer) -> list[ReportFigure]:
    """Every figure of the report, in document order, with stable ids."""
    safe = _Pseudonymized(pseudonym)
    models = data.settings.models
    audited = models[1]
    groups = feature_groups(data.workspace.spec)
    figures: list[ReportFigure] = []

    def add(fid: str, section: str, builder: str, figure: go.Figure, caption: str) -> None:
        figures.append(
            ReportFigure(id=fid, section=section, builder=builder, caption=caption, figure=figure)
        )

    for name, draw, caption in _figures_of_summary(data.population):
        fid = f"fig-summary-{name.replace('_', '-')}"
        add(fid, "summary", f"rankaudit.figures.{name}", draw(), caption)

    exposure = data.exposure.audit if data.exposure is not None else None
    if exposure is not None and not exposure.groups.empty:
        reference, audited_name = exposure.models
        add(
            "fig-exposure",
            "exposure",
            "rankaudit.figures.exposure.amplification_bars",
            amplification_bars(pseudonymized_audit(exposure, pseudonym)),
            f"Per group: amplification (reach of its tweets under {audited_name} over their "
            f"reach under {reference}, minus 1) and exposure ratio, in percent, with "
            f"{round(100 * exposure.confidence)}% paired-bootstrap intervals over "
            f"{exposure.n_viewers:,} viewers; it {MEASURES}.",
        )

    importance = data.importance
    shap_rows = importance.table.loc[importance.table["method"] == "shap"]
    if not shap_rows.empty:
        add(
            "fig-importance",
            "importance",
            "rankaudit.figures.importance.importance_comparison",
            importance_comparison(safe.frame(shap_rows), tuple(models)),
            f"Global importance: each ranker's share of mean |SHAP| of the final score per "
            f"feature, over {importance.rows:,} rows of {importance.requests:,} requests "
            "against a background sampled from the training period.",
        )
    both = {"shap", "ig"} <= set(data.methods[audited])
    if both:
        global_rows = importance.attributions.loc[importance.attributions["model"] == audited]
        add(
            "fig-agreement-global",
            "agreement",
            "rankaudit.figures.importance.method_agreement",
            method_agreement(safe.frame(global_rows)),
            f"SHAP against Integrated Gradients for {audited}, global reference (the importance "
            "sample): mean |attribution| per feature; the dotted diagonal is perfect agreement.",
        )
        request_rows = viewer_rows(data)
        request_rows = request_rows.loc[request_rows["model"] == audited]
        add(
            "fig-agreement-request",
            "agreement",
            "rankaudit.figures.importance.method_agreement",
            method_agreement(safe.frame(request_rows)),
            f"SHAP against Integrated Gradients for {audited}, request reference (every "
            "candidate of the reported requests).",
        )

    for index, viewer in enumerate(data.viewers):
        comparison = safe.comparison(viewer.comparison)
        add(
            f"fig-v{index}-slope",
            f"viewer-{index}",
            "rankaudit.figures.position_slopegraph",
            position_slopegraph(comparison),
            f"Both orderings of request {viewer.comparison.request_id}: {models[0]} on the left, "
            f"{models[1]} on the right; green lines moved up under {models[1]}, red down. "
            + _marker_caption(viewer.comparison),
        )
        for number, mover in enumerate(viewer.movers):
            explanation = safe.explanation(replace(mover.explanation, groups=groups))
            # The audited ranker first, as the text above the figures reads.
            for side, model in (("b", models[1]), ("a", models[0])):
                add(
                    f"fig-v{index}-m{number}-{side}",
                    f"viewer-{index}",
                    "rankaudit.figures.attribution_bars",
                    attribution_bars(explanation, model),
                    f"Why {mover.tweet} is placed relative to {mover.vs_tweet} under {model}: "
                    "each feature's contribution to the difference of their scores (pair "
                    f"reference), per method: the {DEFAULT_TOP} largest and the sum of all "
                    "other features; the title gives both scores and each method's "
                    "completeness error.",
                )
    return figures


def figure_entries(figures: Sequence[ReportFigure]) -> list[Mapping[str, str]]:
    """The JSON document's `figures` list."""
    return [f.entry() for f in figures]
