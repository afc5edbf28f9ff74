"""Overview page (`/`): the workspace, deep vs baseline with confidence intervals, per-head
quality, and the surprise list (each row links to its timeline)."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Dash, Input, Output, dcc, html
from dash.dcc.express import send_bytes

from dash_app.components import (
    error_message,
    export_button,
    fmt,
    graph,
    guarded,
    hint,
    panel,
    stat,
)
from rankaudit.compare.surprise import COMPONENTS
from rankaudit.figures import (
    agreement_intervals,
    head_quality,
    metric_intervals,
    segment_differences,
)
from rankaudit.views import OverviewView, TimelineQuery, WorkspaceSession

__all__ = ["layout", "register", "render_overview", "surprise_table"]


@guarded("overview")
def _summary(session: WorkspaceSession) -> html.Div:
    from rankaudit.views.overview import summarize_workspace

    summary = summarize_workspace(session.workspace, session.index)
    span = f"{summary.first_served:%d %b %Y} – {summary.last_served:%d %b %Y}"
    heads = ", ".join(f"{h} {w:g}" for h, w in summary.heads.items())
    models = ", ".join(f"{name} ({kind})" for name, kind in summary.models)
    holdout = "—" if summary.holdout_from is None else f"{summary.holdout_from:%d %b %Y}"
    return html.Div(
        [
            html.Div(
                [
                    stat("rows", fmt(summary.rows)),
                    stat("requests", fmt(summary.requests)),
                    stat("viewers", fmt(summary.users)),
                    stat("features", fmt(summary.features)),
                    stat("served", span),
                    stat("held out from", holdout, note="rankers trained before"),
                ],
                className="stats",
            ),
            html.Div(
                [
                    html.Span("heads: ", className="muted"),
                    heads,
                    html.Span(" · models: ", className="muted"),
                    models,
                ],
                className="hint",
            ),
        ]
    )


def layout(session: WorkspaceSession, **_: Any) -> html.Div:
    """The page: the workspace summary now, the comparison when the callback has it."""
    return html.Div(
        [
            html.Div(
                [
                    html.H2(f"Overview · {session.workspace.name}", className="page-title"),
                    export_button(
                        "overview", f"Export audit report ({EXPORT_SURPRISES} most surprising)"
                    ),
                ],
                className="page-head",
            ),
            _summary(session),
            dcc.Store(id="overview-trigger", data=1),
            hint(
                "Both rankers over the held-out requests (what they were not trained on), with "
                "95% bootstrap intervals and paired randomization tests; computed once per "
                "server (seconds on a large log)."
            ),
            dcc.Loading(html.Div(id="overview-body"), type="dot", delay_show=200),
        ]
    )


def surprise_table(overview: OverviewView, top: int) -> html.Table:
    """The `top` most surprising requests, each linking to its timeline."""
    first, second = overview.surprises.models
    rows: pd.DataFrame = overview.surprises.top(min(top, max(1, overview.surprises.requests)))
    header = html.Thead(
        html.Tr(
            [
                html.Th("#", className="num"),
                html.Th("request"),
                html.Th("viewer"),
                html.Th("served (UTC)"),
                html.Th("surprise", className="num"),
                *[html.Th(c.replace("_", " "), className="num") for c in COMPONENTS],
                html.Th("furthest outside training range"),
            ]
        )
    )
    body = []
    for row in rows.to_dict("records"):
        link = TimelineQuery(user=str(row["user_id"]), request=str(row["request_id"])).url()
        outside = (
            f"{row['feature']} = {fmt(row['feature_value'])} (trained on {fmt(row['train_min'])}–{fmt(row['train_max'])})"
            if row["feature"]
            else "—"
        )
        body.append(
            html.Tr(
                [
                    html.Td(str(row["rank"]), className="num"),
                    html.Td(
                        dcc.Link(
                            str(row["request_id"]),
                            href=link,
                            className="mono",
                            id={"type": "surprise-link", "rank": int(row["rank"])},
                        )
                    ),
                    html.Td(str(row["user_id"]), className="mono"),
                    html.Td(f"{pd.Timestamp(row['served_at']):%Y-%m-%d %H:%M}"),
                    html.Td(
                        html.Div(
                            [
                                html.Div(
                                    className="bar",
                                    style={"width": f"{100 * float(row['surprise']):.0f}%"},
                                ),
                                html.Span(f"{float(row['surprise']):.2f}"),
                            ],
                            className="bar-cell",
                        ),
                        className="num",
                    ),
                    *[html.Td(fmt(row[c], 2), className="num") for c in COMPONENTS],
                    html.Td(outside, className="warn-text" if row["feature"] else "muted"),
                ]
            )
        )
    caption = html.Caption(
        f"{second} audited against {first}; score in [0, 1], equal weights of the components "
        f"({overview.surprises.requests:,} requests scored)."
    )
    return html.Table(
        [caption, header, html.Tbody(body)], className="tweets surprises", id="surprise-table"
    )


@guarded("overview")
def render_overview(session: WorkspaceSession) -> html.Div:
    """Metrics with intervals, per-head quality, agreement, segments and the surprise list."""
    overview = session.overview()
    population = overview.population
    k = max(population.settings.k)
    return html.Div(
        [
            html.Div(
                [
                    panel(None, graph(metric_intervals(population), id="overview-metrics")),
                    panel(None, graph(head_quality(population), id="overview-heads")),
                ],
                className="grid-2",
            ),
            html.Div(
                [
                    panel(None, graph(agreement_intervals(population), id="overview-agreement")),
                    panel(
                        None,
                        graph(segment_differences(population, f"ndcg@{k}"), id="overview-segments"),
                    ),
                ],
                className="grid-2",
            ),
            panel(
                "Surprising requests",
                [
                    hint(
                        "Requests worth a look, found without knowing where to look: the rankers "
                        "disagree, engaged tweets pushed down, unengaged ones promoted, or "
                        "features outside the range seen in training. Open one to see why."
                    ),
                    html.Div(
                        surprise_table(overview, session.settings.surprises), className="table-wrap"
                    ),
                ],
            ),
        ]
    )


#: Viewers in the Overview page's exported report: the top of the surprise list shown.
EXPORT_SURPRISES = 5


def export_report(session: WorkspaceSession) -> Any:
    """The audit report (HTML) of the overview: metrics and the top surprises, as a download."""
    report = session.report(surprising=EXPORT_SURPRISES)
    return send_bytes(report.html(), f"rankaudit-audit-{session.workspace.name}.html")


def register(app: Dash, session: WorkspaceSession) -> None:
    """Register the page at `/` and its callback."""

    def page(**params: Any) -> html.Div:
        return layout(session, **params)

    dash.register_page(
        "dash_app.pages.overview", path="/", layout=page, title="rankaudit · overview", order=0
    )

    @app.callback(
        Output("overview-download", "data"),
        Output("overview-export-error", "children"),
        Input("overview-export", "n_clicks"),
        prevent_initial_call=True,
    )
    def _export(_: int) -> tuple[Any, Any]:
        try:
            return export_report(session), None
        except Exception as error:  # shown in the page, logged on the server
            return dash.no_update, error_message(error, where="overview export")

    @app.callback(Output("overview-body", "children"), Input("overview-trigger", "data"))
    def _overview(_: int) -> Any:
        return render_overview(session)
