"""Figures of the population comparison: metrics with bootstrap intervals, per-segment
differences (a forest plot), agreement of the two orderings, and per-head quality.

Model and head names, segmentations and segments (category values of the log) are escaped
(`rankaudit.text.plotly_text`) where they enter plotly text."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rankaudit.compare.population import Estimate, PopulationComparison
from rankaudit.figures import theme
from rankaudit.figures._format import number
from rankaudit.text import plotly_text, plotly_texts

__all__ = [
    "agreement_intervals",
    "head_quality",
    "metric_intervals",
    "metric_label",
    "segment_differences",
]

_METRIC_LABELS = {
    "kendall_tau_b": "Kendall τ-b",
    "spearman": "Spearman ρ",
    "rbo": "RBO",
    "mean_abs_displacement": "mean |displacement| (places)",
}


def metric_label(metric: str) -> str:
    """A comparison metric's display name (figures, pages and reports)."""
    if metric.startswith("ndcg@"):
        return f"NDCG@{metric.split('@', 1)[1]}"
    if metric.startswith("overlap@"):
        return f"top-{metric.split('@', 1)[1]} overlap"
    return _METRIC_LABELS.get(metric, metric)


def _errors(estimates: list[Estimate]) -> dict[str, object]:
    means = np.array([e.mean for e in estimates])
    return {
        "type": "data",
        "array": np.array([e.ci_high for e in estimates]) - means,
        "arrayminus": means - np.array([e.ci_low for e in estimates]),
        "thickness": 1.5,
        "width": 5,
    }


