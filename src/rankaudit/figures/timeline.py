"""Figures of one request: the slopegraph of both orderings, a tweet's score split by head.

Ids, tweet texts, head and model names are escaped (`rankaudit.text.plotly_text`) where they
enter plotly text; `customdata` keeps the raw tweet ids a click reports."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from rankaudit.compare.request import RequestComparison
from rankaudit.compare.scoring import GRADE
from rankaudit.data import schema
from rankaudit.figures import theme
from rankaudit.figures._format import engaged_heads, number, snippet
from rankaudit.text import plotly_text, plotly_texts

__all__ = ["head_breakdown", "position_slopegraph"]

#: Above this many candidates the slopegraph drops the tweet-id labels (hover still has them).
LABEL_LIMIT = 45
_ROW_PX = 19


def _lines(rows: pd.DataFrame, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of one line per selected row from (0, position_a) to (1, position_b), the
    segments separated by NaN (a gap: one trace draws them all)."""
    count = int(np.count_nonzero(mask))
    xs = np.tile([0.0, 1.0, np.nan], count)
    ys = np.full(3 * count, np.nan)
    ys[0::3] = rows["position_a"].to_numpy(dtype=np.float64)[mask]
    ys[1::3] = rows["position_b"].to_numpy(dtype=np.float64)[mask]
    return xs, ys


def _judged(rows: pd.DataFrame, comparison: RequestComparison) -> list[str]:
    """Per row, the hover line of what the viewer did, or of the judged grade (and what the
    viewer did, when the workspace has heads too)."""
    engaged = [f"engaged: {did or 'no'}" for did in engaged_heads(rows, comparison.heads)]
    if comparison.graded is None or GRADE not in rows:
        return engaged
    grades = [f"grade: {float(g):g}" for g in rows[GRADE].tolist()]
    if not comparison.heads:
        return grades
    return [f"{g} · {e}" for g, e in zip(grades, engaged, strict=True)]


def _hover(rows: pd.DataFrame, comparison: RequestComparison) -> list[str]:
    first, second = plotly_texts(comparison.models)
    judged = plotly_texts(_judged(rows, comparison))
    texts = rows[schema.TWEET_TEXT].tolist() if schema.TWEET_TEXT in rows else [""] * len(rows)
    columns = zip(
        rows[schema.TWEET_ID].tolist(),
        rows[schema.AUTHOR_ID].tolist(),
        rows["position_a"].tolist(),
        rows["position_b"].tolist(),
        rows["score_a"].tolist(),
        rows["score_b"].tolist(),
        rows["displacement"].tolist(),
        judged,
        texts,
        strict=True,
    )
    out = []
    for tweet, author, pos_a, pos_b, score_a, score_b, moved, did, text in columns:
        lines = [
            f"<b>{plotly_text(tweet)}</b> by {plotly_text(author)}",
            f"{first}: #{pos_a} (score {number(score_a)})",
            f"{second}: #{pos_b} (score {number(score_b)})",
            f"moved {moved:+d} places" if moved else "same place",
            did,
        ]
        # Cut first, then escape: a cut must not split an entity.
        shown = snippet(text, 60)
        if shown:
            lines.append(f"<i>{plotly_text(shown)}</i>")
        out.append("<br>".join(lines))
    return out


