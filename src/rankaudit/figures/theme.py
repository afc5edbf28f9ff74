"""Colours, fonts and layout defaults shared by every figure, so the app and the reports match."""

from __future__ import annotations

from typing import Any, Final

import plotly.graph_objects as go

__all__ = [
    "BASELINE",
    "COLORWAY",
    "DEEP",
    "DOWN",
    "FONT",
    "METHOD_COLORS",
    "MUTED",
    "NEGATIVE",
    "PLOTLY_TRACES",
    "POSITIVE",
    "SELECTED",
    "UP",
    "apply_theme",
    "model_color",
    "themed",
]

#: The only trace types figures may use: those of plotly.js's basic bundle, which the web app
#: serves instead of the full one (dash_app/plotly_bundle.py; a test scans every figure).
PLOTLY_TRACES: Final = frozenset({"bar", "pie", "scatter"})

FONT: Final = "Inter, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
#: The reference ranker (a) and the audited ranker (b).
BASELINE: Final = "#6b7a90"
DEEP: Final = "#3b5bdb"
#: Position moves: b moved a tweet up / down; unchanged.
UP: Final = "#2b8a3e"
DOWN: Final = "#c92a2a"
MUTED: Final = "#c7ccd4"
SELECTED: Final = "#f08c00"
#: Attribution signs (pushes the score up / down).
POSITIVE: Final = "#1c7ed6"
NEGATIVE: Final = "#e8590c"
METHOD_COLORS: Final = {"shap": "#364fc7", "ig": "#12b886"}
_GRID: Final = "#eceef1"
#: Trace colours when a figure does not set its own.
COLORWAY: Final = [DEEP, BASELINE, "#12b886", "#f08c00", "#ae3ec9", "#1098ad", "#e8590c"]


def model_color(index: int) -> str:
    """Colour of ranker a (index 0) or b (index 1)."""
    return BASELINE if index == 0 else DEEP


_AXES: Final = {
    "gridcolor": _GRID,
    "zerolinecolor": "#adb5bd",
    "linecolor": "#ced4da",
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 8, "font": {"size": 12}},
}
_LAYOUT: Final = {
    # An empty template: copying a named plotly template costs ~9 ms per figure, more than
    # the rest of a slopegraph, and the app builds figures on every page view.
    "template": "none",
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "colorway": COLORWAY,
    "font": {"family": FONT, "size": 12, "color": "#212529"},
    "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
    "hoverlabel": {"font": {"family": FONT, "size": 12}, "align": "left"},
    "title": {"font": {"size": 14}, "x": 0.01, "xanchor": "left", "xref": "container"},
    "xaxis": _AXES,
    "yaxis": _AXES,
}


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def themed(data: list[Any], *, height: int | None = None, **layout: Any) -> go.Figure:
    """A figure of `data` (traces) with the shared look and `layout` merged into it (nested
    dicts merge: `title={"text": ...}` keeps the title font), validated in one pass."""
    extra = dict(layout)
    if height is not None:
        extra["height"] = height
    return go.Figure(data=data, layout=_merged(_LAYOUT, extra))


def apply_theme(figure: go.Figure, *, height: int | None = None, **layout: Any) -> go.Figure:
    """Apply the shared look to an existing figure (subplots: every axis) in place and return
    it; `themed` builds a new figure faster."""
    base = {k: v for k, v in _LAYOUT.items() if k not in ("xaxis", "yaxis")}
    figure.update_layout(**base)
    # A second update merges into the defaults (a given title keeps the default font).
    figure.update_layout(**({"height": height} if height is not None else {}), **layout)
    figure.update_xaxes(**_AXES)
    figure.update_yaxes(**_AXES)
    return figure
