"""Issue 14, item 13: no global lock on timeline loads. Different viewers' timelines are
computed in parallel; concurrent requests for the same view share one computation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import rankaudit.views.session as session_module
from rankaudit.views import WorkspaceSession
from rankaudit.views.session import SingleFlight
from tests.app.conftest import DEMO

SLOW = 0.4  # seconds each stubbed load takes


@pytest.fixture
def slow_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WorkspaceSession, list[Any]]]:
    """A fresh session whose timeline loads take SLOW seconds and record (user, start, end);
    the comparisons are the library's own, computed beforehand."""
    fresh = WorkspaceSession.open(DEMO)
    users = ["u000101", "u000202", "u000303"]
    real = {u: session_module.load_side_by_side(fresh.workspace, user=u) for u in users}
    calls: list[Any] = []
    lock = threading.Lock()

    def slow_load(workspace: Any, *, user: str, request: str | None, models: Any) -> Any:
        started = time.perf_counter()
        time.sleep(SLOW)
        with lock:
            calls.append((user, started, time.perf_counter()))
        return real[user]

    monkeypatch.setattr(session_module, "load_side_by_side", slow_load)
    return fresh, calls


def _together(calls: list[Any]) -> list[Any]:
    """Run each call in its own thread, all released at once; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as error:  # returned for the test to look at
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_different_viewers_load_in_parallel(
    slow_session: tuple[WorkspaceSession, list[Any]],
) -> None:
    fresh, calls = slow_session
    started = time.perf_counter()
    views = _together([lambda u=u: fresh.timeline(u) for u in ("u000101", "u000202", "u000303")])
    wall = time.perf_counter() - started
    assert [v.user_id for v in views] == ["u000101", "u000202", "u000303"]
    assert len(calls) == 3
    # Every load started before any ended: they overlapped (one global lock serialised them).
    assert max(start for _, start, _ in calls) < min(end for _, _, end in calls)
    assert wall < 2.5 * SLOW  # 3 x SLOW when serialised


def test_same_viewer_computes_once(slow_session: tuple[WorkspaceSession, list[Any]]) -> None:
    fresh, calls = slow_session
    views = _together([lambda: fresh.timeline("u000101") for _ in range(6)])
    assert len(calls) == 1
    assert all(v is views[0] for v in views)
    assert fresh.cache_info()["timeline_loads"] == 1
    # The view is cached now, under its request too.
    assert fresh.timeline("u000101", views[0].request_id) is views[0]
    assert len(calls) == 1


def test_a_failed_flight_fails_its_waiters_once() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    runs: list[int] = []
    gate = threading.Event()

    def boom() -> int:
        runs.append(1)
        gate.wait(5)
        raise RuntimeError("load failed")

    def later() -> Any:
        time.sleep(0.1)
        gate.set()
        return flights.do("k", lambda: 7)

    results = _together([lambda: flights.do("k", boom), lambda: flights.do("k", boom), later])
    errors = [r for r in results[:2] if isinstance(r, RuntimeError)]
    assert len(runs) == 1
    assert len(errors) == 2
    assert flights.do("k", lambda: 8) == 8  # nothing is left in flight or poisoned
    assert flights._flights == {}