def position_slopegraph(
    comparison: RequestComparison,
    *,
    selected: str | None = None,
    row_height: int | None = None,
    header_height: int = 30,
) -> go.Figure:
    """Both orderings of one request as a slopegraph: ranker a's positions on the left, ranker
    b's on the right (1 at the top), one line per tweet, green when b moved it up, red when b
    moved it down, grey when unchanged; the `selected` tweet is drawn on top in orange.

    Markers are filled when the tweet is relevant (the viewer engaged with it, or with graded
    relevance its grade is above 0), red diamonds for negative feedback. Every marker carries
    its tweet id as `customdata`, so a click identifies it. Up to `LABEL_LIMIT` candidates,
    each marker is labelled `#position tweet_id` (e.g. `#1 t0000020562`): the position first
    on both sides, so it never reads as a decimal of the id.
    Traces, in order: moved up, moved down, unchanged (lines), selected (line, only with a
    selected candidate), then the markers of a and of b.

    With `row_height` (pixels) the figure has no title, labels or legend and its geometry is
    fixed: a `header_height` band for the ranker names, then one row of `row_height` per
    position, so it lines up with a table of the tweets in b's order drawn beside it.
    """
    rows = comparison.rows
    first, second = plotly_texts(comparison.models)
    n = len(rows)
    displacement = rows["displacement"].to_numpy()
    # Traces as plain dicts: go.Figure validates them once (a go.Scatter would be validated
    # again when the figure copies it; this builder runs on every timeline view).
    traces: list[dict[str, Any]] = []
    for name, mask, color in (
        (f"{second} moved up", displacement > 0, theme.UP),
        (f"{second} moved down", displacement < 0, theme.DOWN),
        ("unchanged", displacement == 0, theme.MUTED),
    ):
        xs, ys = _lines(rows, mask)
        traces.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="lines",
                name=name,
                hoverinfo="skip",
                line={"color": color, "width": 1.6},
                opacity=0.85,
            )
        )
    tweets = rows[schema.TWEET_ID].astype(str).to_numpy()
    if selected is not None and (tweets == selected).any():
        xs, ys = _lines(rows, tweets == selected)
        traces.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="lines",
                name=plotly_text(selected),
                hoverinfo="skip",
                line={"color": theme.SELECTED, "width": 4.5},
            )
        )
    # `relevance` is the engagement-weighted value, or the gain of the grade (> 0 iff grade > 0).
    engaged = rows["relevance"].to_numpy() > 0
    negative = rows["negative"].to_numpy(dtype=bool)
    symbols = np.where(negative, "diamond", np.where(engaged, "circle", "circle-open"))
    colors = np.where(negative, theme.DOWN, np.where(engaged, "#212529", "#495057"))
    hover = _hover(rows, comparison)
    aligned = row_height is not None
    show_labels = not aligned and n <= LABEL_LIMIT
    shown = plotly_texts(tweets) if show_labels else []
    for x, column, position in (
        (0.0, "position_a", "middle left"),
        (1.0, "position_b", "middle right"),
    ):
        positions = rows[column].to_numpy()
        labels = (
            [f"#{p} {t}" for p, t in zip(positions, shown, strict=True)] if show_labels else None
        )
        traces.append(
            dict(
                type="scatter",
                x=np.full(n, x),
                y=positions,
                mode="markers+text" if show_labels else "markers",
                text=labels,
                textposition=position,
                textfont={"size": 11, "color": "#343a40"},
                marker={
                    "symbol": symbols,
                    "color": colors,
                    "size": 8 if aligned else 9,
                    "line": {"width": 1.5, "color": colors},
                },
                customdata=tweets,
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
                name=first if x == 0 else second,
                showlegend=False,
            )
        )
    axes = {"showgrid": False, "zeroline": False, "fixedrange": True}
    xaxis = {
        **axes,
        "tickvals": [0, 1],
        "ticktext": [f"<b>{first}</b>", f"<b>{second}</b>"],
        "side": "top",
    }
    if row_height is not None:
        return theme.themed(
            traces,
            height=header_height + row_height * n,
            margin={"l": 14, "r": 14, "t": header_height, "b": 0},
            showlegend=False,
            hovermode="closest",
            clickmode="event",
            xaxis={**xaxis, "range": [-0.08, 1.08]},
            yaxis={**axes, "autorange": False, "range": [n + 0.5, 0.5], "showticklabels": False},
        )
    return theme.themed(
        traces,
        height=max(360, 90 + _ROW_PX * n),
        title={"text": f"{first} → {second}: {plotly_text(comparison.request_id)}"},
        showlegend=True,
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0, "font": {"size": 11}},
        hovermode="closest",
        clickmode="event",
        xaxis={**xaxis, "range": [-0.75, 1.75] if show_labels else [-0.15, 1.15]},
        yaxis={
            **axes,
            "autorange": False,
            "range": [n + 0.7, 0.3],
            "showticklabels": not show_labels,
        },
    )


def head_breakdown(comparison: RequestComparison, tweet: str) -> go.Figure:
    """The final score of `tweet` under each ranker split by head: weight_h x p_h per head
    (score units), rankers side by side; a ranker without heads is left out. Raises
    NotFoundError when the tweet is not a candidate."""
    row = comparison.tweet(tweet)
    position = int(
        np.flatnonzero(comparison.rows[schema.TWEET_ID].astype(str).to_numpy() == str(tweet))[0]
    )
    heads = list(comparison.heads)
    traces = []
    for index, (name, probabilities) in enumerate(
        zip(comparison.models, comparison.probabilities, strict=True)
    ):
        if probabilities is None:
            continue
        present = [h for h in heads if h in probabilities]
        p = probabilities.iloc[position]
        weighted = [comparison.heads[h] * float(p[h]) for h in present]
        shown = plotly_text(name)
        traces.append(
            go.Bar(
                y=plotly_texts(present),
                x=weighted,
                orientation="h",
                name=shown,
                marker_color=theme.model_color(index),
                customdata=np.column_stack(
                    [[float(p[h]) for h in present], [comparison.heads[h] for h in present]]
                ),
                hovertemplate="%{y}: weight %{customdata[1]:g} × p %{customdata[0]:.4f} = %{x:+.4f}<extra>"
                + shown
                + "</extra>",
                text=[f"{w:+.3f}" for w in weighted],
                textposition="outside",
                cliponaxis=False,
            )
        )
    first, second = plotly_texts(comparison.models)
    return theme.themed(
        traces,
        height=70 + 34 * len(heads),
        barmode="group",
        title={
            "text": (
                f"Score by head: {first} {number(row['score_a'])}, {second} {number(row['score_b'])}"
                "<br><sup>weight × predicted probability per engagement head</sup>"
            )
        },
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        margin={"l": 10, "r": 40, "t": 64, "b": 10},
        yaxis={"autorange": "reversed"},
        xaxis={"title": {"text": "score units"}, "zeroline": True},
    )
