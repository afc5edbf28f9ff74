"""Every string from a log is text wherever it is drawn (issue 14, items 4 and 5).

A workspace whose tweet texts, tweet ids and author ids carry plotly markup (a link, a styled
span, a line break), terminal control sequences (clear screen, an OSC 8 hyperlink), NUL and a
bidi override. The app's figures and the report's must hold them escaped exactly once (plotly
draws a subset of HTML: `<a href>` is a clickable link, `<span style>` is drawn), and the
terminal views of `demo --print` and `compare` must write no control character.
"""

from __future__ import annotations

import html
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs
from rich.console import Console
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.compare import compare_request
from rankaudit.explain import explain_tweet
from rankaudit.figures import attribution_bars, attribution_waterfall, position_slopegraph
from rankaudit.render import request_tables, timeline_table
from rankaudit.report import build_report
from rankaudit.text import BIDI_CONTROLS, plotly_text, terminal_text
from rankaudit.workspace import load_workspace
from tests.browser import headless_chromium
from tests.conftest import small_log, write_workspace
from tests.report.conftest import fast_settings

LINK = '<a href="http://x">x</a>'
SPAN = '<span style="font-size:90px">big</span>'
BREAK = "one<br>two"
CLEAR = "\x1b[2J"
OSC8 = "\x1b]8;;http://x\x07click\x1b]8;;\x07"
NUL = "nul\x00byte"
RLO = "abc\u202edcba"
#: Shown literally, exactly once: as `a &amp; b &lt;i&gt;...` in plotly text, never `&amp;amp;`.
LITERAL = "a & b <i>x</i>"
HOSTILE = (LINK, SPAN, BREAK, CLEAR, OSC8, NUL, RLO)
#: The markup the figure builders write themselves; anything else in plotly text is an escape
#: that failed.
OWN_TAGS = re.compile(r"</?(?:b|i|sup|extra)>")
#: Lines of the slopegraph's hover: tweet by author, a, b, move, engaged, text snippet.
HOVER_BREAKS = 5
runner = CliRunner()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A workspace, a request and its viewer: every row of the viewer has hostile tweet ids,
    author ids and texts (one text is LITERAL in every request)."""
    frame = small_log(users=8, seed=5)
    user = str(frame["user_id"].iat[0])
    request = str(frame["request_id"].iat[0])
    rows = frame.index[frame["user_id"] == user]
    cycle = [HOSTILE[i % len(HOSTILE)] for i in range(len(rows))]
    frame.loc[rows, "tweet_text"] = cycle
    frame.loc[rows, "author_id"] = [f"{p}@{i % 3}" for i, p in enumerate(reversed(cycle))]
    frame.loc[rows, "tweet_id"] = [f"{p}#{i}" for i, p in enumerate(cycle)]
    for _, group in frame.loc[rows].groupby("request_id"):
        frame.loc[group.index[0], "tweet_text"] = LITERAL
    mine = frame.loc[rows]
    assert set(mine["tweet_text"]) == {*HOSTILE, LITERAL}
    assert (mine["request_id"] == request).sum() > len(HOSTILE)
    root = write_workspace(tmp_path_factory.mktemp("hostile"), frame)
    return root, request, user


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (keys of plotly's own schema are not user text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _figure_text(spec: dict[str, Any]) -> list[str]:
    """The strings plotly draws as text: everything but `customdata` (data a click reports,
    never drawn) and the trace and layout keys."""
    out: list[str] = []
    for trace in spec.get("data", []):
        out.extend(_strings({k: v for k, v in trace.items() if k != "customdata"}))
    out.extend(_strings(spec.get("layout", {})))
    return out


def _drawn(text: str) -> str:
    """What plotly shows for one of its strings: its own tags dropped, entities decoded."""
    return html.unescape(OWN_TAGS.sub("", text.replace("<br>", "\n")))


def _assert_escaped_once(spec: dict[str, Any], *, hover_breaks: int | None = None) -> str:
    """No tag of a payload in the figure's text, and every payload drawn as logged; returns
    everything the figure draws."""
    texts = _figure_text(spec)
    for text in texts:
        bare = OWN_TAGS.sub("", text).replace("<br>", "")
        assert "<" not in bare, text  # a payload's tag, unescaped
        assert "&amp;amp;" not in text, text  # escaped twice
        assert "&amp;lt;" not in text, text
    hovers = [h for trace in spec["data"] for h in trace.get("hovertext") or []]
    if hover_breaks is not None:
        assert hovers
        assert {h.count("<br>") for h in hovers} == {hover_breaks}
    return "\n".join(_drawn(t) for t in texts)


def test_plotly_text_and_terminal_text() -> None:
    assert plotly_text(LITERAL) == "a &amp; b &lt;i&gt;x&lt;/i&gt;"
    assert html.unescape(plotly_text(LINK)) == LINK
    assert plotly_text("\"quoted\" & 'single'") == "\"quoted\" &amp; 'single'"
    assert terminal_text(CLEAR) == "\\x1b[2J"
    assert terminal_text(OSC8) == "\\x1b]8;;http://x\\x07click\\x1b]8;;\\x07"
    assert terminal_text(NUL) == "nul\\x00byte"
    assert terminal_text(RLO) == "abc\\u202edcba"
    assert terminal_text("a\tb\nc\rd\x7fe\x9bf") == "a\\tb\\nc\\rd\\x7fe\\x9bf"
    # Ordinary Unicode stays: accents, CJK, emoji, right-to-left script, the marks LRM/RLM.
    kept = "café 東京 🙂 שלום \u200e\u200f ‘quotes’"
    assert terminal_text(kept) == kept
    assert sorted(BIDI_CONTROLS) == [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS):
        shown = terminal_text(chr(code))
        assert shown.startswith("\\"), hex(code)
        assert shown.isprintable(), hex(code)
        assert shown.isascii(), hex(code)


def test_app_slopegraph_draws_log_strings_as_text(hostile: tuple[Path, str, str]) -> None:
    root, request, _ = hostile
    comparison = compare_request(load_workspace(root), request=request)
    tweets = comparison.rows["tweet_id"].tolist()
    figure = position_slopegraph(comparison, selected=tweets[0])
    spec = json.loads(pio.to_json(figure, validate=False))
    drawn = _assert_escaped_once(spec, hover_breaks=HOVER_BREAKS)
    for tweet in tweets:
        assert tweet in drawn  # the label and hover show the id as logged
    for author in comparison.rows["author_id"]:
        assert f"{author}\n" in drawn
    # The request's one LITERAL text, once in the hovers of each side's markers.
    markers = [t for t in spec["data"] if t.get("customdata") is not None]
    assert len(markers) == 2
    for trace in markers:
        assert sum(_drawn(h).count(LITERAL) for h in trace["hovertext"]) == 1
    raw = json.dumps(spec)
    assert json.dumps(plotly_text(LITERAL))[1:-1] in raw
    # Clicks still report the raw tweet ids.
    assert [list(t["customdata"]) for t in markers] == [tweets, tweets]
    aligned = json.loads(pio.to_json(position_slopegraph(comparison, row_height=30)))
    _assert_escaped_once(aligned, hover_breaks=HOVER_BREAKS)


def test_app_attribution_figures_draw_tweet_ids_as_text(hostile: tuple[Path, str, str]) -> None:
    root, request, _ = hostile
    workspace = load_workspace(root)
    comparison = compare_request(workspace, request=request)
    tweets = comparison.rows.sort_values("position_b")["tweet_id"].tolist()
    explanation = explain_tweet(workspace, request=request, tweet=tweets[0], vs_tweet=tweets[1])
    for figure in (
        attribution_bars(explanation, "baseline"),
        attribution_bars(explanation, "baseline", by="group"),
        attribution_waterfall(explanation, "baseline"),
    ):
        spec = json.loads(pio.to_json(figure, validate=False))
        drawn = _assert_escaped_once(spec)
        assert tweets[0] in drawn
        assert tweets[1] in drawn


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _assert_terminal_safe(out: str) -> None:
    for code in (0x1B, 0x00, 0x07, *BIDI_CONTROLS):
        assert chr(code) not in out, hex(code)
    assert all(c.isprintable() or c == "\n" for c in out)


def test_demo_print_writes_no_control_characters(hostile: tuple[Path, str, str]) -> None:
    root, request, _ = hostile
    out = _cli("demo", "--workspace", str(root), "--request", request, "--print")
    _assert_terminal_safe(out)
    # The escapes are visible where the column is wide enough (ids never wrap).
    assert "\\x1b[2J#" in out
    assert "nul\\x00byte#" in out
    assert "abc\\u202edcba#" in out
    assert LINK + "#" in out  # markup is text in a terminal too


@pytest.mark.parametrize("by", ["--request", "--user"])
def test_compare_writes_no_control_characters(hostile: tuple[Path, str, str], by: str) -> None:
    root, request, user = hostile
    out = _cli("compare", "--workspace", str(root), by, request if by == "--request" else user)
    _assert_terminal_safe(out)
    assert "\\x1b]8;;http://x\\x07click" in out
    assert "top-k entries and exits" in out


def test_rendered_tables_escape_controls_and_keep_ordinary_unicode(
    hostile: tuple[Path, str, str],
) -> None:
    root, request, _ = hostile
    comparison = compare_request(load_workspace(root), request=request)
    rows = comparison.rows.copy()
    rows.loc[rows.index[0], "tweet_text"] = "café 東京 שלום"
    rows.loc[rows.index[0], "author_id"] = "[bold]not markup[/bold]"
    rows.loc[rows.index[1], "author_id"] = "\x1b[31mred\x1b[0m"
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(timeline_table(replace(comparison, rows=rows)))
    console.print(request_tables(comparison))
    text = console.export_text()
    assert "café 東京 שלום" in text
    assert "[bold]not markup[/bold]" in text
    assert "\\x1b[31mred\\x1b[0m" in text
    assert "\x1b" not in text


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium("--window-size=1280,1000") as driver:
        yield driver


@pytest.fixture(scope="module")
def hostile_report(hostile: tuple[Path, str, str]) -> str:
    root, _, user = hostile
    report = build_report(root, users=[user], settings=fast_settings(importance_rows=30))
    return report.html().decode("utf-8")


def test_report_draws_log_strings_as_text(hostile_report: str) -> None:
    page = hostile_report
    body = page.replace(get_plotlyjs(), "")
    markup = body.split('<script type="application/json"')[0]
    for payload in (LINK, SPAN, BREAK, LITERAL, '<a href="http://x"', "<span style"):
        assert payload not in markup
    assert html.escape(LITERAL, quote=True) in markup  # Jinja's escape, once
    assert html.escape(html.escape(LITERAL)) not in markup
    blocks = re.findall(
        r'<script type="application/json" data-figure="([^"]+)">(.*?)</script>', body
    )
    assert blocks
    slopes = 0
    for figure_id, content in blocks:
        assert "<" not in content
        spec = json.loads(content)
        slope = figure_id.endswith("-slope")
        slopes += slope
        drawn = _assert_escaped_once(spec, hover_breaks=HOVER_BREAKS if slope else None)
        if slope:
            hovers = [h for t in spec["data"] for h in t.get("hovertext") or []]
            assert sum(_drawn(h).count(LITERAL) for h in hovers) == 2  # a's and b's markers
            assert LINK in drawn or SPAN in drawn or BREAK in drawn
    assert slopes == 1


def test_app_figure_hover_is_drawn_as_logged(
    browser: Any, hostile: tuple[Path, str, str], tmp_path: Path
) -> None:
    """plotly.js itself: the hover of the LITERAL tweet reads `a & b <i>x</i>`, and no link
    or styled span is drawn anywhere in the figure."""
    root, request, _ = hostile
    comparison = compare_request(load_workspace(root), request=request)
    figure = position_slopegraph(comparison)
    point = comparison.rows.reset_index(drop=True)
    index = int(point.index[point["tweet_text"] == LITERAL][0])
    page = tmp_path / "figure.html"
    page.write_text(
        "<html><body><div id='f'></div><script>" + get_plotlyjs() + "</script><script>"
        f"Plotly.newPlot('f', {pio.to_json(figure, validate=False)}).then(function () {{"
        "document.body.setAttribute('data-drawn', '1'); });</script></body></html>",
        encoding="utf-8",
    )
    browser.get(page.resolve().as_uri())
    deadline = time.monotonic() + 60
    while not browser.execute_script("return document.body.getAttribute('data-drawn')"):
        assert time.monotonic() < deadline, "the figure was not drawn"
        time.sleep(0.05)
    hover = browser.execute_script(
        "const el = document.getElementById('f');"
        f"Plotly.Fx.hover(el, [{{curveNumber: el.data.length - 1, pointNumber: {index}}}]);"
        "return el.querySelector('.hoverlayer').textContent;"
    )
    assert LITERAL in hover
    # Links inside the drawing (the mode bar's plotly logo is a link of its own).
    anchors = browser.execute_script("return document.querySelectorAll('#f svg a').length")
    styled = browser.execute_script(
        "return Array.from(document.querySelectorAll('#f tspan[style]'))"
        ".filter(t => t.getAttribute('style').includes('90px')).length"
    )
    assert anchors == 0
    assert styled == 0
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('#f .textpoint')).map(t => t.textContent)"
    )
    assert any(LINK in label for label in labels)
