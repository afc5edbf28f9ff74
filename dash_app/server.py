"""Serving the app under waitress (a production WSGI server), never Flask's debug server.

`make_wsgi` builds the served WSGI stack (Host check and exposure rule from `hosts`,
authentication, compression); `make_server` binds a waitress server to it, which `serve` runs
until interrupted, from one process or, with `workers` > 1, from forked worker processes
sharing one socket (`workers`). The parent opens the session and computes the overview
before the URL is announced, so every worker starts with it (shared copy-on-write, as are
the models and the log index); the other caches (timelines, explanations, Features views) are
per worker. Tests run `make_server(...)` in a thread through `BackgroundServer`.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from dash_app.app import create_app
from dash_app.auth import AuthMiddleware, Credentials, WSGIApp
from dash_app.hosts import (
    HostCheck,
    check_allowed_hosts,
    check_exposure,
    is_loopback,
    server_url,
)
from dash_app.transfer import Compressed, local_get
from dash_app.workers import (
    MAX_WORKERS,
    WorkerPool,
    bind_sockets,
    check_workers,
    default_workers,
    signals_interrupt,
)
from rankaudit.models.threads import torch_threads
from rankaudit.views import FeaturesQuery, WorkspaceSession
from rankaudit.views.exposure import ExposureQuery, exposure_audit

__all__ = [
    "MAX_WORKERS",
    "THREADS",
    "BackgroundServer",
    "HostCheck",
    "check_allowed_hosts",
    "check_exposure",
    "check_workers",
    "default_workers",
    "is_loopback",
    "make_server",
    "make_wsgi",
    "serve",
    "server_url",
    "warm_pages",
]

log = logging.getLogger("rankaudit.app")
#: Worker threads of waitress: timelines of different viewers are computed in parallel (one
#: per thread), explanations one at a time; 8 keeps 2-4 cores busy while slow requests wait.
THREADS = 8


def make_wsgi(
    session: WorkspaceSession,
    *,
    host: str = "127.0.0.1",
    credentials: Credentials | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> HostCheck:
    """The served WSGI stack of `session`'s app: Host check, then authentication (with
    `credentials`), then compression; set its `port` once bound. Raises ParameterError (via
    `check_exposure`) for an exposed host without credentials, or a malformed host name."""
    check_exposure(host, credentials)
    app = create_app(session)
    wsgi: WSGIApp = Compressed(app.server)
    if credentials is not None:
        wsgi = AuthMiddleware(wsgi, credentials)
    # The Host check comes first: a rebound page learns nothing, not even that auth exists.
    return HostCheck(wsgi, host=host, allowed=check_allowed_hosts(allowed_hosts))


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
    hosts = make_wsgi(session, host=host, credentials=credentials, allowed_hosts=allowed_hosts)
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
    workers: int = 1,
    threads: int = THREADS,
) -> None:
    """Serve until interrupted (Ctrl+C or SIGTERM). The rankers, the log index and, with
    `warm`, the overview (both rankers over every held-out request, the slowest page:
    seconds) are computed before the URL is announced, with a log line saying so, and the
    app is primed (`_prime`). The Features and Exposure pages' default views are computed
    before the URL too with `workers` > 1 (shared by every worker), in the background with
    one process.
    `workers` > 1: that many forked processes serve one socket (see the module docstring)."""
    workers = check_workers(workers)
    if workers == 1:
        server = make_server(
            session,
            host=host,
            port=port,
            credentials=credentials,
            threads=threads,
            allowed_hosts=allowed_hosts,
        )
        _warm_before_serving(session, warm)
        _prime(server.application, host, int(server.effective_port), credentials)
        _freeze()
        if warm:
            threading.Thread(target=warm_pages, args=(session,), daemon=True, name="warm").start()
        on_ready(server_url(host, int(server.effective_port)))
        with signals_interrupt():
            try:
                server.run()
            finally:
                server.close()
        return
    wsgi = make_wsgi(session, host=host, credentials=credentials, allowed_hosts=allowed_hosts)
    sockets = bind_sockets(host, port)  # before anything slow: a taken port fails fast
    try:
        wsgi.port = bound = int(sockets[0].getsockname()[1])
        # One torch thread per worker: N workers keep N cores busy without oversubscribing
        # them, every process reduces in the same order (the overview computed here and the
        # timelines computed in workers agree), and no OpenMP thread pool exists at fork.
        with torch_threads(1):
            _warm_before_serving(session, warm)
            if warm:
                # Here, not in the background of every worker: computed once and shared, and
                # not competing for the cores with the first pages (which took 2-4 s then).
                log.info(
                    "computing the Features and Exposure pages' default views before serving "
                    "(both rankers explained on a seeded sample of requests)"
                )
                warm_pages(session)
            _prime(wsgi, host, bound, credentials)
            _freeze()
            pool = WorkerPool(wsgi, sockets, workers=workers, threads=threads)
            with signals_interrupt():
                pool.run(on_ready=lambda: on_ready(server_url(host, bound)))
    finally:
        for sock in sockets:
            sock.close()


def _warm_before_serving(session: WorkspaceSession, warm: bool) -> None:
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


def _prime(wsgi: Any, host: str, port: int, credentials: Credentials | None) -> None:
    """Ask the app, in this process, for what every first page loads: the index, the layout
    and callback map, and every bundle gzipped. Dash's per-process setup and the compressed
    bundles then exist before the workers fork (shared), instead of being built in each
    worker while a user waits for a first page. Skipped behind authentication."""
    if credentials is not None:
        return

    host_header = server_url(host, port).split("//", 1)[1].rstrip("/")

    def get(path: str, encoding: str = "gzip") -> bytes:
        return local_get(wsgi, path, host=host_header, encoding=encoding)[2]

    try:
        index = get("/", encoding="identity").decode("utf-8", "replace")
        for url in re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', index):
            if url.startswith("/"):
                get(url)
        get("/_dash-layout")
        get("/_dash-dependencies")
    except Exception:  # priming only saves time: the pages work without it
        log.exception("priming the app before serving failed")


def _freeze() -> None:
    """Move what exists now (the session, its models and index, the app) out of the garbage
    collector's sight: full collections no longer walk it on every page, and in forked
    workers they no longer touch, and so copy, every shared object's memory."""
    gc.collect()
    gc.freeze()


def warm_pages(session: WorkspaceSession) -> None:
    """The Features and Exposure pages' default views: computed before the workers fork (so
    they share them), or in the background once a single-process server answers."""
    try:
        session.features(FeaturesQuery())
    except Exception:  # the page shows the error when visited
        log.exception("computing the features page in the background failed")
    try:
        exposure_audit(
            session, ExposureQuery(reference=session.models[0], audited=session.models[1])
        )
    except Exception:  # the page shows the error when visited
        log.exception("computing the exposure page in the background failed")