def _p(value: float) -> str:
    if math.isnan(value):
        return "p —"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def metric_intervals(population: PopulationComparison) -> go.Figure:
    """Each ranker metric (NDCG@k) over all requests in scope: both rankers' means with their
    95% bootstrap intervals (left), and the paired difference b - a with its interval and the
    randomization test's p-value (right). Trace 0 is ranker a, trace 1 ranker b, trace 2 the
    difference; y values are the metric labels."""
    first, second = plotly_texts(population.models)
    summary = population.overall
    names = list(summary.ranker_metrics)
    labels = [metric_label(n) for n in names]
    metrics = [summary.ranker_metrics[n] for n in names]
    figure = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.58, 0.42],
        horizontal_spacing=0.04,
        subplot_titles=("mean per request (95% bootstrap CI)", f"{second} − {first}, paired"),
    )
    for index, (name, side) in enumerate(((first, "a"), (second, "b"))):
        estimates = [getattr(m, side) for m in metrics]
        figure.add_trace(
            go.Scatter(
                x=[e.mean for e in estimates],
                y=labels,
                mode="markers",
                name=name,
                marker={"color": theme.model_color(index), "size": 10},
                error_x=_errors(estimates),
                hovertemplate="%{y} " + name + ": %{x:.4f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    diffs = [m.diff for m in metrics]
    significant = [d.ci_low > 0 or d.ci_high < 0 for d in diffs]
    figure.add_trace(
        go.Scatter(
            x=[d.mean for d in diffs],
            y=labels,
            mode="markers+text",
            name=f"{second} − {first}",
            marker={
                "color": [
                    theme.UP if d.mean > 0 and s else theme.DOWN if s else theme.BASELINE
                    for d, s in zip(diffs, significant, strict=True)
                ],
                "size": 10,
                "symbol": "diamond",
            },
            error_x=_errors(diffs),
            text=[_p(m.p_value) for m in metrics],
            textposition="top center",
            textfont={"size": 10},
            customdata=[m.n for m in metrics],
            hovertemplate="%{y}: %{x:+.4f} over %{customdata} requests<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    figure.add_vline(x=0, line={"color": "#868e96", "width": 1, "dash": "dot"}, row=1, col=2)
    theme.apply_theme(
        figure,
        height=170 + 60 * len(labels),
        title={"text": f"Ranking quality, {population.requests:,} requests ({population.scope})"},
        legend={"orientation": "h", "y": 1.13, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        margin={"l": 10, "r": 10, "t": 96, "b": 10},
    )
    # Reversed (first metric on top), with room above each point for its p-value label.
    figure.update_yaxes(autorange=False, range=[len(labels) - 0.4, -0.7])
    return figure


def agreement_intervals(population: PopulationComparison) -> go.Figure:
    """How far the two orderings agree, per metric in [-1, 1] (Kendall tau-b, Spearman, RBO,
    top-k overlap): mean over requests with its 95% bootstrap interval. Mean |displacement|
    (places, another scale) is in the title. One trace; y values are the metric labels."""
    agreement = population.overall.agreement
    names = [n for n in agreement if n != "mean_abs_displacement"]
    estimates = [agreement[n].estimate for n in names]
    figure = go.Figure(
        go.Scatter(
            x=[e.mean for e in estimates],
            y=[metric_label(n) for n in names],
            mode="markers",
            marker={"color": theme.DEEP, "size": 10},
            error_x=_errors(estimates),
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
            showlegend=False,
        )
    )
    moved = agreement.get("mean_abs_displacement")
    note = "" if moved is None else f" · mean |move| {number(moved.estimate.mean)} places"
    theme.apply_theme(
        figure,
        height=120 + 34 * len(names),
        title={"text": f"Agreement of the two orderings{note}"},
    )
    figure.update_xaxes(range=[min(0.0, *[e.ci_low for e in estimates]) - 0.05, 1.02])
    figure.update_yaxes(autorange="reversed")
    return figure


def segment_differences(population: PopulationComparison, metric: str = "ndcg@10") -> go.Figure:
    """A forest plot of the paired difference b - a of `metric` in every segment (overall
    first): mean and 95% interval, green or red when the interval excludes 0. One trace; y
    values are `segmentation: segment (n)`. Raises KeyError for a metric not computed."""
    first, second = plotly_texts(population.models)
    summaries = [population.overall, *population.segments]
    labels, diffs, p_values, sizes = [], [], [], []
    for summary in summaries:
        ranked = summary.ranker_metrics[metric]
        name = (
            "all requests"
            if summary.segmentation == "all"
            else f"{summary.segmentation}: {summary.segment}"
        )
        labels.append(plotly_text(f"{name} ({summary.requests:,})"))
        diffs.append(ranked.diff)
        p_values.append(ranked.p_value)
        sizes.append(ranked.n)
    colors = [
        theme.UP if d.ci_low > 0 else theme.DOWN if d.ci_high < 0 else theme.BASELINE for d in diffs
    ]
    figure = go.Figure(
        go.Scatter(
            x=[d.mean for d in diffs],
            y=labels,
            mode="markers",
            marker={"color": colors, "size": 9, "symbol": "square"},
            error_x=_errors(diffs),
            customdata=np.column_stack([p_values, sizes]),
            hovertemplate="%{y}<br>"
            + f"{second} − {first}"
            + ": %{x:+.4f}<br>p = %{customdata[0]:.4f}, n = %{customdata[1]}<extra></extra>",
            showlegend=False,
        )
    )
    figure.add_vline(x=0, line={"color": "#868e96", "width": 1, "dash": "dot"})
    theme.apply_theme(
        figure,
        height=110 + 24 * len(labels),
        title={"text": f"{metric_label(metric)}: {second} − {first} by segment (95% CI)"},
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    return figure


def head_quality(population: PopulationComparison) -> go.Figure:
    """Per engagement head: ROC-AUC (left) and RCE (right, %) of both rankers, side by side.
    Traces: ROC-AUC of a, of b, then RCE of a, of b (heads without RCE are left out)."""
    first, second = plotly_texts(population.models)
    heads = list(population.heads.get("b", {}) or population.heads.get("a", {}))
    figure = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        subplot_titles=("ROC-AUC (0.5 = chance)", "RCE % (0 = average rate)"),
    )
    for col, key in ((1, "roc_auc"), (2, "rce")):
        for index, (name, side) in enumerate(((first, "a"), (second, "b"))):
            values = population.heads.get(side, {})
            x = [values.get(h, {}).get(key) for h in heads]
            x = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in x]
            figure.add_trace(
                go.Bar(
                    y=plotly_texts(heads),
                    x=x,
                    orientation="h",
                    name=name,
                    marker_color=theme.model_color(index),
                    text=[number(v) if v is not None else "—" for v in x],
                    textposition="outside",
                    cliponaxis=False,
                    showlegend=col == 1,
                    legendgroup=name,
                    hovertemplate="%{y} " + name + ": %{x:.4f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    figure.add_vline(x=0.5, line={"color": "#868e96", "width": 1, "dash": "dot"}, row=1, col=1)
    theme.apply_theme(
        figure,
        height=120 + 48 * len(heads),
        barmode="group",
        title={"text": "Quality per engagement head"},
        legend={"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0},
        margin={"l": 10, "r": 30, "t": 70, "b": 10},
    )
    figure.update_xaxes(range=[0.4, 1.0], row=1, col=1)
    figure.update_yaxes(autorange="reversed")
    return figure
