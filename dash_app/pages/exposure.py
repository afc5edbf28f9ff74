"""Exposure page (`/exposure`): which groups the audited ranker amplifies against a reference
ordering (bars with intervals per group), and the requests that contribute most to a group's
change, each linked to its timeline. Measured at the ranking stage on a fixed candidate pool."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dash_app.components import control, fmt, graph, guarded, hint, panel
from rankaudit.exposure import MEASURES
from rankaudit.figures.exposure import amplification_bars
from rankaudit.views import WorkspaceSession
from rankaudit.views.exposure import ExposureQuery, contributing_requests, exposure_audit

__all__ = ["layout", "register", "render_exposure", "request_table"]


def _references(session: WorkspaceSession) -> list[str]:
    audited = session.models[1]
    return [name for name in session.workspace.models if name != audited]


def layout(session: WorkspaceSession, reference: str | None = None, **_: Any) -> html.Div:
    """The page: a reference picker (`?reference=chronological` preselects one); the audit
    when the callback has it."""
    options = _references(session)
    chosen = reference if reference in options else session.models[0]
    return html.Div(
        [
            html.H2(f"Exposure · {session.workspace.name}", className="page-head page-title"),
            html.Div(
                [
                    control(
                        "reference ordering",
                        dcc.Dropdown(
                            id="exposure-reference", options=options, value=chosen, clearable=False
                        ),
                    ),
                    control(
                        "drill down to group",
                        dcc.Dropdown(id="exposure-group", options=[], value=None),
                        wide=True,
                    ),
                ],
                className="controls",
            ),
            hint(
                f"Amplification = reach under {session.models[1]} over reach under the reference, "
                f"minus 1 (0% is parity), log position model, 95% paired bootstrap intervals "
                f"over viewers, held-out requests. This audit {MEASURES}."
            ),
            dcc.Loading(html.Div(id="exposure-body"), type="dot", delay_show=200),
            dcc.Loading(html.Div(id="exposure-requests"), type="dot", delay_show=200),
        ]
    )


def _query(session: WorkspaceSession, reference: str) -> ExposureQuery:
    return ExposureQuery(reference=reference, audited=session.models[1])


@guarded("exposure")
def render_exposure(session: WorkspaceSession, reference: str) -> html.Section:
    """The bars of every group with intervals."""
    audit = exposure_audit(session, _query(session, reference))
    return panel(None, graph(amplification_bars(audit), id="exposure-bars"))


def group_options(session: WorkspaceSession, reference: str) -> list[dict[str, str]]:
    """Drill-down choices: one per (grouping, group), valued "grouping\\tgroup"."""
    audit = exposure_audit(session, _query(session, reference))
    return [
        {"label": f"{g}: {v}", "value": f"{g}\t{v}"}
        for g, v in zip(audit.groups["grouping"], audit.groups["group"], strict=True)
    ]


@guarded("exposure")
def request_table(session: WorkspaceSession, reference: str, choice: str) -> html.Section:
    """The requests where the audited ranker changed the chosen group's reach most."""
    grouping, _, group = choice.partition("\t")
    audit = exposure_audit(session, _query(session, reference))
    rows: pd.DataFrame = contributing_requests(audit, grouping, group)
    header = html.Thead(
        html.Tr(
            [
                html.Th("request"),
                html.Th("viewer"),
                html.Th(f"reach {audit.models[0]}", className="num"),
                html.Th(f"reach {audit.models[1]}", className="num"),
                html.Th("change", className="num"),
            ]
        )
    )
    body = [
        html.Tr(
            [
                html.Td(dcc.Link(str(row["request_id"]), href=row["link"], className="mono")),
                html.Td(str(row["user_id"]), className="mono"),
                html.Td(fmt(row["reach_a"], 3), className="num"),
                html.Td(fmt(row["reach_b"], 3), className="num"),
                html.Td(f"{float(row['change']):+.3f}", className="num"),
            ]
        )
        for row in rows.to_dict("records")
    ]
    return panel(
        f"Requests that move {grouping}: {group} most",
        html.Div(
            html.Table([header, html.Tbody(body)], className="tweets"), className="table-wrap"
        ),
    )


def register(app: Dash, session: WorkspaceSession) -> None:
    """Register the page at `/exposure` and its callbacks."""

    def page(**params: Any) -> html.Div:
        return layout(session, **params)

    dash.register_page(
        "dash_app.pages.exposure",
        path="/exposure",
        layout=page,
        title="rankaudit · exposure",
        order=3,
    )

    @app.callback(
        Output("exposure-body", "children"),
        Output("exposure-group", "options"),
        Input("exposure-reference", "value"),
    )
    def _audit(reference: str) -> tuple[Any, Any]:
        body = render_exposure(session, reference)
        try:
            options = group_options(session, reference)
        except Exception:  # the body already shows the error
            options = []
        return body, options

    @app.callback(
        Output("exposure-requests", "children"),
        Input("exposure-reference", "value"),
        Input("exposure-group", "value"),
    )
    def _requests(reference: str, choice: str | None) -> Any:
        if not choice:
            return None
        return request_table(session, reference, choice)
