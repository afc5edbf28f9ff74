"""The app shell: navigation, the viewer search box and the page container.

`create_app(session)` registers every page (each page module holds its layout and callbacks)
on a new Dash app bound to one `WorkspaceSession`. Dash keeps its page registry per process,
so a process serves one app.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import dash
from dash import Dash, Input, Output, State, dcc, html

from dash_app.pages import features, not_found, overview, timeline
from rankaudit.errors import NotFoundError
from rankaudit.views import WorkspaceSession

__all__ = ["create_app", "search_options", "search_target"]

ASSETS = Path(__file__).resolve().parent / "assets"


def search_options(session: WorkspaceSession, text: str | None) -> list[html.Option]:
    """Suggestions of the search box: up to 12 viewer ids matching what was typed."""
    if not text or len(text.strip()) < 1:
        return []
    return [html.Option(value=user) for user in session.search_viewers(text, limit=12)]


def search_target(session: WorkspaceSession, text: str | None) -> str:
    """Where the search box leads: the viewer's timeline, the timeline of the request's
    viewer at that request, or, for an unknown id, the viewer page that says so."""
    value = (text or "").strip()
    if not value:
        return "/timeline"
    try:
        return session.resolve(value).url()
    except NotFoundError:
        return f"/timeline/{quote(value, safe='')}"


def _shell(session: WorkspaceSession) -> html.Div:
    workspace = session.workspace
    return html.Div(
        [
            dcc.Location(id="app-nav", refresh="callback-nav"),
            html.Header(
                [
                    dcc.Link(
                        [
                            html.Span("rank", className="brand-a"),
                            html.Span("audit", className="brand-b"),
                        ],
                        href="/",
                        className="brand",
                    ),
                    html.Span(
                        workspace.name, className="workspace-name", title=str(workspace.root.name)
                    ),
                    html.Nav(
                        [
                            dcc.Link("Overview", href="/", className="nav-link", id="nav-overview"),
                            dcc.Link(
                                "Timeline",
                                href="/timeline",
                                className="nav-link",
                                id="nav-timeline",
                            ),
                            dcc.Link(
                                "Features",
                                href="/features",
                                className="nav-link",
                                id="nav-features",
                            ),
                        ],
                        className="nav",
                    ),
                    html.Div(
                        [
                            dcc.Input(
                                id="search-input",
                                type="search",
                                placeholder="Viewer or request id, then Enter",
                                list="search-options",
                                autoComplete="off",
                                debounce=False,
                                className="search-input",
                            ),
                            html.Datalist(id="search-options"),
                        ],
                        className="search",
                    ),
                    html.Span(
                        f"{session.models[0]} vs {session.models[1]}", className="models-badge"
                    ),
                ],
                className="topbar",
            ),
            html.Main(dash.page_container, className="main"),
        ],
        className="app",
    )


def create_app(session: WorkspaceSession) -> Dash:
    """A Dash app serving `session`'s workspace: Overview (/), Timeline (/timeline/<user>),
    Features (/features), and a not-found page. Debug is off: errors never reach the page
    as tracebacks."""
    app = Dash(
        "dash_app",
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=True,
        title=f"rankaudit · {session.workspace.name}",
        update_title="",
    )
    for page in (overview, timeline, features, not_found):
        page.register(app, session)
    app.layout = _shell(session)

    @app.callback(Output("search-options", "children"), Input("search-input", "value"))
    def _suggest(text: str | None) -> list[html.Option]:
        return search_options(session, text)

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Output("search-input", "value"),
        Input("search-input", "n_submit"),
        State("search-input", "value"),
        prevent_initial_call=True,
    )
    def _search(_: int | None, text: str | None) -> tuple[str, str]:
        # The box empties once the search has taken the user to the page.
        return search_target(session, text), ""

    return app
