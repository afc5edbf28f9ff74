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
    fmt,
    graph,
    guarded,
    head_dropdown,
    hint,
    navigation,
    panel,
    radio,
    snippet,
)
from rankaudit.attribution import FINAL
from rankaudit.attribution.grouping import By
from rankaudit.errors import ParameterError
from rankaudit.figures import (
    attribution_bars,
    attribution_waterfall,
    explained_difference,
    head_breakdown,
    position_slopegraph,
)
from rankaudit.views import ExplanationView, TimelineQuery, TimelineView, WorkspaceSession
from rankaudit.views.query import MAX_PARAM_LENGTH

__all__ = [
    "clicked_tweet_url",
    "controls_url",
    "export_report",
    "layout",
    "register",
    "render_explanation",
    "render_timeline",
    "request_url",
]

#: Height of a tweet row (and of the table header) in pixels: the slopegraph lines up with it.
ROW_PX = 30

_SOURCES = {"computed": "computed now (interactive settings), then cached"}
#: The "Rows" switch of the explanation: one bar per feature, or per feature group of the spec.
_BY: dict[str, By] = {"features": "feature", "groups": "group"}
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


#: Characters of a tweet's text sent to the browser (table cell and its tooltip alike): a log
#: may hold megabytes of text per tweet, the page shows a snippet.
TEXT_CHARS = 280
#: Characters of an author id shown in the table.
AUTHOR_CHARS = 64


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
                    options=[],
                    value=query.vs,
                    placeholder="next below",
                    disabled=query.reference != "pair",
                    className="dropdown",
                ),
                wide=True,
            ),
            control("Chart", radio("explain-chart", ["bars", "waterfall"], query.chart)),
            control("Rows", radio("explain-by", list(_BY), "features", remember=True)),
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


def _metrics(view: TimelineView) -> html.Div:
    metrics = view.comparison.metrics
    first, second = view.models
    k = max(view.comparison.settings.k)
    items = [
        ("candidates", fmt(metrics["candidates"]), None),
        ("engaged", fmt(metrics["engaged"]), None),
        ("Kendall τ-b", fmt(metrics["kendall_tau_b"], 2), "1 = same order"),
        ("RBO", fmt(metrics["rbo"], 2), "top-weighted"),
        ("mean |move|", fmt(metrics["mean_abs_displacement"], 2), "places"),
        (
            f"NDCG@{k}",
            f"{fmt(metrics[f'ndcg@{k}_a'], 2)} → {fmt(metrics[f'ndcg@{k}_b'], 2)}",
            f"{first} → {second}",
        ),
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.Div(label, className="stat-label"),
                    html.Div(value, className="stat-value"),
                    *([html.Div(note, className="stat-note")] if note else []),
                ],
                className="stat",
            )
            for label, value, note in items
        ],
        className="stats",
    )


def _request_picker(view: TimelineView) -> html.Div:
    requests = view.comparison.viewer_requests
    options = [
        {
            "label": (
                f"{row['request_id']} · {row['served_at']:%d %b %H:%M} · {int(row['candidates'])} tweets"
                f" · τ {fmt(row['kendall_tau_b'], 2)}"
            ),
            "value": str(row["request_id"]),
        }
        for row in requests.to_dict("records")
    ]
    return html.Div(
        [
            html.Label(
                f"Request ({len(options)} served to this viewer)", className="control-label"
            ),
            dcc.Dropdown(
                id="timeline-request",
                options=options,
                value=view.request_id,
                clearable=False,
                searchable=len(options) > 8,
                className="dropdown request-dropdown",
            ),
        ],
        className="request-picker",
    )


def _move(displacement: int) -> html.Td:
    # Text and class on the cell itself: a table renders ~500 components, each costs.
    if displacement > 0:
        return html.Td(f"▲{displacement}", className="num move up")
    if displacement < 0:
        return html.Td(f"▼{-displacement}", className="num move down")
    return html.Td("·", className="num move same")


#: Column names of the heads the demo workspace and the published weights use; other heads show
#: their own name.
_SHORT_HEADS = {
    "favorite": "fav",
    "retweet": "RT",
    "reply": "reply",
    "good_click": "click",
    "good_click_v2": "click v2",
    "profile_click": "profile",
    "negative_feedback": "neg fb",
    "report": "report",
    "video_watch": "video",
}


def _short(head: str) -> str:
    return _SHORT_HEADS.get(head, head.replace("_", " "))


