"""The page for any URL no other page serves."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, dcc, html

from dash_app.components import panel
from rankaudit.views import WorkspaceSession

__all__ = ["layout", "register"]


def layout(**_: Any) -> html.Div:
    """A friendly 404 with the ways back."""
    return html.Div(
        [
            html.H2("Page not found", className="page-title"),
            panel(
                None,
                html.Div(
                    [
                        html.Div("Nothing lives at this address.", className="error-title"),
                        html.Div(
                            [
                                "Try the ",
                                dcc.Link("overview", href="/"),
                                ", a viewer's ",
                                dcc.Link("timeline", href="/timeline"),
                                " or the ",
                                dcc.Link("features", href="/features"),
                                ".",
                            ],
                            className="error-text",
                        ),
                    ],
                    className="error-card",
                    role="alert",
                ),
            ),
        ]
    )


def register(app: Dash, session: WorkspaceSession) -> None:
    """Register the not-found page (Dash picks it by the `not_found_404` module name)."""
    del app, session
    dash.register_page(
        "dash_app.pages.not_found_404", path="/404", layout=layout, title="rankaudit · not found"
    )
