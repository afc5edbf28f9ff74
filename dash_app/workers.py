"""Prefork serving: one listening socket, N worker processes each running waitress on it.

Serving a page is Python holding the GIL, so one process uses one core. The caller (the
parent) builds the WSGI stack and whatever it shares (copy-on-write after the fork), binds the
sockets with `bind_sockets`, then `WorkerPool.run` forks the workers. The parent only
supervises: a worker that dies is logged and replaced (more than DEATHS_PER_MINUTE a minute
stops serving), SIGTERM or Ctrl+C stops every worker (requests in progress get STOP_SECONDS),
and a worker whose parent is gone stops.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.server import BaseWSGIServer, create_server

from dash_app.auth import WSGIApp
from rankaudit.errors import ParameterError
from rankaudit.models.threads import torch_threads

__all__ = [
    "MAX_WORKERS",
    "WorkerPool",
    "bind_sockets",
    "check_workers",
    "default_workers",
    "signals_interrupt",
]

log = logging.getLogger("rankaudit.app")

#: The most worker processes `serve` forks (each holds its own caches).
MAX_WORKERS = 64

#: Seconds a stopping worker gives requests in progress, and the parent gives its workers.
STOP_SECONDS = 10.0

#: Workers that may die within a minute before the parent stops serving (a crash loop).
DEATHS_PER_MINUTE = 5


def default_workers() -> int:
    """Worker processes `rankaudit serve` starts by default: one per usable core, at most 2
    (1 where the platform cannot fork). Two serve up to twice the pages of one on 2 cores;
    more cores take `--workers N`, at ~300 MiB more per worker on the demo (its own caches)."""
    if not hasattr(os, "fork"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS: no affinity masks
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


def check_workers(workers: int) -> int:
    """The worker count to use: `workers`, or 1 (with a warning) where the platform cannot
    fork. Raises ParameterError for anything but an int in 1..MAX_WORKERS."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ParameterError(
            f"The 'workers' parameter of serve must be an int in 1..{MAX_WORKERS}. "
            f"Got {workers!r} instead."
        )
    if workers > 1 and not hasattr(os, "fork"):
        log.warning("this platform cannot fork worker processes: serving from 1 process")
        return 1
    return workers


def bind_sockets(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for `host`:`port`, bound as waitress binds them (every address the
    name resolves to; port 0: the first one's free port for all)."""
    backlog = int(Adjustments.backlog)
    found = socket.getaddrinfo(
        host.strip("[]") or None,
        port,
        socket.AF_UNSPEC,
        socket.SOCK_STREAM,
        socket.IPPROTO_TCP,
        socket.AI_PASSIVE,
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if sys.platform != "win32":  # as waitress: restart without waiting for TIME_WAIT
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class WorkerPool:
    """The parent's side of prefork serving: forks `workers` processes that each serve `wsgi`
    from `sockets` with waitress (`threads` threads), waits on them, replaces one that dies
    (logged) and stops them all when interrupted."""

    def __init__(
        self,
        wsgi: WSGIApp,
        sockets: list[socket.socket],
        *,
        workers: int,
        threads: int,
    ) -> None:
        self.wsgi = wsgi
        self.sockets = sockets
        self.workers = workers
        self.threads = threads
        self.children: dict[int, int] = {}  # pid -> worker number
        self.deaths: collections.deque[float] = collections.deque()

    def run(self, *, on_ready: Callable[[], None]) -> None:
        """Fork the workers, call `on_ready`, then wait on them until interrupted; stops them
        all on the way out. Raises RuntimeError when workers keep dying (more than
        DEATHS_PER_MINUTE a minute)."""
        try:
            for number in range(1, self.workers + 1):
                self._fork(number)
            log.info(
                "serving from %d worker processes (pids %s), %d threads each",
                self.workers,
                " ".join(str(pid) for pid in self.children),
                self.threads,
            )
            on_ready()
            self._supervise()
        finally:
            self.stop()

    def _fork(self, number: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker never returns into the parent's stack
            code = 1
            try:
                code = _run_worker(self, number, parent)
            except KeyboardInterrupt:
                code = 0
            except BaseException:
                log.exception("worker %d failed", number)
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):  # a closed pipe: no one to tell
                        stream.flush()
                os._exit(code)
        self.children[pid] = number

    def _supervise(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, 0)
            number = self.children.pop(pid, None)
            if number is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited ({code})"
            now = time.monotonic()
            self.deaths.append(now)
            while self.deaths and self.deaths[0] < now - 60:
                self.deaths.popleft()
            if len(self.deaths) > DEATHS_PER_MINUTE:
                log.error("worker %d (pid %d) %s; too many deaths, stopping", number, pid, how)
                raise RuntimeError(
                    f"{len(self.deaths)} worker processes died within a minute; see the "
                    "log above for why"
                )
            log.error("worker %d (pid %d) %s; starting another", number, pid, how)
            self._fork(number)

    def stop(self) -> None:
        """SIGTERM every worker, wait for them (their requests in progress get STOP_SECONDS),
        then SIGKILL the rest."""
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
        try:
            for pid in self.children:
                _kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_SECONDS + 5
            while self.children and time.monotonic() < deadline:
                for pid in list(self.children):
                    if _reaped(pid):
                        del self.children[pid]
                time.sleep(0.05)
            for pid in list(self.children):
                log.error("worker %d (pid %d) did not stop: killed", self.children[pid], pid)
                _kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                del self.children[pid]
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _run_worker(pool: WorkerPool, number: int, parent: int) -> int:
    """A worker's life: waitress on the shared sockets until SIGTERM, Ctrl+C or the end of
    its parent; then it stops accepting and gives requests in progress STOP_SECONDS.

    The signal handlers only set a flag: an exception raised at a random point (a thread
    start, a lock's release) could leave waitress half-stopped, and a lock taken in a
    handler could be the one the interrupted code holds. The loop runs in a thread; the main
    thread polls the flag and watches the parent."""
    stopping: list[int] = []
    for sig in _STOP_SIGNALS:
        signal.signal(sig, lambda signum, _: stopping.append(signum))
    with torch_threads(1):
        channels: dict[int, Any] = {}
        server: Any = create_server(
            pool.wsgi, map=channels, sockets=pool.sockets, threads=pool.threads, ident="rankaudit"
        )
        loop = threading.Thread(target=server.run, daemon=True, name=f"worker-{number}")
        loop.start()
        # A killed parent could not stop its workers: they stop when it is gone.
        while not stopping and os.getppid() == parent:
            time.sleep(0.2)
        # Stop accepting (the other workers still do), finish what runs, flush, end.
        server.trigger.pull_trigger(lambda: _stop_accepting(channels))
        server.task_dispatcher.shutdown(timeout=STOP_SECONDS)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(channels))
        loop.join(2.0)
    return 0


def _stop_accepting(channels: dict[int, Any]) -> None:
    """Close the listening sockets of a socket map (its connections stay open)."""
    for channel in list(channels.values()):
        if isinstance(channel, BaseWSGIServer):
            wasyncore.dispatcher.close(channel)  # not the server's close: it ends the trigger


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class signals_interrupt:
    """SIGTERM (and SIGINT) raise KeyboardInterrupt in the main thread while serving, so the
    server stops as on Ctrl+C; nothing changes outside the main thread (tests)."""

    def __enter__(self) -> None:
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}

    def __exit__(self, *_: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