def _percent(p: float) -> str:
    return f"{100 * p:.2g}%" if p >= 0.001 else f"{100 * p:.1g}%"


def _table(view: TimelineView, query: TimelineQuery) -> html.Table:
    model = query.model if query.model in view.models else view.models[1]
    tweets = view.tweets(model)
    first, second = view.models
    partner = query.vs
    selected = query.tweet
    if query.reference == "pair" and partner is None and selected in set(tweets["tweet_id"]):
        partner = view.neighbour(str(selected), model)  # the default: the next tweet below
    predicted = [c[2:] for c in tweets.columns if c.startswith("p_")]
    # The workspace's head order in every ranker's columns.
    heads = [h for h in view.comparison.heads if h in predicted] + [
        h for h in predicted if h not in view.comparison.heads
    ]
    header = html.Thead(
        html.Tr(
            [
                html.Th(f"{second} #", className="num", title=f"position under {second}"),
                html.Th(f"{first} #", className="num", title=f"position under {first}"),
                html.Th("move", className="num", title=f"places {second} moved the tweet"),
                html.Th("tweet · author · network · text"),
                html.Th("viewer did", title="the engagements the viewer actually did"),
                html.Th(f"score {first}", className="num"),
                html.Th(f"score {second}", className="num"),
                *[
                    html.Th(_short(h), className="num head", title=f"p({h}) under {model}")
                    for h in heads
                ],
            ]
        )
    )
    body = []
    for row in tweets.to_dict("records"):
        tweet = str(row["tweet_id"])
        classes = ["selected" if tweet == query.tweet else "", "vs" if tweet == partner else ""]
        network = row["in_network"]
        badge = (
            []
            if network is None
            else [
                html.Span(
                    "in" if network else "out",
                    className="badge " + ("in" if network else "out"),
                    title="in-network (the viewer follows the author)"
                    if network
                    else "out-of-network",
                )
            ]
        )
        engaged = ", ".join(_short(h) for h in row["engaged"].split(", ") if h)
        body.append(
            html.Tr(
                [
                    html.Td(str(row["position_b"]), className="num strong"),
                    html.Td(str(row["position_a"]), className="num"),
                    _move(int(row["displacement"])),
                    html.Td(
                        [
                            dcc.Link(
                                tweet,
                                href=query.with_changes(tweet=tweet, vs=None).url(),
                                className="tweet-link mono",
                                id={"type": "tweet-link", "tweet": tweet},
                            ),
                            html.Span(
                                snippet(row["author_id"], AUTHOR_CHARS), className="author mono"
                            ),
                            *badge,
                            html.Span(text, className="snippet", title=text)
                            if (text := snippet(row["text"], TEXT_CHARS))
                            else html.Span(className="snippet"),
                        ],
                        className="tweet-cell",
                    ),
                    html.Td(
                        engaged or "—",
                        className="engaged neg"
                        if row["negative"]
                        else "engaged"
                        if engaged
                        else "muted",
                        title=row["engaged"] or "no engagement",
                    ),
                    html.Td(fmt(row["score_a"], 3), className="num"),
                    html.Td(fmt(row["score_b"], 3), className="num"),
                    *[html.Td(_percent(float(row[f"p_{h}"])), className="num head") for h in heads],
                ],
                className=" ".join(c for c in classes if c) or None,
            )
        )
    return html.Table([header, html.Tbody(body)], className="tweets aligned", id="timeline-table")


@guarded("timeline")
def render_timeline(session: WorkspaceSession, data: dict[str, Any]) -> html.Div:
    """The timeline part of the page: metrics, request picker, slopegraph and tweet table."""
    query = _query(data)
    if query.user is None:  # the layout stores no query without a viewer
        raise ParameterError("a timeline needs a viewer in the URL: /timeline/<viewer id>")
    view = session.timeline(query.user, query.request)
    changes = view.comparison.top_k
    entered = [c for c in changes if c.k == min(view.comparison.settings.k)]
    first, second = view.models
    shown = query.model if query.model in view.models else second
    notes: list[Any] = []
    if entered:
        change = entered[0]
        notes.append(
            hint(
                f"Top {change.k}: {second} brought in {', '.join(change.entered) or 'nothing'}; "
                f"dropped {', '.join(change.exited) or 'nothing'} (vs {first})."
            )
        )
    notes.append(
        hint(
            f"Lines join each tweet's place under {first} (left) to its place under {second} "
            f"(right, the table's order): green moved up, red moved down. Filled markers: the "
            "viewer engaged; red diamonds: negative feedback. The last columns are each "
            f"engagement's predicted probability under {shown}. Click a tweet to explain it."
        )
    )
    return html.Div(
        [
            html.Div([_request_picker(view), _metrics(view)], className="timeline-top"),
            *notes,
            html.Div(
                [
                    html.Div(
                        graph(
                            position_slopegraph(
                                view.comparison,
                                selected=query.tweet,
                                row_height=ROW_PX,
                                header_height=ROW_PX,
                            ),
                            id="timeline-slope",
                            toolbar=False,
                        ),
                        className="slope",
                    ),
                    html.Div(_table(view, query), className="table-wrap"),
                ],
                className="orderings",
            ),
        ]
    )


