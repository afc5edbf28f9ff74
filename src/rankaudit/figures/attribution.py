"""Figures of one tweet's explanation: attribution bars per method and a waterfall.

Both take a `TweetExplanation` (rankaudit.explain) and the model to show; its attributions may be
of the final score or of one head (whatever rows it holds for that model), per feature or per
feature group. Rows beyond `top` are summed into one "all other features (K)" bar, so the bars
still add up to the explained difference, up to the completeness error printed in the title.
Tweet ids, model, head, feature and group names and category values are escaped
(`rankaudit.text.plotly_text`) where they enter plotly text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from rankaudit.attribution.grouping import DEFAULT_TOP, By, check_by, top_contributions
from rankaudit.errors import NotFoundError
from rankaudit.explain import TweetExplanation
from rankaudit.figures import theme
from rankaudit.figures._format import feature_label, number, signed
from rankaudit.text import plotly_text

if TYPE_CHECKING:
    from rankaudit.attribution.rank import RankExplanation
    from rankaudit.compare.surprise import FeatureRanges

__all__ = [
    "METHOD_LABELS",
    "OUTSIDE_COLOR",
    "ExplainedDifference",
    "attribution_bars",
    "attribution_waterfall",
    "explained_difference",
    "outside_text",
    "rank_bars",
]

METHOD_LABELS = {"shap": "SHAP", "ig": "Integrated Gradients"}
#: Labels and bands of feature values outside the training range.
OUTSIDE_COLOR = "#b45309"
_OUTSIDE_BAND = "#fff3bf"
_TOTAL_COLOR = "#495057"  # the waterfall's reference and score bars
_SHORT = {"shap": "SHAP", "ig": "IG"}


@dataclass(frozen=True)
class ExplainedDifference:
    """What an explanation of one model explains: `score` - `reference_score`, and per method
    the sum of its attributions, the absolute and relative completeness error and whether IG
    converged (SHAP is exact by construction)."""

    model: str
    head: str
    reference: str
    tweet: str
    vs_tweet: str | None
    score: float
    reference_score: float
    methods: pd.DataFrame  # index: method; columns: total, error, relative, converged

    @property
    def gap(self) -> float:
        return self.score - self.reference_score


def explained_difference(explanation: TweetExplanation, model: str) -> ExplainedDifference:
    """Summarise the completeness of `model`'s attributions in `explanation`. Raises
    NotFoundError when the explanation holds no rows of that model."""
    rows = explanation.attributions.loc[explanation.attributions["model"] == model]
    if rows.empty:
        raise NotFoundError(
            f"the explanation of {explanation.tweet} holds no rows of model {model!r}"
        )
    methods = rows.groupby("method", sort=False).agg(
        total=("attribution", "sum"),
        error=("completeness_error", "first"),
        relative=("completeness_relative", "first"),
        converged=("converged", "first"),
    )
    return ExplainedDifference(
        model=model,
        head=str(rows["head"].iat[0]),
        reference=explanation.reference,
        tweet=explanation.tweet,
        vs_tweet=explanation.vs_tweet,
        score=float(rows["score"].to_numpy(dtype=np.float64)[0]),
        reference_score=float(rows["reference_score"].to_numpy(dtype=np.float64)[0]),
        methods=methods,
    )


def _title(summary: ExplainedDifference) -> str:
    output = "score" if summary.head == "score" else f"p({plotly_text(summary.head)})"
    tweet, model = plotly_text(summary.tweet), plotly_text(summary.model)
    if summary.reference == "pair":
        relation = "above" if summary.gap >= 0 else "below"
        head = (
            f"Why {tweet} is {relation} {plotly_text(summary.vs_tweet)} · {model}: "
            f"{output} {number(summary.score)} vs {number(summary.reference_score)}"
        )
    else:
        against = "request mean" if summary.reference == "request" else "background mean"
        head = (
            f"{tweet} · {model}: {output} {number(summary.score)} "
            f"vs {against} {number(summary.reference_score)}"
        )
    parts = []
    for method, row in summary.methods.iterrows():
        state = "" if bool(row["converged"]) else ", not converged"
        parts.append(
            f"{_SHORT.get(str(method), str(method))} Σ {signed(float(row['total']))} "
            f"(error {float(row['error']):.1e}{state})"
        )
    return f"{head}<br><sup>gap {signed(summary.gap)} · {' · '.join(parts)}</sup>"


def _labels(shown: pd.DataFrame, by: By) -> list[str]:
    """`feature = value`, `group (n features)`, or the summed row's own label, escaped."""
    labels = []
    for row in shown.to_dict("records"):
        if row["other"]:
            label = str(row[by])
        elif by == "group":
            count = int(row["members"])
            label = f"{row['group']} ({count} feature{'s' if count != 1 else ''})"
        else:
            label = feature_label(str(row["feature"]), row["value"])
        labels.append(plotly_text(label))
    return labels


