"""The report's figures, built by the same builders as the web app (`rankaudit.figures`).

The builders put log strings (tweet text, ids, feature and category values) into plotly text,
which plotly reads as a small subset of HTML. The report hands them copies of the results in
which every such string is HTML-escaped (`&`, `<`, `>`; plotly shows the entities as the
characters) and ids are pseudonymized when asked, so a tweet text like `<b>` is drawn as those
three characters and no id escapes pseudonymization through a hover label.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import pandas as pd
import plotly.graph_objects as go

from rankaudit.attribution.grouping import DEFAULT_TOP, feature_groups
from rankaudit.compare import PopulationComparison, RequestComparison, SegmentSummary
from rankaudit.data import schema
from rankaudit.explain import TweetExplanation
from rankaudit.figures import (
    attribution_bars,
    head_quality,
    metric_intervals,
    position_slopegraph,
    segment_differences,
)
from rankaudit.figures.importance import importance_comparison, method_agreement
from rankaudit.report.document import ID_FEATURES, viewer_rows
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


def _escape(value: object) -> object:
    return html.escape(value, quote=False) if isinstance(value, str) else value


class _Safe:
    """Copies of results with log strings escaped for plotly and ids pseudonymized."""

    def __init__(self, pseudonym: Pseudonymizer) -> None:
        self.pseudonym = pseudonym

    def text(self, value: object) -> str:
        return html.escape(str(value), quote=False)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        if "feature_category" in out and "feature" in out:
            is_id = out["feature"].isin(list(ID_FEATURES)).to_numpy()
            out["feature_category"] = [
                (self.pseudonym(c) if flag else c) if isinstance(c, str) else c
                for c, flag in zip(out["feature_category"], is_id, strict=True)
            ]
        for column in out.columns:
            if out[column].dtype != object:
                continue
            mapped = self._id if column in _ID_COLUMNS else _escape
            out[column] = pd.Series([mapped(v) for v in out[column]], index=out.index, dtype=object)
        return out.rename(columns={c: self._label(c) for c in out.columns})

    def _id(self, value: object) -> object:
        return value if value is None else self.text(self.pseudonym(value))

    def _label(self, column: object) -> object:
        # Label columns carry head names from the workspace config; keep them consistent
        # with the escaped head names of `comparison`.
        name = str(column)
        if schema.is_label_column(name):
            return schema.label_column(self.text(schema.head_of_label(name)))
        return column

    def comparison(self, comparison: RequestComparison) -> RequestComparison:
        heads = {self.text(h): w for h, w in comparison.heads.items()}
        probabilities = tuple(
            None if p is None else p.rename(columns={c: self.text(c) for c in p.columns})
            for p in comparison.probabilities
        )
        return replace(
            comparison,
            request_id=self.text(comparison.request_id),
            user_id=self.text(self.pseudonym(comparison.user_id)),
            models=(self.text(comparison.models[0]), self.text(comparison.models[1])),
            heads=MappingProxyType(heads),
            rows=self.frame(comparison.rows),
            probabilities=(probabilities[0], probabilities[1]),
        )

    def explanation(self, explanation: TweetExplanation) -> TweetExplanation:
        return TweetExplanation(
            view=self.comparison(explanation.view),
            tweet=self.text(explanation.tweet),
            vs_tweet=None if explanation.vs_tweet is None else self.text(explanation.vs_tweet),
            reference=explanation.reference,
            attributions=self.frame(explanation.attributions),
            groups={self.text(f): self.text(g) for f, g in explanation.groups.items()},
        )

    def _summary(self, summary: SegmentSummary) -> SegmentSummary:
        return replace(
            summary,
            segmentation=self.text(summary.segmentation),
            segment=self.text(summary.segment),
        )

    def population(self, population: PopulationComparison) -> PopulationComparison:
        return replace(
            population,
            models=(self.text(population.models[0]), self.text(population.models[1])),
            overall=self._summary(population.overall),
            segments=tuple(self._summary(s) for s in population.segments),
            heads={
                side: {self.text(h): v for h, v in per_head.items()}
                for side, per_head in population.heads.items()
            },
        )


def _figures_of_summary(
    population: PopulationComparison, safe: _Safe
) -> list[tuple[str, Callable[[], go.Figure], str]]:
    shown = safe.population(population)
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


def build_figures(data: ReportData, pseudonym: Pseudonymizer) -> list[ReportFigure]:
    """Every figure of the report, in document order, with stable ids."""
    safe = _Safe(pseudonym)
    models = data.settings.models
    audited = models[1]
    groups = feature_groups(data.workspace.spec)
    figures: list[ReportFigure] = []

    def add(fid: str, section: str, builder: str, figure: go.Figure, caption: str) -> None:
        figures.append(
            ReportFigure(id=fid, section=section, builder=builder, caption=caption, figure=figure)
        )

    for name, draw, caption in _figures_of_summary(data.population, safe):
        fid = f"fig-summary-{name.replace('_', '-')}"
        add(fid, "summary", f"rankaudit.figures.{name}", draw(), caption)

    importance = data.importance
    shap_rows = importance.table.loc[importance.table["method"] == "shap"]
    if not shap_rows.empty:
        add(
            "fig-importance",
            "importance",
            "rankaudit.figures.importance.importance_comparison",
            importance_comparison(safe.frame(shap_rows), tuple(safe.text(m) for m in models)),
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
            "Filled markers: the viewer engaged; red diamonds: negative feedback.",
        )
        for number, mover in enumerate(viewer.movers):
            explanation = safe.explanation(replace(mover.explanation, groups=groups))
            # The audited ranker first, as the text above the figures reads.
            for side, model in (("b", models[1]), ("a", models[0])):
                add(
                    f"fig-v{index}-m{number}-{side}",
                    f"viewer-{index}",
                    "rankaudit.figures.attribution_bars",
                    attribution_bars(explanation, safe.text(model)),
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
