"""Issue 14, item 12: a 10 MB tweet text is sent as a snippet, not twice in full (a 21 MB
timeline callback before)."""

from __future__ import annotations

import dataclasses
import json

import plotly
import pytest

from dash_app.components import snippet
from dash_app.pages import timeline
from rankaudit.views import TimelineQuery, TimelineView, WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_USER, session, walk

__all__ = ["session"]  # fixture used here


def test_a_10mb_text_is_a_snippet(
    session: WorkspaceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = session.timeline(BUG_USER, BUG_REQUEST)
    rows = real.comparison.rows.copy()
    huge = "<b>long</b>\n" + "word " * 2_000_000  # 10 MB
    rows["tweet_text"] = rows["tweet_text"].astype(object)
    rows.at[rows.index[0], "tweet_text"] = huge  # one tweet of 10 MB
    rows["author_id"] = rows["author_id"].astype(str) + "a" * 1_000
    doctored = TimelineView(dataclasses.replace(real.comparison, rows=rows))
    monkeypatch.setattr(session, "timeline", lambda user, request=None: doctored)
    data = dataclasses.asdict(TimelineQuery(user=BUG_USER, request=BUG_REQUEST))
    body = timeline.render_timeline(session, data)
    size = len(json.dumps(body, cls=plotly.utils.PlotlyJSONEncoder))
    assert size < 400_000  # 21 MB before
    shown = [n for n in walk(body) if "snippet" in str(getattr(n, "className", "")).split()]
    assert len(shown) == len(rows)
    expected = ("<b>long</b> " + "word " * 60)[:279] + "…"
    assert len(expected) == timeline.TEXT_CHARS
    assert (shown[0].children, shown[0].title) == (expected, expected)
    second = " ".join(str(rows["tweet_text"].iat[1]).split())
    assert shown[1].children == (second if len(second) <= 280 else second[:279] + "…")
    authors = [n.children for n in walk(body) if "author" in str(getattr(n, "className", ""))]
    assert authors
    assert all(len(a) <= timeline.AUTHOR_CHARS for a in authors)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short  text\n", 280, "short text"),
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("a" * 6 + " " * 10, 6, "aaaaaa"),  # trailing space is not cut text
        (None, 5, ""),
        (float("nan"), 5, ""),
        (12345678, 5, "1234…"),
    ],
)
def test_snippet(text: object, limit: int, expected: str) -> None:
    assert snippet(text, limit) == expected
