"""Issue 14, item 11: malformed callback data and component-suite paths are never a 500.

Every callback the app registers (read from the server's own `/_dash-dependencies`) is sent
malformed values over HTTP; content callbacks answer with an error card, navigation callbacks
leave the page as it is, and what no callback can parse is a short 400.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from dash_app.pages import features, timeline
from rankaudit.views import WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_USER, has_class, live_url, session, text_of

__all__ = ["live_url", "session"]  # fixtures used here

#: Values a hostile client may put in any callback input.
MALFORMED: list[Any] = [
    None,
    7,
    "x" * 300,
    [1, [2]],
    {"bogus": 1},
    {"user": {"nested": 1}},
    {"user": BUG_USER, "request": ["r", 1]},
    {"user": BUG_USER, "tweet": "t" * 1000, "reference": "pair", "vs": 3},
    {"points": [1]},
    {"points": "x"},
]
#: Outputs that draw a page part: a malformed store there must show an error card.
CONTENT = {"timeline-body.children", "explain-body.children", "features-body.children"}
#: Callbacks whose input is only a trigger (a click, a constant store): any value starts
#: seconds of legitimate work (an audit report, the overview), nothing is parsed.
TRIGGERS = ("-download.data", "overview-body.children")


def post(url: str, body: Any, *, raw: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + "/_dash-update-component",
        data=raw if raw is not None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


@pytest.fixture(scope="module")
def callbacks(live_url: str) -> list[dict[str, Any]]:
    code, body = get(live_url + "/_dash-dependencies")
    assert code == 200
    found: list[dict[str, Any]] = json.loads(body)
    assert len(found) >= 12
    return found


def _body(callback: dict[str, Any], value: Any) -> dict[str, Any]:
    output = callback["output"]
    parts = [p.rsplit(".", 1) for p in output.strip(".").split("...")]
    outputs = [{"id": i.split("@")[0], "property": p.split("@")[0]} for i, p in parts]
    inputs = [
        {"id": i["id"], "property": i["property"], "value": value} for i in callback["inputs"]
    ]
    state = [{"id": s["id"], "property": s["property"], "value": value} for s in callback["state"]]
    return {
        "output": output,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in callback["inputs"]],
        "state": state,
    }


def test_every_callback_answers_malformed_values(
    live_url: str, callbacks: list[dict[str, Any]]
) -> None:
    cards = 0
    for callback in callbacks:
        if any(t in callback["output"] for t in TRIGGERS):
            continue
        for value in MALFORMED:
            code, answer = post(live_url, _body(callback, value))
            # Dash's own page router cannot take a non-text path: the server's 400 backstop.
            allowed = (200, 204, 400) if "_pages_" in callback["output"] else (200, 204)
            assert code in allowed, (callback["output"], value, code, answer[:300])
            assert b"Traceback" not in answer
            content = {o for o in CONTENT if o in callback["output"]}
            # A list is read as its last value (as a repeated URL parameter): request "1",
            # a valid query without a tweet, so no explanation and no card.
            lenient = isinstance(value, dict) and value.get("request") == ["r", 1]
            if content and value is not None and not lenient:
                assert b"error-card" in answer, (callback["output"], value, answer[:300])
                cards += 1
    assert cards >= 3 * 4  # the three page parts answered cards


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b"[1]",
        b'{"output": "nothing.children", "inputs": [], "state": []}',
        b'{"output": 5}',
        b"{}",
        b'{"output": "..timeline-body.children...explain-vs.options..", "inputs": 3}',
    ],
)
def test_unparseable_callback_requests_are_400(live_url: str, raw: bytes) -> None:
    code, answer = post(live_url, None, raw=raw)
    assert 400 <= code < 500
    assert len(answer) < 1_000
    assert b"Traceback" not in answer


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/dash/../../../etc/passwd",
        "/_dash-component-suites/dash/..%2f..%2f..%2fetc%2fpasswd",
        "/_dash-component-suites/dash/%2e%2e/%2e%2e/setup.py",
        "/_dash-component-suites/os/path.py",
        "/_dash-component-suites/dash_app/server.py",
        "/_dash-component-suites/dash/dcc/not-there.js",
        "/_dash-component-suites/dash/deps/%00.js",
        "/_dash-component-suites/dash/" + "a" * 3000 + ".js",
        "/_dash-component-suites/dash/dcc/dash_core_components.js/..",
    ],
)
def test_component_suite_garbage_is_4xx(live_url: str, path: str) -> None:
    code, answer = get(live_url + path)
    assert 400 <= code < 500, (path, code)
    assert b"root:" not in answer
    assert b"import" not in answer


def test_a_real_component_file_is_still_served(live_url: str) -> None:
    code, answer = get(live_url + "/")
    assert code == 200
    scripts = [
        part.split('"')[0]
        for part in answer.decode().split('src="')[1:]
        if "_dash-component-suites" in part.split('"')[0]
    ]
    assert scripts
    assert get(live_url + scripts[0])[0] == 200


def test_vs_options_and_navigation_never_raise(session: WorkspaceSession) -> None:
    for value in MALFORMED:
        assert timeline.vs_options(session, value) == []
        assert timeline.request_url(session, value, value) is None
        assert timeline.clicked_tweet_url(value, value) is None
        assert timeline.controls_url(session, value, *[value] * 5) is None
        assert features.controls_url(session, value, *[value] * 5) is None
        assert features.clicked_feature_url(value, value) is None
    data = {"user": BUG_USER, "request": BUG_REQUEST}
    # A control value a URL could not hold leads nowhere.
    assert timeline.controls_url(session, data, "deep", "score", "sideways", None, "bars") is None
    assert timeline.controls_url(session, data, "deep", "h" * 300, None, None, None) is None
    assert timeline.request_url(session, data, "r" * 300) is None


def test_malformed_store_is_a_card_naming_the_problem(session: WorkspaceSession) -> None:
    body = timeline.render_timeline(session, {"user": BUG_USER, "colour": "red"})
    (card,) = has_class(body, "error-card")
    assert "the page's stored view state holds unknown keys ['colour']" in text_of(card)
    body = features.render_features(session, ["model"])
    assert "stored view state must be a mapping" in text_of(has_class(body, "error-card")[0])
