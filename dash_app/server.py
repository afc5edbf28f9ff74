"""Serving the app under waitress (a production WSGI server), never Flask's debug server.

`check_exposure` refuses any address other than loopback without credentials;
`make_server` builds the (optionally authenticated) WSGI app and a waitress server bound to
it, which `serve` runs until interrupted. Tests run `make_server(...).run()` in a thread and
`close()` it.

`HostCheck` answers 400 to a request whose `Host` header names neither the bound address nor
a name given with `--allowed-host` (DNS rebinding: a page of another site whose name resolves
to 127.0.0.1 would otherwise reach a loopback server as the user's browser).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from dash_app.app import create_app
from dash_app.auth import AuthMiddleware, Credentials, StartResponse, WSGIApp
from dash_app.transfer import Compressed
from rankaudit.errors import ParameterError
from rankaudit.views import FeaturesQuery, WorkspaceSession

__all__ = [
    "BackgroundServer",
    "HostCheck",
    "check_exposure",
    "is_loopback",
    "make_server",
    "serve",
    "server_url",
]

log = logging.getLogger("rankaudit.app")
#: Worker threads of waitress: timelines of different viewers are computed in parallel (one
#: per thread), explanations one at a time; 8 keeps 2-4 cores busy while slow requests wait.
THREADS = 8
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _split_host(value: str) -> tuple[str, str | None]:
    """`name:port` -> (lowercased name, port or None); IPv6 literals keep their brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return name + "]", port
    name, sep, port = value.rpartition(":")
    return (name, port) if sep and port.isdigit() else (value, None)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class HostCheck:
    """A WSGI middleware answering 400 to requests whose `Host` header the server is not
    known by: the names of the bound address (for loopback: 127.0.0.1, localhost and [::1];
    for the wildcard address: any IP literal, this machine's name) with the bound port, and
    the `allowed` names (any port, or the one they name). Set `port` once bound."""

    def __init__(self, app: WSGIApp, *, host: str, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.port: int | None = None
        self.wildcard = host.strip("[]") in ("", "0.0.0.0", "::")
        bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
        names = {bound.lower()}
        if is_loopback(host) or self.wildcard:
            names.update(_LOOPBACK_NAMES)
        if self.wildcard:
            names.update(n.lower() for n in (socket.gethostname(), socket.getfqdn()) if n)
        self.bound_names = frozenset(names)
        self.allowed = tuple(_split_host(name) for name in allowed)

    def accepts(self, header: str) -> bool:
        """True when a request with this `Host` header value is answered."""
        if not header or len(header) > 300:
            return False
        name, port = _split_host(header)
        for allowed_name, allowed_port in self.allowed:
            if name == allowed_name and (allowed_port is None or port == allowed_port):
                return True
        bound_port = None if self.port is None else str(self.port)
        if port != bound_port and not (port is None and bound_port == "80"):
            return False
        return name in self.bound_names or (self.wildcard and _is_ip_literal(name))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.accepts(str(environ.get("HTTP_HOST", ""))):
            return self.app(environ, start_response)
        body = (
            b"400 Bad Request: unknown Host header; this rankaudit server answers only to the "
            b"address it is bound to and names given with --allowed-host.\n"
        )
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def check_allowed_hosts(names: tuple[str, ...]) -> tuple[str, ...]:
    """The `--allowed-host` names, checked: host names or addresses, with an optional port.
    Raises ParameterError for anything else (a URL, a wildcard, a path)."""
    for name in names:
        host, port = _split_host(name)
        plain = host.strip("[]")
        valid = (
            bool(plain)
            and len(name) <= 253
            and (
                _is_ip_literal(plain)
                or all(
                    part and part.replace("-", "").replace("_", "").isalnum()
                    for part in plain.split(".")
                )
            )
        )
        if not valid or (port is not None and not 0 < int(port) < 65536):
            raise ParameterError(
                f"--allowed-host must be a host name or address with an optional :port, e.g. "
                f"audit.example.org or audit.example.org:8443. Got {name[:80]!r} instead."
            )
    return tuple(names)


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
    allowed_hosts: tuple[str, ...] = (),
) -> Any:
    """A waitress server for `session`'s app (port 0: a free port, see `effective_port`);
    `channels` is the socket map its loop serves (default: a new one); `allowed_hosts`: more
    names the `Host` header may give (see `HostCheck`). Raises ParameterError (via
    `check_exposure`) for an exposed host without credentials, or a malformed host name."""
    check_exposure(host, credentials)
    app = create_app(session)
    wsgi: WSGIApp = Compressed(app.server)
    if credentials is not None:
        wsgi = AuthMiddleware(wsgi, credentials)
    # The Host check comes first: a rebound page learns nothing, not even that auth exists.
    hosts = HostCheck(wsgi, host=host, allowed=check_allowed_hosts(allowed_hosts))
    server: Any = create_server(
        hosts,
        map={} if channels is None else channels,
        host=host,
        port=port,
        threads=threads,
        ident="rankaudit",
    )
    hosts.port = int(server.effective_port)
    return server


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
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self._channels: dict[int, Any] = {}
        self.server = make_server(
            session,
            host=host,
            port=port,
            credentials=credentials,
            channels=self._channels,
            allowed_hosts=allowed_hosts,
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
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    """Serve until interrupted. The rankers, the log index and, with `warm`, the overview
    (both rankers over every held-out request, the slowest page: seconds) are computed before
    the URL is announced, with a log line saying so; the Features page's default view is then
    computed in the background."""
    server = make_server(
        session, host=host, port=port, credentials=credentials, allowed_hosts=allowed_hosts
    )
    session.warm(overview=False)
    if warm:
        log.info(
            "computing the overview before serving: %s vs %s over the %d requests of the "
            "held-out period, and their surprise scores",
            *session.models,
            session.holdout_requests(),
        )
        try:
            session.overview()
        except Exception:  # the page shows the error when visited
            log.exception("computing the overview failed")
        threading.Thread(target=_warm, args=(session,), daemon=True, name="warm").start()
    on_ready(server_url(host, int(server.effective_port)))
    try:
        server.run()
    finally:
        server.close()


def _warm(session: WorkspaceSession) -> None:
    try:
        session.features(FeaturesQuery())
    except Exception:  # the page shows the error when visited
        log.exception("computing the features page in the background failed")
