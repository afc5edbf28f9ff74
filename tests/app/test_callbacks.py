"""Page layouts and callbacks: what each renders for a URL, checked against the library."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import pytest

from dash_app.app import search_options, search_target
from dash_app.pages import overview, timeline
from rankaudit.attribution import INTERACTIVE_SETTINGS, AttributionCache
from rankaudit.explain import explain_tweet
from rankaudit.figures import attribution_bars, position_slopegraph
from rankaudit.views import TimelineQuery, WorkspaceSession
from tests.app.conftest import (
    BUG_REQUEST,
    BUG_TWEET,
    BUG_USER,
    BUG_VS,
    find,
    has_class,
    text_of,
    walk,
)


def _data(**changes: Any) -> dict[str, Any]:
    return asdict(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, **changes))


def test_layout_holds_the_url_state(session: WorkspaceSession) -> None:
    page = timeline.layout(
        session, BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, model="baseline", head="reply"
    )
    assert find(page, "timeline-query").data == _data(
        tweet=BUG_TWEET, model="baseline", head="reply"
    )
    assert find(page, "explain-model").value == "baseline"
    assert find(page, "explain-head").value == "reply"
    heads = [o["value"] for o in find(page, "explain-head").options]
    assert heads == ["score", *session.workspace.ranker("baseline").heads]
    assert set(heads) == {
        "score",
        "favorite",
        "retweet",
        "reply",
        "good_click",
        "negative_feedback",
    }
    assert find(page, "explain-vs").disabled  # only the pair reference picks a tweet
    pair = timeline.layout(session, BUG_USER, tweet=BUG_TWEET, reference="pair")
    assert not find(pair, "explain-vs").disabled


def test_layout_without_viewer_is_the_search_page(session: WorkspaceSession) -> None:
    page = timeline.layout(session, None)
    links = [n.href for n in walk(page) if getattr(n, "href", None)]
    assert links[:2] == ["/timeline/u000000", "/timeline/u000001"]


def test_bad_option_in_the_url_is_a_message(
    session: WorkspaceSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="rankaudit.app"):
        page = timeline.layout(session, BUG_USER, reference="sideways")
    (card,) = has_class(page, "error-card")
    assert (
        "The 'reference' parameter in the URL must be one of request, global, pair. Got 'sideways' instead."
        in text_of(card)
    )
    assert "Traceback" not in text_of(page)
    assert any("sideways" in r.getMessage() for r in caplog.records)


def test_timeline_renders_both_orderings(session: WorkspaceSession) -> None:
    data = _data(tweet=BUG_TWEET)
    body = timeline.render_timeline(session, data)
    view = session.timeline(BUG_USER, BUG_REQUEST)
    rows = view.comparison.rows
    links = [
        n
        for n in walk(body)
        if isinstance(getattr(n, "id", None), dict) and n.id.get("type") == "tweet-link"
    ]
    assert [n.children for n in links] == rows["tweet_id"].tolist()  # b's order
    assert (
        links[0].href
        == TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=rows["tweet_id"].iat[0]).url()
    )
    table = find(body, "timeline-table")
    first_row = table.children[1].children[0]
    assert first_row.className == "selected"  # the bug tweet is first under deep
    cells = [text_of(c) for c in first_row.children]
    assert cells[:3] == ["1", "33", "▲32"]
    figure = find(body, "timeline-slope").figure
    expected = position_slopegraph(
        view.comparison,
        selected=BUG_TWEET,
        row_height=timeline.ROW_PX,
        header_height=timeline.ROW_PX,
    )
    assert len(figure.data) == len(expected.data)
    for shown, built in zip(figure.data, expected.data, strict=True):
        np.testing.assert_array_equal(shown.y, built.y)  # NaN separates the lines
    assert find(body, "timeline-request").value == BUG_REQUEST
    text = text_of(body)
    assert "0.4" in text
    assert "CANDIDATES" not in text
    options = timeline.vs_options(session, data)
    assert len(options) == len(rows) - 1
    assert options[0] == {
        "label": f"#2 {rows['tweet_id'].iat[1]}",
        "value": rows["tweet_id"].iat[1],
    }


def test_unknown_viewer_is_a_message_and_logged(
    session: WorkspaceSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="rankaudit.app"):
        body = timeline.render_timeline(session, asdict(TimelineQuery(user="u_ghost")))
    assert "unknown viewer 'u_ghost'" in text_of(body)
    assert has_class(body, "error-card")
    assert any("u_ghost" in r.getMessage() for r in caplog.records)
    assert timeline.vs_options(session, asdict(TimelineQuery(user="u_ghost", tweet="t"))) == []


def test_explanation_shows_the_library_top_feature(
    session: WorkspaceSession, library_cache: AttributionCache
) -> None:
    panel = timeline.render_explanation(session, _data(tweet=BUG_TWEET))
    expected = explain_tweet(
        session.workspace,
        request=BUG_REQUEST,
        tweet=BUG_TWEET,
        settings=INTERACTIVE_SETTINGS,
        cache=library_cache,
    )
    top = expected.contributions("deep")["feature"].iat[0]
    assert find(panel, "explain-top-feature").children == top == "real_graph_weight"
    figure = find(panel, "explain-figure").figure
    view = session.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET))
    assert list(figure.data[0].x) == list(attribution_bars(view.explanation, "deep").data[0].x)
    assert (
        find(panel, "explain-next-link").href
        == TimelineQuery(
            user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference="pair"
        ).url()
    )
    checks = has_class(panel, "check")
    assert [c.children.split(" ")[0] for c in checks] == ["IG", "SHAP"]
    heads = find(panel, "explain-heads").figure
    assert [t.name for t in heads.data] == ["baseline", "deep"]


def test_pair_and_waterfall(session: WorkspaceSession) -> None:
    panel = timeline.render_explanation(
        session, _data(tweet=BUG_TWEET, reference="pair", vs=BUG_VS, chart="waterfall")
    )
    figure = find(panel, "explain-figure").figure
    assert figure.data[0].type == "bar"
    assert figure.data[0].base is not None  # the waterfall's floating bars
    assert figure.layout.title.text.startswith(f"Why {BUG_TWEET} is above {BUG_VS} · deep")
    assert not has_class(panel, "actions")  # already a pair


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_data(tweet="t_nope"), "tweet 't_nope' is not among the 33 candidates"),
        (_data(tweet=BUG_TWEET, head="likes"), "The 'head' parameter in the URL must be one of"),
        (
            _data(tweet=BUG_TWEET, model="gbdt"),
            "The 'model' parameter in the URL must be one of baseline, deep",
        ),
    ],
)
def test_bad_explanations_are_messages(
    session: WorkspaceSession, data: dict[str, Any], message: str
) -> None:
    panel = timeline.render_explanation(session, data)
    assert message in text_of(panel)


def test_internal_errors_never_show_a_trace(
    session: WorkspaceSession, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(query: TimelineQuery) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(session, "explanation", broken)
    with caplog.at_level(logging.ERROR, logger="rankaudit.app"):
        panel = timeline.render_explanation(session, _data(tweet=BUG_TWEET))
    assert "Something went wrong on the server" in text_of(panel)
    assert "secret internals" not in text_of(panel)
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert "secret internals" in str(record.exc_info[1])


@pytest.mark.parametrize(
    ("state", "controls", "expected"),
    [
        ({"tweet": BUG_TWEET}, ("deep", "score", "request", None, "bars"), None),  # as rendered
        ({"tweet": BUG_TWEET}, ("deep", "score", "pair", None, "bars"), "reference=pair"),
        ({"tweet": BUG_TWEET, "reference": "pair"}, ("deep", "score", "pair", BUG_VS, "bars"), f"reference=pair&vs={BUG_VS}"),
        ({"tweet": BUG_TWEET, "reference": "pair", "vs": BUG_VS}, ("deep", "score", "request", BUG_VS, "bars"), "tweet=t0000020562"),
        ({"tweet": BUG_TWEET, "head": "reply"}, ("baseline", "reply", "request", None, "bars"), "model=baseline"),
        ({"tweet": BUG_TWEET}, ("deep", "reply", "request", None, "waterfall"), "head=reply&chart=waterfall"),
    ],
)  # fmt: skip
def test_controls_write_the_url(
    session: WorkspaceSession,
    state: dict[str, Any],
    controls: tuple[Any, ...],
    expected: str | None,
) -> None:
    url = timeline.controls_url(session, _data(**state), *controls)
    if expected is None:
        assert url is None
    else:
        assert url is not None
        assert url.startswith(f"/timeline/{BUG_USER}?request={BUG_REQUEST}&tweet={BUG_TWEET}")
        assert url.endswith(expected)
        query = TimelineQuery.from_params(
            BUG_USER, dict(p.split("=") for p in url.split("?")[1].split("&"))
        )
        assert query.head == (
            "score" if controls[0] != (state.get("model") or "deep") else controls[1]
        )


def test_request_and_click_urls(session: WorkspaceSession) -> None:
    default = session.timeline("u000005")
    data = asdict(TimelineQuery(user="u000005"))
    assert timeline.request_url(session, data, default.request_id) is None  # the one shown
    other = next(
        r for r in default.comparison.viewer_requests["request_id"] if r != default.request_id
    )
    assert timeline.request_url(session, data, other) == f"/timeline/u000005?request={other}"
    click = {"points": [{"customdata": BUG_VS}]}
    assert (
        timeline.clicked_tweet_url(_data(tweet=BUG_TWEET), click)
        == TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_VS).url()
    )
    assert timeline.clicked_tweet_url(_data(), None) is None
    assert timeline.clicked_tweet_url(_data(tweet=BUG_VS), click) is None


def test_search_box(session: WorkspaceSession) -> None:
    assert [o.value for o in search_options(session, "u00040")][:3] == [
        "u000400",
        "u000401",
        "u000402",
    ]
    assert search_options(session, "") == []
    assert search_target(session, BUG_USER) == f"/timeline/{BUG_USER}"
    assert search_target(session, BUG_REQUEST) == f"/timeline/{BUG_USER}?request={BUG_REQUEST}"
    assert search_target(session, "who?") == "/timeline/who%3F"
    assert search_target(session, "  ") == "/timeline"


def test_overview_lists_surprises_with_links(session: WorkspaceSession) -> None:
    body = overview.render_overview(session)
    top = session.overview().surprises.top(session.settings.surprises)
    links = [
        n
        for n in walk(body)
        if isinstance(getattr(n, "id", None), dict) and n.id.get("type") == "surprise-link"
    ]
    assert [link.children for link in links] == top["request_id"].tolist()
    assert [link.href for link in links] == [
        TimelineQuery(user=u, request=r).url()
        for u, r in zip(top["user_id"], top["request_id"], strict=True)
    ]
    assert "real_graph_weight" in text_of(find(body, "surprise-table"))
    metrics = find(body, "overview-metrics").figure
    assert (
        metrics.data[1].x[-1]
        == session.overview().population.overall.ranker_metrics["ndcg@10"].b.mean
    )
    page = overview.layout(session)
    assert "98,796" in text_of(page)
    assert "2,000" in text_of(page)


def test_export_buttons_download_the_report_of_what_is_on_screen(
    session: WorkspaceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    user = session.index.users[3]
    request = session.timeline(str(user)).request_id
    download = timeline.export_report(session, asdict(TimelineQuery(user=str(user))))
    assert download["filename"] == f"rankaudit-audit-{request}.html"
    page = base64.b64decode(download["content"]).decode()
    assert page.startswith("<!DOCTYPE html>")
    assert request in page
    assert "The report's JSON twin" in page or "manifest" in page.lower()
    monkeypatch.setattr(overview, "EXPORT_SURPRISES", 1)
    download = overview.export_report(session)
    top = session.overview().surprises.top(1)["request_id"].iat[0]
    assert str(top) in base64.b64decode(download["content"]).decode()
