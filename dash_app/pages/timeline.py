"""Timeline page: `/timeline/<user_id>?request=&tweet=&model=&head=&reference=&vs=&chart=`.

The layout is built from the URL alone (no model runs): a store holding the `TimelineQuery`,
the explanation controls, and two placeholders that callbacks fill: the timeline (both
orderings, slopegraph, tweet table) and the open tweet's explanation. Every control writes a
new URL, so the URL is the only state and every view is a link.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html
from dash.dcc.express import send_bytes

from dash_app.components import (
    control,
    error_message,
    export_button,
    head_dropdown,
    hint,
    navigation,
    panel,
    radio,
)
from dash_app.pages.timeline_explain import BY, render_explanation, vs_options
from dash_app.pages.timeline_table import AUTHOR_CHARS, ROW_PX, TEXT_CHARS, render_timeline
from rankaudit.attribution import FINAL
from rankaudit.errors import ParameterError
from rankaudit.views import TimelineQuery, WorkspaceSession
from rankaudit.views.query import MAX_PARAM_LENGTH

__all__ = [
    "AUTHOR_CHARS",
    "ROW_PX",
    "TEXT_CHARS",
    "clicked_tweet_url",
    "controls_url",
    "export_report",
    "layout",
    "register",
    "render_explanation",
    "render_timeline",
    "request_url",
    "vs_options",
]

_NO_TWEET = (
    "Click a tweet (its id in the table, or a point of the slopegraph) to see why each ranker "
    "put it where it is."
)
_REFERENCE_HELP = {
    "request": (
        "Against the mean score of this request's candidates: what moves the tweet within this "
        "timeline. Viewer features are constant within a request, so they get ~0 here."
    ),
    "global": (
        "Against a background sample of training rows: why the score is high or low in "
        "general, viewer features included."
    ),
    "pair": (
        "Against one other tweet of the request, f(A) − f(B): exactly why A is above (or "
        "below) B. Default: the next tweet below in this ranker's order."
    ),
}


def _query(data: Any) -> TimelineQuery:
    # The stored query comes back from the browser: checked like a URL (ParameterError).
    return TimelineQuery.from_data(data)


def _heads(session: WorkspaceSession, model: str) -> list[str]:
    ranker = session.workspace.ranker(model)
    return [FINAL, *(getattr(ranker, "heads", ()) or ())]


def _search_page(session: WorkspaceSession) -> html.Div:
    examples = session.search_viewers("", limit=6)
    links: list[Any] = [
        dcc.Link(user, href=TimelineQuery(user=user).url(), className="chip") for user in examples
    ]
    surprising: list[Any] = []
    if session.overview_ready:
        top = session.overview().surprises.top(6)
        surprising = [
            dcc.Link(
                f"{row.request_id} · {row.user_id}",
                href=TimelineQuery(user=str(row.user_id), request=str(row.request_id)).url(),
                className="chip chip-warn",
            )
            for row in top.itertuples()
        ]
    return html.Div(
        [
            html.H2("Timelines", className="page-title"),
            panel(
                "Open a viewer",
                [
                    hint(
                        "Type a viewer id (or a request id) in the search box at the top and "
                        "press Enter. Every view is a link: copy the URL to share it."
                    ),
                    html.Div(links, className="chips"),
                    *(
                        [
                            html.H4("Most surprising requests", className="sub"),
                            html.Div(surprising, className="chips"),
                        ]
                        if surprising
                        else []
                    ),
                ],
            ),
        ]
    )


def _controls(session: WorkspaceSession, query: TimelineQuery) -> html.Div:
    model = query.model or session.models[1]
    try:
        heads = _heads(session, model)
    except Exception:  # an unknown model is reported by the explanation itself
        heads = [FINAL]
    return html.Div(
        [
            control("Ranker", radio("explain-model", session.models, model)),
            control("Output", head_dropdown("explain-head", heads, query.head), wide=True),
            control(
                "Reference",
                radio("explain-reference", ["request", "global", "pair"], query.reference),
            ),
            control(
                "vs tweet",
                dcc.Dropdown(
                    id="explain-vs",
                    # The value needs an option from the start, or the dropdown drops it (and
                    # the URL with it) before the timeline callback sends the candidates.
                    options=[] if query.vs is None else [{"label": query.vs, "value": query.vs}],
                    value=query.vs,
                    placeholder="next below",
                    disabled=query.reference != "pair",
                    className="dropdown",
                ),
                wide=True,
            ),
            control("Chart", radio("explain-chart", ["bars", "waterfall"], query.chart)),
            control("Rows", radio("explain-by", list(BY), "features", remember=True)),
        ],
        className="controls",
    )


def layout(session: WorkspaceSession, user_id: str | None = None, **params: Any) -> html.Div:
    """The page for a URL: the search page without a viewer, else the timeline's skeleton."""
    try:
        query = TimelineQuery.from_params(user_id, params)
    except Exception as error:
        return html.Div(
            [
                html.H2("Timeline", className="page-title"),
                error_message(error, where="timeline url"),
            ]
        )
    if query.user is None:
        return _search_page(session)
    title: list[Any] = [
        html.H2(["Viewer ", html.Span(query.user, className="mono")], className="page-title"),
        export_button("timeline", "Export audit report of this request"),
    ]
    # The controls exist without an open tweet too (hidden): callbacks write to them.
    controls = html.Div(
        _controls(session, query), style={"display": "none"} if query.tweet is None else None
    )
    explanation: list[Any] = [
        controls,
        hint(_NO_TWEET if query.tweet is None else _REFERENCE_HELP[query.reference]),
        dcc.Loading(
            html.Div(id="explain-body", className="explain-body"), type="dot", delay_show=150
        ),
    ]
    return html.Div(
        [
            dcc.Store(id="timeline-query", data=asdict(query)),
            html.Div(title, className="page-head"),
            html.Div(
                [
                    dcc.Loading(
                        html.Div(id="timeline-body", className="timeline-body"),
                        type="dot",
                        delay_show=150,
                        parent_className="timeline-loading",
                    ),
                    panel(
                        "Explanation"
                        if query.tweet is None
                        else f"Why {query.tweet} is where it is",
                        explanation,
                        id="explain-panel",
                        className="explain-panel",
                    ),
                ],
                className="timeline-grid",
            ),
        ]
    )


