"""The app shell: navigation, the viewer search box and the page container.

`create_app(session)` registers every page (each page module holds its layout and callbacks)
on a new Dash app bound to one `WorkspaceSession`. Dash keeps its page registry per process,
so a process serves one app.

Requests are hostile input: a callback request larger than `MAX_BODY_BYTES` is refused (413),
one Dash cannot parse is answered 400, and a bad path under `/_dash-component-suites/`
(traversal, an unregistered package or file) 404, all with a short plain body and never a
500. Malformed values that reach a callback become an error card in the page.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dash
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import DependencyException
from flask import Response, request
from werkzeug.exceptions import HTTPException

from dash_app import plotly_bundle
from dash_app.pages import exposure, features, not_found, overview, timeline
from dash_app.transfer import STATIC
from rankaudit.errors import NotFoundError
from rankaudit.views import WorkspaceSession
from rankaudit.views.query import MAX_PARAM_LENGTH

__all__ = ["MAX_BODY_BYTES", "create_app", "search_options", "search_target"]

ASSETS = Path(__file__).resolve().parent / "assets"
#: The largest request body accepted (bytes): callback payloads are a few kilobytes.
MAX_BODY_BYTES = 2 * 1024 * 1024
log = logging.getLogger("rankaudit.app")


def search_options(session: WorkspaceSession, text: Any) -> list[html.Option]:
    """Suggestions of the search box: up to 12 viewer ids matching what was typed (none for
    text longer than an id can be)."""
    if not isinstance(text, str) or not text.strip() or len(text) > 4 * MAX_PARAM_LENGTH:
        return []
    return [html.Option(value=user) for user in session.search_viewers(text, limit=12)]


def search_target(session: WorkspaceSession, text: Any) -> str:
    """Where the search box leads: the viewer's timeline, the timeline of the request's
    viewer at that request, or, for an unknown id, the viewer page that says so (an entry
    longer than an id can be is cut: the page says it is too long)."""
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        return "/timeline"
    if len(value) > MAX_PARAM_LENGTH:
        return f"/timeline/{quote(value[: MAX_PARAM_LENGTH + 1], safe='')}"
    try:
        return session.resolve(value).url()
    except NotFoundError:
        return f"/timeline/{quote(value, safe='')}"


def _plain(status: int, text: str) -> Response:
    return Response(
        f"{status} {text}\n",
        status=status,
        content_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _refuse_bad_requests(app: Dash) -> None:
    """Answer what no page or callback can serve with a short 4xx instead of a 500."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    def _no_such_asset(_: DependencyException) -> Response:
        log.warning("refused component-suite path %.200r", request.path)
        return _plain(404, "Not Found: no such component file.")

    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):  # 404, 405, 413, ...: werkzeug's own answer
            return error
        if request.path.endswith("/_dash-update-component"):
            # Dash could not match the payload to a callback (every registered callback
            # turns its own errors into a card): the request is malformed.
            log.warning("malformed callback request: %s: %.200s", type(error).__name__, error)
            return _plain(400, "Bad Request: malformed callback request.")
        log.error("internal error on %.200r", request.path, exc_info=error)
        return _plain(500, "Internal Server Error: the error was logged on the server.")

    server.register_error_handler(DependencyException, _no_such_asset)
    server.register_error_handler(Exception, _unexpected)


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
                            dcc.Link(
                                "Exposure",
                                href="/exposure",
                                className="nav-link",
                                id="nav-exposure",
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


def plotly_bundle_url(prefix: str = "/") -> str:
    """The fingerprinted URL of the plotly.js the page loads `async` from its start: the basic
    bundle where it is installed (`plotly_bundle`, 1.2 MB), otherwise the full one Dash serves
    from the plotly package (4.8 MB; logged once).

    Without it, dcc.Graph fetches plotly.js only once the layout and the first callbacks have
    come back, from an unversioned URL: the download, and parsing it, then come after
    everything else. Loaded `async` from the page's start, both run while the server answers
    the callbacks, and the fingerprinted URL is cached for good (`transfer.Compressed`).
    dcc.Graph uses `window.Plotly` when it is there."""
    basic = plotly_bundle.installed()
    if basic is not None:
        return f"{prefix}{STATIC.lstrip('/')}{_static_name(basic)}"
    import plotly
    from dash.fingerprint import build_fingerprint

    log.warning(
        "plotly.js basic bundle not installed (python -m dash_app.plotly_bundle): "
        "pages load the full 4.8 MB plotly.js"
    )
    relative = "package_data/plotly.min.js"
    modified = int((Path(plotly.__file__).parent / relative).stat().st_mtime)
    fingerprinted = build_fingerprint(relative, plotly.__version__, modified)
    return f"{prefix}_dash-component-suites/plotly/{fingerprinted}"


@functools.lru_cache(maxsize=4)
def _static_body(path: Path) -> bytes:
    return path.read_bytes()


def _static_name(path: Path) -> str:
    """`name.<first 12 hex digits of its sha256>.js`: the name changes with the bytes."""
    digest = hashlib.sha256(_static_body(path)).hexdigest()[:12]
    return f"{path.name.removesuffix('.js')}.{digest}.js"


def _serve_static(app: Dash) -> None:
    """Serve the installed plotly.js basic bundle at its fingerprinted name under STATIC."""
    basic = plotly_bundle.installed()
    name = None if basic is None else _static_name(basic)

    def _static(requested: str) -> Response:
        if basic is None or requested != name:
            return _plain(404, "Not found")
        return Response(_static_body(basic), mimetype="application/javascript")

    app.server.add_url_rule(f"{STATIC}<string:requested>", "rankaudit_static", _static)


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
        external_scripts=[{"src": plotly_bundle_url(), "async": "async"}],
    )
    for page in (overview, timeline, features, exposure, not_found):
        page.register(app, session)
    app.layout = _shell(session)
    _refuse_bad_requests(app)
    _serve_static(app)

    @app.callback(Output("search-options", "children"), Input("search-input", "value"))
    def _suggest(text: Any) -> list[html.Option]:
        return search_options(session, text)

    @app.callback(
        Output("app-nav", "href", allow_duplicate=True),
        Output("search-input", "value"),
        Input("search-input", "n_submit"),
        State("search-input", "value"),
        prevent_initial_call=True,
    )
    def _search(_: Any, text: Any) -> tuple[str, str]:
        # The box empties once the search has taken the user to the page.
        return search_target(session, text), ""

    return app
