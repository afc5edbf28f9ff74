"""Issue 14, item 2: a huge viewer id or search entry costs no memory and no time.

A 1 MB viewer id once made `np.searchsorted` widen the whole id array to the query's width
(8.5 GiB) inside a global lock. Ids and query parameters now have a documented maximum,
checked before any lookup, and lookups do not materialise anything the size of the query.
"""

from __future__ import annotations

import json
import time
import tracemalloc
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest

from dash_app.app import search_options, search_target
from dash_app.pages import timeline
from rankaudit.data.index import MAX_ID_LENGTH  # the documented limit (absent before the fix)
from rankaudit.errors import NotFoundError
from rankaudit.views import TimelineQuery, WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_USER, has_class, live_url, session, text_of

__all__ = ["live_url", "session"]  # fixtures used here


def peak_bytes(call: Callable[[], Any]) -> tuple[Any, int]:
    """`call()`'s value and the peak of memory it allocated (bytes, numpy included)."""
    tracemalloc.start()
    try:
        value = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, peak


def test_the_limit_is_256_characters() -> None:
    assert MAX_ID_LENGTH == 256


def test_a_long_viewer_id_is_unknown_without_a_lookup(session: WorkspaceSession) -> None:
    # 30,000 characters: before the fix, 2,000 viewers x 30,000 x 4 bytes = 240 MB.
    data = asdict(TimelineQuery(user="u" * 30_000))
    body, peak = peak_bytes(lambda: timeline.render_timeline(session, data))
    assert peak < 2_000_000
    (card,) = has_class(body, "error-card")
    text = text_of(card)
    assert "The 'user' parameter in the URL must be at most 256 characters. Got 30,000" in text
    assert len(text) < 1_000  # the id is not echoed back
    # The session refuses it too, before its caches and the index.
    with pytest.raises(NotFoundError) as caught:
        peak_bytes(lambda: session.timeline("u" * 30_000))
    message = str(caught.value)
    assert message.startswith(
        "unknown viewer 'uuuuuuuuuuuuuuuuuuuuuuuu'… (30,000 characters; ids are at most 256)"
    )
    assert len(message) < 500


@pytest.mark.parametrize("length", [MAX_ID_LENGTH, MAX_ID_LENGTH + 1, 20_000])
def test_lookups_cost_nothing_in_the_id_length(session: WorkspaceSession, length: int) -> None:
    index = session.index
    index.user_of("r_warm")  # builds pandas' hash table of request ids once
    text = "u" * length
    (found, owner, requests, matches), peak = peak_bytes(
        lambda: (
            index.has_user(text),
            index.user_of(text),
            index.requests_of(text),
            index.search(text),
        )
    )
    assert (found, owner, len(requests), matches) == (False, None, 0, [])
    # The query itself and pandas' empty frame, never n_users times the query (2 MB at 256).
    assert peak < 1_000_000 + 8 * length


def test_search_matches_a_plain_scan(session: WorkspaceSession) -> None:
    index = session.index
    users = sorted(str(u) for u in index.users)
    for text, limit in [("u00040", 12), ("06", 12), ("9", 30), ("u001999", 5), ("zz", 5)]:
        prefix = [u for u in users if u.startswith(text)]
        inside = [u for u in users if text in u and not u.startswith(text)]
        assert index.search(text, limit=limit) == (prefix + inside)[:limit]
    assert index.has_user(BUG_USER)
    assert index.user_of(BUG_REQUEST) == BUG_USER
    assert index.requests_of(BUG_USER)["request_id"].tolist().count(BUG_REQUEST) == 1


def test_a_100kb_search_box_entry_is_instant(session: WorkspaceSession) -> None:
    entry = "u" * 100_000
    started = time.perf_counter()
    options, peak = peak_bytes(lambda: search_options(session, entry))
    target = search_target(session, entry)
    assert options == []
    assert peak < 1_000_000
    assert time.perf_counter() - started < 1.0  # was 2 s
    # Enter leads to the viewer page, cut just past the limit: the page says it is too long.
    assert target == "/timeline/" + "u" * (MAX_ID_LENGTH + 1)
    page = timeline.layout(session, "u" * (MAX_ID_LENGTH + 1))
    assert "The 'user' parameter in the URL must be at most 256 characters" in text_of(page)


def test_a_1mb_id_in_the_url_is_refused_by_the_layout(session: WorkspaceSession) -> None:
    page, peak = peak_bytes(lambda: timeline.layout(session, "u" * 1_000_000, tweet="t" * 300))
    assert peak < 8_000_000
    (card,) = has_class(page, "error-card")
    assert "must be at most 256 characters. Got 1,000,000 characters" in text_of(card)


def test_a_1mb_id_over_http_is_an_unknown_viewer_card(live_url: str) -> None:
    body = {
        "output": "..timeline-body.children...explain-vs.options..",
        "outputs": [
            {"id": "timeline-body", "property": "children"},
            {"id": "explain-vs", "property": "options"},
        ],
        "inputs": [
            {"id": "timeline-query", "property": "data", "value": {"user": "u" * 1_000_000}}
        ],
        "changedPropIds": ["timeline-query.data"],
        "state": [],
    }
    request = urllib.request.Request(
        live_url + "/_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = response.read()
    assert time.perf_counter() - started < 5.0
    assert len(answer) < 5_000
    assert b"error-card" in answer
    assert b"must be at most 256 characters" in answer