@navigation("timeline controls")
def controls_url(
    session: WorkspaceSession,
    data: dict[str, Any],
    model: str | None,
    head: str | None,
    reference: str | None,
    vs: str | None,
    chart: str | None,
) -> str | None:
    """The URL the explanation controls ask for; None when it is the current view (controls
    also fire when the page renders them). Another ranker resets the head: heads differ
    between rankers."""
    query = _query(data)
    default = session.models[1]
    current = query.model or default
    chosen = model or current
    reference = reference or query.reference
    updated = query.with_changes(
        model=chosen if query.model is not None or chosen != default else None,
        head=FINAL if chosen != current else head or query.head,
        reference=reference,
        vs=vs if reference == "pair" else None,
        chart=chart or query.chart,
    )
    # Control values come from the browser: the new state is checked as a URL would be.
    TimelineQuery.from_data(asdict(updated))
    return None if updated == query else updated.url()


@navigation("timeline explain switch")
def explain_url(session: WorkspaceSession, data: Any, explain: Any) -> str | None:
    """The URL of the explanation panel's score or rank view; None for the one shown."""
    query = _query(data)
    if explain not in ("score", "rank") or explain == query.explain:
        return None
    return query.with_changes(explain=explain).url()


@navigation("timeline request picker")
def request_url(session: WorkspaceSession, data: Any, request: Any) -> str | None:
    """The URL of another request of the same viewer; None for the one shown."""
    query = _query(data)
    if not isinstance(request, str) or not request or len(request) > MAX_PARAM_LENGTH:
        return None
    if request == query.request or query.user is None:
        return None
    if query.request is None and request == session.timeline(query.user).request_id:
        return None
    return query.with_changes(request=request).url()