def _shown(
    explanation: TweetExplanation, model: str, methods: Sequence[str], top: int, by: By
) -> pd.DataFrame:
    """The `top` largest rows by |attribution| over `methods` (ties by name) and one summed
    row for the rest, with their labels."""
    by = check_by(by, "the attribution figures")
    table = (
        explanation.group_contributions(model)
        if by == "group"
        else explanation.contributions(model)
    )
    shown = top_contributions(table, methods, top=top, name=by)
    return shown.assign(label=_labels(shown, by))


@dataclass(frozen=True)
class _Outside:
    """A shown feature row whose value lies outside its training range [low, high]."""

    row: int
    feature: str
    value: float
    low: float
    high: float


def _outside(shown: pd.DataFrame, ranges: FeatureRanges | None, by: By) -> list[_Outside]:
    """The rows of `shown` (per feature, not the summed row) whose continuous value lies
    outside its training range in `ranges`; none without ranges or per feature group."""
    if ranges is None or by != "feature":
        return []
    out = []
    for row, record in enumerate(shown.to_dict("records")):
        feature = str(record["feature"])
        if record["other"] or feature not in ranges.low:
            continue
        try:
            value = float(str(record["value"]))
        except ValueError:  # a categorical value has no range
            continue
        low, high = float(ranges.low[feature]), float(ranges.high[feature])
        if value < low or value > high:
            out.append(_Outside(row, feature, value, low, high))
    return out


def outside_text(low: float, high: float) -> str:
    """The note under the label of a value outside its training range."""
    return f"outside training range {number(low, 4)} .. {number(high, 4)}"


def _mark_outside(figure: go.Figure, labels: Sequence[str], outside: list[_Outside]) -> None:
    """Mark the rows of `outside` (indices into the y categories `labels`): a warning sign
    and the training range under the tick label, in `OUTSIDE_COLOR`, and a band behind the
    row. The y values stay the plain labels (hover and clicks read them)."""
    if not outside:
        return
    by_row = {o.row: o for o in outside}
    ticks = []
    for index, label in enumerate(labels):
        mark = by_row.get(index)
        ticks.append(
            label
            if mark is None
            else f"<span style='color:{OUTSIDE_COLOR}'><b>⚠ {label}</b><br>"
            f"<span style='font-size:10px'>{outside_text(mark.low, mark.high)}</span></span>"
        )
    figure.update_yaxes(tickmode="array", tickvals=list(labels), ticktext=ticks)
    for mark in outside:
        figure.add_shape(
            type="rect",
            xref="paper",
            x0=0,
            x1=1,
            yref="y",
            y0=mark.row - 0.5,
            y1=mark.row + 0.5,
            fillcolor=_OUTSIDE_BAND,
            opacity=0.6,
            line={"width": 0},
            layer="below",
        )


