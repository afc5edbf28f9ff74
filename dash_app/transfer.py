"""What travels over the wire: gzip-compressed responses and long-lived caching of the bundles.

A page first loads about 2.4 MB of JavaScript (plotly.js's basic bundle is half of it). Dash
fingerprints the URLs of its component bundles (`dcc.v3_2_0m1717000000.js`) and of the app's
assets (`style.css?m=1717000000`): such a URL never names other bytes, so `Compressed` marks
its response `immutable` for a year, and keeps its gzipped body in memory (compressing
plotly.js costs ~0.15 s of CPU, once). Every other compressible response (the callbacks' JSON,
the index page) is gzipped on the fly when the client accepts it.
"""

from __future__ import annotations

import gzip
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from dash.fingerprint import check_fingerprint

from dash_app.auth import StartResponse, WSGIApp

__all__ = ["IMMUTABLE", "STATIC", "Compressed", "is_fingerprinted", "local_get"]

#: The caching of a URL whose bytes never change.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Bodies smaller than this (bytes) are sent as they are: gzip would save next to nothing.
MIN_BYTES = 1024
#: Compressed fingerprinted bodies kept in memory (a page loads about 15 bundles).
CACHED_BODIES = 64
_COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/x-javascript",
    "image/svg+xml",
)
_SUITES = "/_dash-component-suites/"
#: The app's own static files, served as `name.<12 hex digits of their sha256>.js`.
STATIC = "/_rankaudit/static/"
_STATIC_NAME = re.compile(r"[A-Za-z0-9_.-]+\.[0-9a-f]{12}\.js")


def is_fingerprinted(path: str, query: str) -> bool:
    """True for a URL Dash fingerprinted: a component bundle with its version and hash in the
    name, or an asset with its modification time (`?m=`); or one of the app's static files,
    with a hash of its bytes in the name."""
    if _SUITES in path:
        return bool(check_fingerprint(path)[1])
    if path.startswith(STATIC):
        return _STATIC_NAME.fullmatch(path[len(STATIC) :]) is not None
    return "/assets/" in path and any(p.startswith("m=") for p in query.split("&"))


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _without(headers: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in names]


class Compressed:
    """A WSGI middleware: gzip for clients that accept it, `IMMUTABLE` caching (and a memory
    cache of the gzipped body) for fingerprinted URLs."""

    def __init__(self, app: WSGIApp, *, level: int = 6) -> None:
        self.app = app
        self.level = level
        #: fingerprinted URL -> (gzipped body, content type)
        self._bodies: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        query = str(environ.get("QUERY_STRING", ""))
        immutable = environ.get("REQUEST_METHOD") == "GET" and is_fingerprinted(path, query)
        accepts = "gzip" in str(environ.get("HTTP_ACCEPT_ENCODING", "")).lower()
        key = f"{path}?{query}"
        if immutable and accepts:
            with self._lock:
                cached = self._bodies.get(key)
            if cached is not None:
                start_response("200 OK", _cached_headers(*cached))
                return [cached[0]]
        status, headers, exc_info, body = _run(self.app, environ)
        if immutable and status.startswith("200"):
            headers = [*_without(headers, "cache-control", "expires"), ("Cache-Control", IMMUTABLE)]
        kind = (_header(headers, "content-type") or "").lower()
        if (
            accepts
            and status.startswith("200")
            and len(body) >= MIN_BYTES
            and kind.startswith(_COMPRESSIBLE)
            and _header(headers, "content-encoding") is None
        ):
            body = gzip.compress(body, compresslevel=self.level, mtime=0)
            headers = [
                *_without(headers, "content-length", "etag"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", str(len(body))),
                ("Vary", "Accept-Encoding"),
            ]
            if immutable:
                with self._lock:
                    self._bodies[key] = (body, _header(headers, "content-type") or kind)
                    while len(self._bodies) > CACHED_BODIES:
                        self._bodies.popitem(last=False)
        start_response(status, headers, exc_info)
        return [body]


def _run(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Any, bytes]:
    """Call a WSGI app to the end: (status, headers, exc_info, the whole body), the app's
    iterable closed."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.update(status=status, headers=list(headers), exc_info=exc_info)
        return lambda _: None  # the legacy write(): Flask never calls it

    result = app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], captured["exc_info"], body


def _cached_headers(body: bytes, kind: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", kind),
        ("Content-Encoding", "gzip"),
        ("Content-Length", str(len(body))),
        ("Vary", "Accept-Encoding"),
        ("Cache-Control", IMMUTABLE),
    ]


def local_get(
    app: WSGIApp, path: str, *, host: str = "127.0.0.1:8050", encoding: str = "gzip"
) -> tuple[str, dict[str, str], bytes]:
    """GET `path` (with its query) from the WSGI stack `app` in this process, as a browser on
    `host` (the Host header) accepting `encoding`: (status, lower-cased headers, body)."""
    path, _, query = path.partition("?")
    name, _, port = host.rpartition(":")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": name.strip("[]"),
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "HTTP_ACCEPT_ENCODING": encoding,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status, headers, _, body = _run(app, environ)
    return status, {k.lower(): v for k, v in headers}, body
