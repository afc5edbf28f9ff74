"""Fixtures of the app tests: a demo session, a live server, a headless browser, and helpers
that look into Dash component trees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rankaudit.attribution import INTERACTIVE_SETTINGS, AttributionCache
from rankaudit.views import WorkspaceSession
from tests.browser import headless_chromium

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
#: Screenshots of the browser tests (git-ignored).
ARTIFACTS = ROOT / "test-artifacts"
#: The walkthrough's request of the planted bug, its viewer and its biggest mover.
BUG_REQUEST = "r000000819"
BUG_USER = "u000406"
BUG_TWEET = "t0000020562"
BUG_VS = "t0000020548"


@pytest.fixture(scope="session")
def session() -> WorkspaceSession:
    """One warmed session on the demo workspace, shared by the tests of a worker."""
    opened = WorkspaceSession.open(DEMO)
    opened.warm(overview=False)
    return opened


@pytest.fixture(scope="session")
def library_cache() -> AttributionCache:
    """A cache for reference computations with the library's own functions."""
    return AttributionCache(max_entries=32)


@pytest.fixture(scope="session")
def interactive() -> Any:
    return INTERACTIVE_SETTINGS


def walk(component: Any) -> Iterator[Any]:
    """Every component of a Dash tree, depth first."""
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    if isinstance(children, list | tuple):
        for child in children:
            yield from walk(child)
    else:
        yield from walk(children)


def find(component: Any, id: Any) -> Any:
    """The component with `id`; fails the test when there is none."""
    for node in walk(component):
        if getattr(node, "id", None) == id:
            return node
    raise AssertionError(f"no component with id {id!r}")


def text_of(component: Any) -> str:
    """All text of a tree, joined by spaces."""
    parts = []
    for node in walk(component):
        if isinstance(node, str | int | float):
            parts.append(str(node))
    return " ".join(parts)


def has_class(component: Any, name: str) -> list[Any]:
    """Components whose className holds `name`."""
    return [n for n in walk(component) if name in str(getattr(n, "className", "") or "").split()]


# ---------------------------------------------------------------- live server and browser


@pytest.fixture(scope="session")
def live_url(session: WorkspaceSession) -> Iterator[str]:
    """The app on the demo session under waitress, on a free port, in a background thread."""
    from dash_app.server import BackgroundServer

    with BackgroundServer(session) as server:
        yield server.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by selenium; skipped when the browser or driver is missing."""
    with headless_chromium("--window-size=1920,1200", "--force-device-scale-factor=1") as driver:
        yield driver
