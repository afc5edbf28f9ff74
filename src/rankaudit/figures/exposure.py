"""Figures of the exposure audit: each group's amplification (reach under the audited ranker
over the reference, minus 1) and exposure ratio with bootstrap intervals.

Groupings, groups and model names are log or config strings: escaped with
`rankaudit.text.plotly_text` where they enter plotly text."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rankaudit.exposure.audit import ExposureAudit
from rankaudit.figures import theme
from rankaudit.text import plotly_text, plotly_texts

__all__ = ["amplification_bars"]


def amplification_bars(audit: ExposureAudit, grouping: str | None = None) -> go.Figure:
    """Horizontal bars per group (of `grouping`, default every grouping): amplification and
    exposure ratio in percent with their intervals as error bars. Trace 0 is amplification,
    trace 1 the exposure ratio; y values are "grouping: group"."""
    rows = audit.groups
    if grouping is not None:
        rows = rows.loc[rows["grouping"] == grouping]
    labels = [
        f"{plotly_text(g)}: {plotly_text(v)}"
        for g, v in zip(rows["grouping"], rows["group"], strict=True)
    ]
    traces = []
    for index, (name, title) in enumerate(
        (("amplification", "reach (amplification)"), ("exposure_ratio", "exposure"))
    ):
        point = 100 * rows[name].to_numpy(dtype=np.float64)
        low = 100 * rows[f"{name}_low"].to_numpy(dtype=np.float64)
        high = 100 * rows[f"{name}_high"].to_numpy(dtype=np.float64)
        traces.append(
            go.Bar(
                x=point,
                y=labels,
                orientation="h",
                name=title,
                marker_color=theme.model_color(index),
                error_x={
                    "type": "data",
                    "array": high - point,
                    "arrayminus": point - low,
                    "thickness": 1.5,
                    "width": 4,
                },
                customdata=np.stack([low, high], axis=1) if len(point) else None,
                hovertemplate="%{y}<br>%{x:+.1f}% [%{customdata[0]:+.1f}%, "
                "%{customdata[1]:+.1f}%]<extra>" + title + "</extra>",
            )
        )
    reference, audited = plotly_texts(audit.models)
    return theme.themed(
        traces,
        height=max(260, 60 + 46 * len(labels)),
        barmode="group",
        title=f"{audited} against {reference}: change per group, "
        f"{round(100 * audit.confidence)}% bootstrap intervals over viewers",
        xaxis={"title": "change (%)", "zeroline": True},
        yaxis={"autorange": "reversed"},
    )
