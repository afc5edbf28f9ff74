"""Strings from the logs are text, never markup: a tiny workspace whose tweet texts, ids and
category values carry HTML and script payloads, reported and opened in a browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from rankaudit.report import Report, build_report
from rankaudit.report.html import script_json
from tests.conftest import small_log, write_workspace
from tests.report.conftest import fast_settings, open_report

SCRIPT_TEXT = '<script>document.title="pwned-script";window.__pwned=1</script>'
IMG_TEXT = '"><img src=x onerror="document.title=\'pwned-img\';window.__pwned=2">'
VIEWER = 'u"><svg onload="window.__pwned=3">'
AUTHOR = "<i>author</i>&amp;"
CLIENT = "<u>ios</u>"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    frame = small_log(users=12, seed=5)
    first = frame["user_id"].iloc[0]
    mine = (frame["user_id"] == first).to_numpy()
    frame.loc[mine, "user_id"] = VIEWER
    frame.loc[mine, "client"] = CLIENT
    rows = frame.index[mine]
    frame.loc[rows[0::2], "tweet_text"] = SCRIPT_TEXT
    frame.loc[rows[1::2], "tweet_text"] = IMG_TEXT
    frame.loc[rows[0::3], "author_id"] = AUTHOR
    root = write_workspace(tmp_path_factory.mktemp("hostile"), frame)
    report = build_report(root, users=[VIEWER], settings=fast_settings(importance_rows=30))
    out = root / "out"
    out.mkdir()
    report.write(html=out / "report.html", json=out / "report.json")
    return report, out


def test_payloads_are_escaped_in_the_html_source(hostile: tuple[Report, Path]) -> None:
    report, out = hostile
    page = (out / "report.html").read_text(encoding="utf-8")
    body = page.replace(get_plotlyjs(), "")
    for payload in (SCRIPT_TEXT, IMG_TEXT, VIEWER, AUTHOR, CLIENT, "<img src=x", "<svg onload"):
        assert payload not in body
    assert "&lt;script&gt;document.title=&#34;pwned-script&#34;" in body
    # Exactly the report's two scripts and its JSON data blocks.
    assert body.count("<script>") == 2
    assert body.count("</script>") == body.count("<script")
    # No data block can be closed early or open a comment.
    for block in body.split('<script type="application/json"')[1:]:
        content = block.split(">", 1)[1].split("</script>", 1)[0]
        assert "<" not in content
        json.loads(content)
    # The JSON twin keeps the logged strings as they were.
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    viewer = document["viewers"][0]
    assert viewer["user_id"] == VIEWER
    texts = {t["text"] for t in viewer["tweets"]}
    assert texts == {SCRIPT_TEXT, IMG_TEXT}
    assert AUTHOR in {t["author_id"] for t in viewer["tweets"]}
    assert report.document["viewers"][0]["user_id"] == VIEWER


def test_payloads_show_as_text_and_never_run(browser: Any, hostile: tuple[Report, Path]) -> None:
    from selenium.webdriver.common.by import By

    _, out = hostile
    messages = open_report(browser, out / "report.html")
    assert [m for m in messages if m["level"] in ("SEVERE", "WARNING")] == []
    assert browser.title == "Ranking audit: deep against baseline"
    assert browser.execute_script("return window.__pwned") is None
    assert browser.find_elements(By.CSS_SELECTOR, "img, [onerror], [onload]") == []
    text = browser.find_element(By.TAG_NAME, "body").text
    for payload in (SCRIPT_TEXT, IMG_TEXT, VIEWER, AUTHOR):
        assert payload in text
    assert f"client: {CLIENT}" in text  # a category value, as a segment label
    # Inside the figures too: the slopegraph's hover label of the top tweet, drawn by plotly.
    slope = browser.find_element(By.CSS_SELECTOR, "[id$='-slope']")
    hover = browser.execute_script(
        "const el = arguments[0];"
        "Plotly.Fx.hover(el, [{curveNumber: el.data.length - 1, pointNumber: 0}]);"
        "return el.querySelector('.hoverlayer').textContent;",
        slope,
    )
    assert SCRIPT_TEXT[:40] in hover or IMG_TEXT[:40] in hover
    assert browser.execute_script("return window.__pwned") is None


def test_script_json_escapes_what_could_end_a_script() -> None:
    value = {"t": "</script><!-- & \u2028"}
    text = script_json(value)
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\u2028" not in text
    assert json.loads(text) == value
