"""Reusable pieces of the pages, without callbacks: cards, stat tiles, messages, graphs, tables."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import plotly.graph_objects as go
from dash import dcc, html

from rankaudit.attribution import FINAL
from rankaudit.errors import RankauditError
from rankaudit.figures import number as fmt

__all__ = [
    "control",
    "error_message",
    "export_button",
    "fmt",
    "graph",
    "guarded",
    "head_dropdown",
    "hint",
    "navigation",
    "panel",
    "radio",
    "snippet",
    "stat",
]

log = logging.getLogger("rankaudit.app")
_VISIBLE = re.compile(r"\S")
P = ParamSpec("P")
R = TypeVar("R")

_GRAPH_CONFIG: Any = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


def error_message(error: BaseException, *, where: str) -> html.Div:
    """The friendly message a page shows instead of a view that cannot be built.

    A rankaudit error (bad id, bad parameter) is the user's to fix: its message is shown and
    logged as a warning. Anything else is logged with its traceback on the server, and the
    page says only that something went wrong."""
    if isinstance(error, RankauditError):
        log.warning("%s: %s", where, error)
        title, text = "Nothing to show for this link", str(error)
    else:
        log.exception("%s: internal error", where, exc_info=error)
        title, text = (
            "Something went wrong on the server",
            "The error was logged on the server; the rest of the app keeps working.",
        )
    return html.Div(
        [html.Div(title, className="error-title"), html.Div(text, className="error-text")],
        className="error-card",
        role="alert",
    )


def export_button(page: str, label: str) -> html.Div:
    """An Export button (`<page>-export`), its download (`<page>-download`, a spinner while the
    report is built: seconds) and where an export error is shown (`<page>-export-error`)."""
    return html.Div(
        [
            html.Button(label, id=f"{page}-export", className="export-button", n_clicks=0),
            dcc.Loading(dcc.Download(id=f"{page}-download"), type="dot"),
            html.Div(id=f"{page}-export-error"),
        ],
        className="export",
    )


def guarded(where: str) -> Callable[[Callable[P, R]], Callable[P, R | html.Div]]:
    """Decorate a view function so that any error becomes `error_message` (never a trace)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R | html.Div]:
        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | html.Div:
            try:
                return function(*args, **kwargs)
            except Exception as error:  # every failure becomes a message in the page
                return error_message(error, where=where)

        return wrapper

    return decorate


def navigation(where: str) -> Callable[[Callable[P, str | None]], Callable[P, str | None]]:
    """Decorate a function that computes the URL a control leads to so that a malformed
    input (the browser's payload is not trusted) leads nowhere (None: the page stays) and is
    logged, instead of failing the request."""

    def decorate(function: Callable[P, str | None]) -> Callable[P, str | None]:
        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> str | None:
            try:
                return function(*args, **kwargs)
            except RankauditError as error:
                log.warning("%s: %s", where, error)
            except Exception:  # a bug: logged with its traceback, the page stays as it is
                log.exception("%s: internal error", where)
            return None

        return wrapper

    return decorate


def snippet(text: object, limit: int) -> str:
    """At most `limit` characters of `text` on one line, with an ellipsis when cut. Only the
    start of the text is read, however long it is."""
    if not isinstance(text, str):
        text = "" if text is None or text != text else str(text)
    window = 2 * limit + 2  # whitespace runs collapse: read a little more than shown
    head = " ".join(text[:window].split())
    cut = len(head) > limit or _VISIBLE.search(text, window) is not None
    return head[: limit - 1] + "…" if cut else head


def graph(
    figure: go.Figure,
    *,
    id: str | dict[str, Any] | None = None,
    toolbar: bool = True,
    **style: Any,
) -> dcc.Graph:
    """A figure with the app's graph settings; plotly's toolbar is hidden (`toolbar` is kept
    for callers that still name it)."""
    extra: dict[str, Any] = {} if id is None else {"id": id}
    # plotly's toolbar stays hidden: it covered titles and legends on every chart.
    del toolbar
    config: Any = {**_GRAPH_CONFIG, "displayModeBar": False}
    return dcc.Graph(figure=figure, config=config, style=style or None, **extra)


def stat(label: str, value: str, *, note: str | None = None) -> html.Div:
    """A labelled number tile."""
    children: list[Any] = [
        html.Div(label, className="stat-label"),
        html.Div(value, className="stat-value"),
    ]
    if note:
        children.append(html.Div(note, className="stat-note"))
    return html.Div(children, className="stat")


def panel(
    title: str | None, children: Sequence[Any] | Any, *, id: str | None = None, className: str = ""
) -> html.Section:
    """A titled white card."""
    body: list[Any] = list(children) if isinstance(children, list | tuple) else [children]
    header: list[Any] = [html.H3(title, className="panel-title")] if title else []
    if id is None:
        return html.Section([*header, *body], className=f"panel {className}".strip())
    return html.Section([*header, *body], className=f"panel {className}".strip(), id=id)


def hint(text: str) -> html.Div:
    """A muted explanatory line."""
    return html.Div(text, className="hint")


def control(label: str, child: Any, *, wide: bool = False) -> html.Div:
    """A labelled control of a page's control bar."""
    return html.Div(
        [html.Label(label, className="control-label"), child],
        className="control control-wide" if wide else "control",
    )


def radio(
    id: str, options: Sequence[str], value: str | None, *, remember: bool = False
) -> dcc.RadioItems:
    """Segmented radio buttons whose labels are their values. `remember`: the browser keeps
    the user's choice for the session across page renders (for a view option the URL does
    not hold)."""
    kept: dict[str, Any] = {"persistence": True, "persistence_type": "session"} if remember else {}
    return dcc.RadioItems(
        id=id,
        options=[{"label": o, "value": o} for o in options],
        value=value,
        inline=True,
        className="segmented",
        **kept,
    )


def head_dropdown(id: str, heads: Sequence[str], value: str | None) -> dcc.Dropdown:
    """The explained output: the final score or one head's probability."""
    return dcc.Dropdown(
        id=id,
        options=[{"label": "final score" if h == FINAL else f"p({h})", "value": h} for h in heads],
        value=value,
        clearable=False,
        searchable=False,
        className="dropdown",
    )
