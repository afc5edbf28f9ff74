"""Serving the app under waitress (a production WSGI server), never Flask's debug server.

`check_exposure` refuses any address other than loopback without credentials;
`make_server` builds the (optionally authenticated) WSGI app and a waitress server bound to
it, which `serve` runs until interrupted. Tests run `make_server(...).run()` in a thread and
`close()` it.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from dash_app.app import create_app
from dash_app.auth import AuthMiddleware, Credentials, WSGIApp
from rankaudit.errors import ParameterError
from rankaudit.views import FeaturesQuery, WorkspaceSession

__all__ = [
    "BackgroundServer",
    "check_exposure",
    "is_loopback",
    "make_server",
    "serve",
    "server_url",
]

log = logging.getLogger("rankaudit.app")
#: Worker threads of waitress: views are cached and explanations serialised, so a few suffice.
THREADS = 6


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, credentials: Credentials | None) -> None:
    """Raise ParameterError when `host` is reachable from other machines and no credentials
    are configured."""
    if credentials is None and not is_loopback(host):
        raise ParameterError(
            f"refusing to serve on {host} without authentication: anyone on the network could "
            "read the logs. Set RANKAUDIT_TOKEN (or RANKAUDIT_TOKEN_FILE, --token-file) or "
            "RANKAUDIT_BASIC_AUTH=user:password (or RANKAUDIT_BASIC_AUTH_FILE, "
            "--basic-auth-file), or bind --host 127.0.0.1"
        )


def server_url(host: str, port: int) -> str:
    """The URL to print for a bound address (the wildcard address prints as this machine)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def make_server(
    session: WorkspaceSession,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    credentials: Credentials | None = None,
    threads: int = THREADS,
    channels: dict[int, Any] | None = None,
) -> Any:
    """A waitress server for `session`'s app (port 0: a free port, see `effective_port`);
    `channels` is the socket map its loop serves (default: a new one). Raises ParameterError
    (via `check_exposure`) for an exposed host without credentials."""
    check_exposure(host, credentials)
    app = create_app(session)
    wsgi: WSGIApp = app.server
    if credentials is not None:
        wsgi = AuthMiddleware(wsgi, credentials)
    return create_server(
        wsgi,
        map={} if channels is None else channels,
        host=host,
        port=port,
        threads=threads,
        ident="rankaudit",
    )


class BackgroundServer:
    """The app served from a daemon thread, for tests and benchmarks: use it as a context
    manager, read `url`, and it stops cleanly on exit."""

    def __init__(
        self,
        session: WorkspaceSession,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Credentials | None = None,
    ) -> None:
        self._channels: dict[int, Any] = {}
        self.server = make_server(
            session, host=host, port=port, credentials=credentials, channels=self._channels
        )
        self.url = server_url(host, int(self.server.effective_port)).rstrip("/")
        self._thread = threading.Thread(target=self.server.run, daemon=True, name="rankaudit")

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every channel from inside the serving thread (closing sockets from another
        thread would pull them out from under its select()), wait for its loop to end, then
        stop the worker threads."""
        if self._thread.is_alive():
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self._channels))
            self._thread.join(timeout)
        self.server.task_dispatcher.shutdown()


def serve(
    session: WorkspaceSession,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    credentials: Credentials | None = None,
    on_ready: Callable[[str], None] = print,
    warm: bool = True,
) -> None:
    """Serve until interrupted. The rankers and the log index load before the URL is
    announced; with `warm`, the overview and the Features page's default view are computed in
    the background."""
    server = make_server(session, host=host, port=port, credentials=credentials)
    session.warm(overview=False)
    if warm:
        threading.Thread(target=_warm, args=(session,), daemon=True, name="warm").start()
    on_ready(server_url(host, int(server.effective_port)))
    try:
        server.run()
    finally:
        server.close()


def _warm(session: WorkspaceSession) -> None:
    for name, compute in (
        ("the overview", session.overview),
        ("the features page", lambda: session.features(FeaturesQuery())),
    ):
        try:
            compute()
        except Exception:  # the page shows the error when visited
            log.exception("computing %s in the background failed", name)