@navigation("timeline slopegraph click")
def clicked_tweet_url(data: Any, click: Any) -> str | None:
    """The URL that opens the tweet clicked in the slopegraph; None without a click (or
    with a malformed one)."""
    if not isinstance(click, dict) or not isinstance(click.get("points"), list):
        return None
    point = click["points"][0] if click["points"] else None
    tweet = point.get("customdata") if isinstance(point, dict) else None
    query = _query(data)
    if not isinstance(tweet, str) or not tweet or len(tweet) > MAX_PARAM_LENGTH:
        return None
    if tweet == query.tweet:
        return None
    return query.with_changes(tweet=str(tweet), vs=None).url()


def export_report(session: WorkspaceSession, data: dict[str, Any]) -> Any:
    """The audit report (HTML) of the request on screen, as a download."""
    query = _query(data)
    if query.user is None:
        raise ParameterError("an export needs a viewer in the URL: /timeline/<viewer id>")
    request = session.timeline(query.user, query.request).request_id
    report = session.report(request=request)
    return send_bytes(report.html(), f"rankaudit-audit-{request}.html")


def register(app: Dash, session: WorkspaceSession) -> None:
    """Register both routes of the page and its callbacks on `app`."""

    def page(user_id: str | None = None, **params: Any) -> html.Div:
        return layout(session, user_id, **params)

    def search(**params: Any) -> html.Div:
        return layout(session, None, **params)

    dash.register_page(
        "dash_app.pages.timeline",
        path_template="/timeline/<user_id>",
        layout=page,
        title="rankaudit · timeline",
        order=2,
    )
    dash.register_page(
        "dash_app.pages.timeline_search",
        path="/timeline",
        layout=search,
        title="rankaudit · timelines",
        order=1,
    )

    @app.callback(
        Output("timeline-body", "children"),
        Output("explain-vs", "options"),
        Input("timeline-query", "data"),
    )
    def _timeline(data: dict[str, Any]) -> tuple[Any, list[dict[str, str]]]:
        return render_timeline(session, data), vs_options(session, data)

    @app.callback(
        Output("timeline-download", "data"),
        Output("timeline-export-error", "children"),
        Input("timeline-export", "n_clicks"),
        State("timeline-query", "data"),
        prevent_initial_call=True,
    )
    def _export(_: int, data: dict[str, Any]) -> tuple[Any, Any]:
        try:
            return export_report(session, data), None
        except Exception as error:  # shown in the page, logged on the server
            return dash.no_update, error_message(error, where="timeline export")

    @app.callback(
        Output("explain-body", "children"),
        Input("timeline-query", "data"),
        Input("explain-by", "value"),
    )
    def _explanation(data: dict[str, Any], rows: str | None) -> Any:
        return render_explanation(session, data, rows)

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Input("explain-model", "value"),
        Input("explain-head", "value"),
        Input("explain-reference", "value"),
        Input("explain-vs", "value"),
        Input("explain-chart", "value"),
        State("timeline-query", "data"),
        prevent_initial_call=True,
    )
    def _controls(
        model: str | None,
        head: str | None,
        reference: str | None,
        vs: str | None,
        chart: str | None,
        data: dict[str, Any],
    ) -> Any:
        return controls_url(session, data, model, head, reference, vs, chart) or dash.no_update

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Input("explain-quantity", "value"),
        State("timeline-query", "data"),
        prevent_initial_call=True,
    )
    def _explained(explain: str | None, data: dict[str, Any]) -> Any:
        return explain_url(session, data, explain) or dash.no_update

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Input("timeline-request", "value"),
        State("timeline-query", "data"),
        prevent_initial_call=True,
    )
    def _request(request: str | None, data: dict[str, Any]) -> Any:
        return request_url(session, data, request) or dash.no_update

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Input("timeline-slope", "clickData"),
        State("timeline-query", "data"),
        prevent_initial_call=True,
    )
    def _click(click: dict[str, Any] | None, data: dict[str, Any]) -> Any:
        return clicked_tweet_url(data, click) or dash.no_update