def vs_options(session: WorkspaceSession, data: Any) -> list[dict[str, str]]:
    """The tweets a pair can be formed with: every other candidate, by position; none for a
    query that cannot be shown (the timeline part shows the error)."""
    try:
        query = _query(data)
        if query.user is None or query.tweet is None:
            return []
        view = session.timeline(query.user, query.request)
        model = query.model if query.model in view.models else view.models[1]
        positions = view.positions(model).sort_values()
    except Exception:  # the timeline part shows the error
        return []
    return [
        {"label": f"#{p} {t}", "value": str(t)} for t, p in positions.items() if t != query.tweet
    ]


def _summary(view: ExplanationView) -> html.Div:
    comparison = view.explanation.view
    row = comparison.tweet(view.tweet)
    first, second = comparison.models
    difference = explained_difference(view.explanation, view.model)
    checks = []
    for method, values in difference.methods.iterrows():
        relative = float(values["relative"])
        converged = bool(values["converged"])
        checks.append(
            html.Span(
                f"{str(method).upper()} Σ {float(values['total']):+.4g} · error {float(values['error']):.1e}"
                + (f" ({100 * relative:.2g}%)" if relative == relative and relative > 0 else "")
                + ("" if converged else " · not converged"),
                className="check ok" if converged else "check warn",
            )
        )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(view.tweet, className="mono strong"),
                    html.Span(f" by {row['author_id']} · "),
                    html.Span(
                        f"#{int(row['position_a'])} under {first}, #{int(row['position_b'])} under {second}"
                    ),
                    html.Span(
                        f" · explained: {view.model}, {'final score' if view.head == FINAL else 'p(' + view.head + ')'}"
                    ),
                ],
                className="explain-line",
            ),
            html.Div(
                [
                    html.Span("Top feature ", className="muted"),
                    html.Span(view.top_feature, id="explain-top-feature", className="mono strong"),
                    html.Span(
                        f" · gap {difference.gap:+.4g} = score {difference.score:.4g} − reference {difference.reference_score:.4g}",
                        className="muted",
                    ),
                ],
                className="explain-line",
            ),
            html.Div(
                [*checks, html.Span(_SOURCES.get(view.source, view.source), className="source")],
                className="checks",
            ),
        ],
        className="explain-summary",
    )


@guarded("explanation")
def render_explanation(
    session: WorkspaceSession, data: dict[str, Any], rows: str | None = None
) -> html.Div:
    """The open tweet's explanation: summary with completeness, attribution chart (the 12
    largest features, or feature groups with `rows="groups"`, and the rest summed), and the
    score of the tweet split by head under both rankers."""
    query = _query(data)
    if query.tweet is None:
        return html.Div()
    by = _BY.get(rows, "feature") if isinstance(rows, str) else "feature"
    view = session.explanation(query)
    if query.chart == "waterfall":
        method = "shap" if "shap" in view.methods else view.methods[0]
        figure = attribution_waterfall(view.explanation, view.model, method=method, by=by)
    else:
        figure = attribution_bars(view.explanation, view.model, by=by)
    parts: list[Any] = [_summary(view), graph(figure, id="explain-figure")]
    if by == "group":
        parts.insert(1, hint(f"Each bar sums a feature group of the spec; top: {view.top_group}."))
    if view.reference != "pair":
        neighbour = TimelineQuery(**{**data, "reference": "pair", "vs": None}).url()
        parts.append(
            html.Div(
                [
                    dcc.Link(
                        "Why above the next tweet? →",
                        href=neighbour,
                        id="explain-next-link",
                        className="action",
                    ),
                ],
                className="actions",
            )
        )
    parts.append(graph(head_breakdown(view.explanation.view, view.tweet), id="explain-heads"))
    return html.Div(parts)


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
