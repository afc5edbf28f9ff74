"""The timeline part of the Timeline page: metrics, request picker, why the request is
surprising, slopegraph and the tweet table (values outside the training range marked)."""

from __future__ import annotations

from typing import Any

import numpy as np
from dash import dcc, html

from dash_app.components import fmt, graph, guarded, hint, snippet
from rankaudit.compare.surprise import FeatureRanges
from rankaudit.errors import ParameterError
from rankaudit.figures import position_slopegraph
from rankaudit.views import TimelineQuery, TimelineView, WorkspaceSession

__all__ = [
    "AUTHOR_CHARS",
    "ROW_PX",
    "TEXT_CHARS",
    "out_of_range",
    "render_timeline",
    "surprise_reasons",
]

#: Height of a tweet row (and of the table header) in pixels: the slopegraph lines up with it.
ROW_PX = 30

#: Characters of a tweet's text sent to the browser (table cell and its tooltip alike): a log
#: may hold megabytes of text per tweet, the page shows a snippet.
TEXT_CHARS = 280
#: Characters of an author id shown in the table.
AUTHOR_CHARS = 64


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


def _table(view: TimelineView, query: TimelineQuery, outside: dict[str, list[str]]) -> html.Table:
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
                html.Th(
                    f"score {first}",
                    className="num",
                    title=f"{first}'s score on its own scale: compare positions, not the two "
                    "scores",
                ),
                html.Th(
                    f"score {second}",
                    className="num",
                    title=f"{second}'s score on its own scale: compare positions, not the two "
                    "scores",
                ),
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
                            *(
                                [
                                    html.Span(
                                        "out of range",
                                        className="badge range",
                                        title="outside the training range: "
                                        + "; ".join(outside[tweet]),
                                    )
                                ]
                                if tweet in outside
                                else []
                            ),
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
    query = TimelineQuery.from_data(data)  # from the browser: checked like a URL
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
    ranges = session.feature_ranges()
    reasons = surprise_reasons(session, view)
    outside = out_of_range(view, ranges) if ranges is not None else {}
    return html.Div(
        [
            html.Div([_request_picker(view), _metrics(view)], className="timeline-top"),
            *([reasons] if reasons is not None else []),
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
                    html.Div(_table(view, query, outside), className="table-wrap"),
                ],
                className="orderings",
            ),
        ]
    )


#: What each surprise component means, as the page says it.
_COMPONENTS = {
    "disagreement": "the rankers disagree on the order",
    "demoted_engagement": "tweets the viewer engaged with were moved down",
    "promoted_unengaged": "tweets the viewer ignored were brought into the top",
    "out_of_range": "the top holds feature values outside the training range",
}


def _range_text(feature: str, value: float, low: float, high: float) -> str:
    return f"{feature} = {fmt(value, 4)} (training {fmt(low, 4)} .. {fmt(high, 4)})"


def out_of_range(view: TimelineView, ranges: FeatureRanges) -> dict[str, list[str]]:
    """tweet id -> its continuous feature values outside the training range, as text
    (`feature = value (training low .. high)`); tweets with none are left out."""
    rows = view.comparison.rows
    features = [f for f in ranges.low if f in rows]
    if not features:
        return {}
    values = rows[features].to_numpy(dtype=np.float64)
    low = np.array([ranges.low[f] for f in features])
    high = np.array([ranges.high[f] for f in features])
    with np.errstate(invalid="ignore"):
        outside = (values < low) | (values > high)
    tweets = rows["tweet_id"].astype(str).to_numpy()
    found: dict[str, list[str]] = {}
    for i, j in zip(*np.nonzero(outside), strict=True):
        found.setdefault(str(tweets[i]), []).append(
            _range_text(features[j], float(values[i, j]), low[j], high[j])
        )
    return found


def surprise_reasons(session: WorkspaceSession, view: TimelineView) -> html.Div | None:
    """Why the request is on the surprise list: its rank, each component's value with what it
    means (largest first), and the feature furthest outside its training range. None when the
    overview is not computed yet or the request is outside its scope (`serve` computes it
    before announcing the URL)."""
    if not session.overview_ready:
        return None
    surprises = session.overview().surprises
    match = surprises.table.loc[surprises.table["request_id"].astype(str) == view.request_id]
    if match.empty:
        return None
    row = match.iloc[0]
    parts = sorted(
        (
            (float(row[c]), text)
            for c, text in _COMPONENTS.items()
            if c in row and row[c] == row[c] and float(row[c]) > 0
        ),
        reverse=True,
    )
    items: list[Any] = [html.Li(f"{text}: {value:.2f}") for value, text in parts]
    feature = row.get("feature")
    if isinstance(feature, str) and feature:
        items.append(
            html.Li(
                "furthest outside: "
                + _range_text(
                    feature,
                    float(row["feature_value"]),
                    float(row["train_min"]),
                    float(row["train_max"]),
                ),
                className="warn",
            )
        )
    return html.Div(
        [
            html.Div(
                f"Surprising: #{int(row['rank'])} of {surprises.requests} requests "
                f"(surprise {float(row['surprise']):.2f}, components 0..1):",
                className="surprise-title",
            ),
            html.Ul(items, className="surprise-reasons"),
        ],
        className="surprise-box",
        id="timeline-surprise",
    )