def attribution_bars(
    explanation: TweetExplanation,
    model: str,
    *,
    top: int = DEFAULT_TOP,
    by: By = "feature",
    ranges: FeatureRanges | None = None,
) -> go.Figure:
    """Horizontal bars of `model`'s contributions, one bar per method (SHAP, IG) and feature,
    labelled `feature = value` (or per feature group, `by="group"`, labelled `group (n
    features)`, the sum over its members), largest first, ties by name: the `top` largest and
    one bar "all other features (K)" summing the rest, so each method's bars add up to its
    total. Units are those of the explained output (score units, or a head's probability).
    The title states score, reference, gap and each method's completeness error. With the
    training `ranges`, a value outside its range is marked: a warning sign and "outside
    training range low .. high" under its tick label, a band behind its row. Trace i holds
    method `methods[i]`; y values are the labels."""
    summary = explained_difference(explanation, model)
    methods = [m for m in ("shap", "ig") if m in explanation.methods(model)]
    shown = _shown(explanation, model, methods, top, by)
    figure = go.Figure()
    for method in methods:
        values = shown[method].to_numpy(dtype=np.float64)
        figure.add_trace(
            go.Bar(
                y=shown["label"],
                x=values,
                orientation="h",
                name=METHOD_LABELS.get(method, method),
                marker_color=theme.METHOD_COLORS.get(method, theme.DEEP),
                text=[signed(v) for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}<br>" + _SHORT.get(method, method) + " %{x:+.5f}<extra></extra>",
            )
        )
    theme.apply_theme(
        figure,
        height=110 + 17 * len(shown) * max(1, len(methods)),
        barmode="group",
        bargap=0.25,
        title={"text": _title(summary)},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        margin={"l": 10, "r": 50, "t": 78, "b": 10},
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    # Room on both sides for the values written outside the bars: a negative bar's value must
    # not run into the tick labels.
    every = np.concatenate([np.zeros(1), *(shown[m].to_numpy(dtype=np.float64) for m in methods)])
    low, high = min(0.0, float(every.min())), max(0.0, float(every.max()))
    pad = 0.2 * (high - low) if high > low else 1e-6
    figure.update_xaxes(
        title_text="contribution ("
        + ("score units" if summary.head == "score" else "probability")
        + ")",
        zeroline=True,
        zerolinewidth=1.5,
        range=[low - (pad if low < 0 else 0.02 * pad), high + pad],
    )
    _mark_outside(figure, list(shown["label"]), _outside(shown, ranges, by))
    return figure


def attribution_waterfall(
    explanation: TweetExplanation,
    model: str,
    *,
    method: str = "shap",
    top: int = DEFAULT_TOP,
    by: By = "feature",
    ranges: FeatureRanges | None = None,
) -> go.Figure:
    """A waterfall from the reference score to the score: the reference, then `method`'s
    `top` largest contributions (features, or feature groups with `by="group"`; ties by name)
    and "all other features (K)" summed, then the score as the model computes it. Any
    completeness error shows as the difference between the last step and the total. Values
    outside their training `ranges` are marked as in `attribution_bars`. Raises
    NotFoundError when `method` has no attributions for `model`."""
    summary = explained_difference(explanation, model)
    available = explanation.methods(model)
    if method not in available:
        raise NotFoundError(
            f"no {method!r} attributions for {model!r}; available: {', '.join(available)}"
        )
    shown = _shown(explanation, model, [method], top, by)
    reference = {
        "request": "request mean",
        "global": "background mean",
        "pair": f"{summary.vs_tweet}",
    }.get(summary.reference, summary.reference)
    labels = [plotly_text(reference), *shown["label"], plotly_text(summary.tweet)]
    values = [summary.reference_score, *shown[method].to_numpy(dtype=np.float64), summary.score]
    # Floating bars (plotly.js's basic bundle has no waterfall trace): the reference and the
    # score from zero, each step from the running total before it. The last bar is the
    # model's own score, not the running total, so a completeness error stays visible as a
    # gap between the last step and the score.
    steps = np.asarray(values[1:-1], dtype=np.float64)
    running = summary.reference_score + np.concatenate([[0.0], np.cumsum(steps)])
    colours = [
        _TOTAL_COLOR,
        *(theme.POSITIVE if v >= 0 else theme.NEGATIVE for v in steps),
        _TOTAL_COLOR,
    ]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=values,
            base=[0.0, *running[:-1], 0.0],
            orientation="h",
            name=METHOD_LABELS.get(method, method),
            marker_color=colours,
            text=[
                number(summary.reference_score),
                *(signed(v) for v in values[1:-1]),
                number(summary.score),
            ],
            textposition="outside",
            cliponaxis=False,
        )
    )
    # Connectors: from each bar's end to the next bar's start, one row down.
    for row, at in enumerate(running):
        figure.add_shape(
            type="line",
            xref="x",
            yref="y",
            x0=at,
            x1=at,
            y0=row,
            y1=row + 1,
            line={"color": "#adb5bd", "width": 1},
        )
    theme.apply_theme(
        figure,
        height=120 + 26 * len(labels),
        title={"text": _title(summary)},
        showlegend=False,
        margin={"l": 10, "r": 50, "t": 78, "b": 10},
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    # Zoom on the path from the reference to the score: a range from 0 would squeeze the
    # steps into a sliver next to the reference's bar.
    path = np.concatenate(
        [
            [summary.reference_score],
            summary.reference_score + np.cumsum(values[1:-1]),
            [summary.score],
        ]
    )
    low, high = float(path.min()), float(path.max())
    pad = 0.12 * (high - low) if high > low else max(abs(high), 1e-6) * 0.1
    figure.update_xaxes(
        title_text=f"{METHOD_LABELS.get(method, method)}: reference → score",
        range=[low - pad, high + pad],
    )
    # The reference's bar comes first: feature rows are one further down.
    outside = [replace(o, row=o.row + 1) for o in _outside(shown, ranges, by)]
    _mark_outside(figure, labels, outside)
    return figure


def rank_bars(explanation: RankExplanation, model: str, *, top: int = DEFAULT_TOP) -> go.Figure:
    """Horizontal bars of the Shapley values of `explanation`'s rank under `model` (request
    reference, the other candidates fixed), in positions: the `top` largest |values| (ties by
    feature name) and one bar "all other features (K)" summing the rest, so the bars add up to
    the rank change, rank with its features minus rank at the reference. A negative bar moves
    the tweet up. Feature and model names are escaped."""
    table = explanation.values.rename(columns={"player": "feature"})[["feature", "rank"]]
    shown = top_contributions(table, ["rank"], top=top)
    values = shown["rank"].to_numpy(dtype=np.float64)
    at_x, at_reference = explanation.at_x["rank"], explanation.at_reference["rank"]
    figure = go.Figure(
        go.Bar(
            y=[plotly_text(str(f)) for f in shown["feature"]],
            x=values,
            orientation="h",
            name="rank",
            marker_color=[theme.UP if v < 0 else theme.DOWN for v in values],
            text=[f"{v:+.2f}" for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}<br>rank %{x:+.3f} positions<extra></extra>",
        )
    )
    theme.apply_theme(
        figure,
        height=110 + 17 * len(shown),
        title={
            "text": f"{plotly_text(model)}: rank #{at_x:.0f}, #{at_reference:.0f} at the request "
            f"reference<br><sup>change {at_x - at_reference:+.0f} positions = sum of the bars "
            "(negative: moves the tweet up)</sup>"
        },
        showlegend=False,
        margin={"l": 10, "r": 50, "t": 78, "b": 10},
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title_text="contribution to the rank (positions)", zeroline=True)
    return figure
