"""Compressed responses and immutable caching of the fingerprinted bundles (dash_app.transfer),
checked on the demo app's own WSGI stack without a browser."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest

from dash_app.app import create_app
from dash_app.transfer import IMMUTABLE, Compressed, is_fingerprinted, local_get
from rankaudit.views import WorkspaceSession


def _get(
    app: Any, path: str, *, encoding: str = "gzip, deflate, br"
) -> tuple[str, dict[str, str], bytes]:
    return local_get(app, path, encoding=encoding)


def test_fingerprinted_urls() -> None:
    assert is_fingerprinted("/_dash-component-suites/dash/dcc/dash_core_components.v4_4_1m1.js", "")
    assert not is_fingerprinted("/_dash-component-suites/dash/dcc/dash_core_components.js", "")
    assert is_fingerprinted("/assets/style.css", "m=1717000000")
    assert not is_fingerprinted("/assets/style.css", "")
    assert not is_fingerprinted("/timeline/u1", "m=1")


def test_bundles_are_gzipped_and_immutable(session: WorkspaceSession) -> None:
    app = Compressed(create_app(session).server)
    status, headers, index = _get(app, "/")
    assert status.startswith("200")
    html = (
        gzip.decompress(index).decode()
        if headers.get("content-encoding") == "gzip"
        else index.decode()
    )
    bundles = re.findall(r'src="(/_dash-component-suites/[^"]+\.js)"', html)
    assert bundles, "the index page names its bundles"
    for url in bundles:
        status, headers, body = _get(app, url)
        assert status.startswith("200"), url
        assert headers["cache-control"] == IMMUTABLE
        if len(body) > 1024:
            assert headers["content-encoding"] == "gzip"
            assert int(headers["content-length"]) == len(body)
            _, plain_headers, plain = _get(app, url, encoding="identity")
            assert "content-encoding" not in plain_headers
            assert gzip.decompress(body) == plain  # the same bytes, compressed
            again = _get(app, url)  # served from the memory cache, same answer
            assert again[2] == body
            assert again[1]["cache-control"] == IMMUTABLE
    # The callbacks' JSON is compressed too, but never cached as immutable.
    status, headers, body = _get(app, "/_dash-layout")
    assert status.startswith("200")
    assert "immutable" not in headers.get("cache-control", "")


def test_without_the_basic_bundle_the_full_plotly_is_served(
    session: WorkspaceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plotly

    from dash_app import plotly_bundle
    from dash_app.app import plotly_bundle_url

    monkeypatch.setattr(plotly_bundle, "installed", lambda: None)
    app = Compressed(create_app(session).server)
    _, headers, index = _get(app, "/", encoding="identity")
    url = plotly_bundle_url()
    assert f'<script src="{url}" async="async"></script>' in index.decode()
    status, headers, body = _get(app, url)
    assert status.startswith("200")
    assert headers["cache-control"] == IMMUTABLE
    assert headers["content-encoding"] == "gzip"
    # The very bundle dcc.Graph would load, whole.
    bundled = (plotly.__path__[0] + "/package_data/plotly.min.js").replace("\\", "/")
    with open(bundled, "rb") as file:
        assert gzip.decompress(body) == file.read()


def test_priming_before_the_fork_compresses_every_bundle_once(session: WorkspaceSession) -> None:
    """`serve` asks the app for its index and bundles before forking the workers, so that they
    share the compressed bundles instead of each compressing them on a user's first page."""
    from dash_app.server import _prime, make_wsgi

    wsgi = make_wsgi(session)
    wsgi.port = 8050
    compressed = wsgi.app
    assert isinstance(compressed, Compressed)
    assert not compressed._bodies
    _prime(wsgi, "127.0.0.1", 8050, None)
    _, _, index = _get(compressed, "/", encoding="identity")
    bundles = re.findall(r'<script src="([^"]+)"', index.decode())
    assert bundles
    assert {f"{url}?" for url in bundles} <= set(compressed._bodies)
