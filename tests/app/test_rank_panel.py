"""The explanation panel's "Explain: score / rank" switch: the rank view's bars sum to the
tweet's rank change and equal `explain_ranks(quantity="rank")`, names escaped."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest

from dash_app.pages.timeline_explain import rank_panel, render_explanation
from rankaudit.attribution.grouping import DEFAULT_TOP
from rankaudit.attribution.rank import RankExplanation, RankSettings
from rankaudit.explain import explain_ranks
from rankaudit.figures import rank_bars
from rankaudit.views import TimelineQuery, WorkspaceSession
from rankaudit.views.explanation import explain_rank_in_timeline
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, find

QUERY = TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET)


@pytest.fixture(scope="module")
def explained(session: WorkspaceSession) -> RankExplanation:
    timeline = session.timeline(BUG_USER, BUG_REQUEST)
    return explain_rank_in_timeline(
        session.workspace, timeline, tweet=BUG_TWEET, model=session.models[1]
    )


def test_view_equals_explain_ranks(session: WorkspaceSession, explained: RankExplanation) -> None:
    model = session.models[1]
    reference = explain_ranks(
        session.workspace, quantity="rank", request=BUG_REQUEST, tweet=BUG_TWEET
    ).results[model]
    pd.testing.assert_frame_equal(explained.values, reference.values)
    assert dict(explained.at_x) == dict(reference.at_x)
    assert dict(explained.at_reference) == dict(reference.at_reference)


@pytest.mark.parametrize("top", [3, DEFAULT_TOP, 100])
def test_bars_sum_to_the_rank_change(explained: RankExplanation, top: int) -> None:
    figure = rank_bars(explained, "deep", top=top)
    (trace,) = figure.data
    players = len(explained.values)
    assert len(trace.x) == min(top, players) + (1 if players > top else 0)
    change = explained.at_x["rank"] - explained.at_reference["rank"]
    assert change != 0  # the biggest mover of the bug request moved away from the reference
    assert abs(float(np.sum(trace.x)) - change) < 1e-9
    # The largest |value| comes first; the shown bars are the features' own values.
    by_player = explained.values.set_index("player")["rank"]
    largest = by_player.abs().max()
    assert trace.y[0] in set(by_player.index[by_player.abs() == largest])
    if players > top:
        assert trace.y[-1] == f"all other features ({players - top})"
        for label, value in zip(trace.y[:-1], trace.x[:-1], strict=True):
            assert value == by_player[label]


def test_names_are_escaped(explained: RankExplanation) -> None:
    values = explained.values.assign(player=["<b>x</b>" + p for p in explained.values["player"]])
    figure = rank_bars(replace(explained, values=values), "<i>m</i>", top=100)
    assert all(str(y).startswith("&lt;b&gt;x&lt;/b&gt;") for y in figure.data[0].y)
    assert "&lt;i&gt;m&lt;/i&gt;" in figure.layout.title.text
    assert "<i>" not in figure.layout.title.text


def test_panel_has_the_switch_and_the_rank_figure(session: WorkspaceSession) -> None:
    body = render_explanation(session, asdict(QUERY))
    tabs = find(body, "explain-quantity")
    assert tabs.value == "score"
    assert [t.value for t in tabs.children] == ["score", "rank"]
    rank_figure = find(tabs.children[1], "explain-rank-figure").figure
    score_figure = find(tabs.children[0], "explain-figure").figure
    expected = explain_rank_in_timeline(
        session.workspace,
        session.timeline(BUG_USER, BUG_REQUEST),
        tweet=BUG_TWEET,
        model=session.models[1],
        settings=RankSettings(),
    )
    change = expected.at_x["rank"] - expected.at_reference["rank"]
    assert abs(float(np.sum(rank_figure.data[0].x)) - change) < 1e-9
    assert score_figure.data[0].name == "SHAP"


def test_unknown_tweet_is_a_message_not_a_trace(session: WorkspaceSession) -> None:
    query = replace(QUERY, tweet="t_missing")
    panel = rank_panel(session, query, session.models[1])
    assert "t_missing" in str(panel)


def test_the_rank_view_is_kept_in_the_url(session: WorkspaceSession) -> None:
    from dash_app.pages.timeline import explain_url
    from rankaudit.errors import ParameterError

    params = {"request": BUG_REQUEST, "tweet": BUG_TWEET, "explain": "rank"}
    query = TimelineQuery.from_params(BUG_USER, params)
    assert query.explain == "rank"
    assert query.url() == (
        f"/timeline/{BUG_USER}?request={BUG_REQUEST}&tweet={BUG_TWEET}&explain=rank"
    )
    assert TimelineQuery.from_params(BUG_USER, {}).explain == "score"
    assert "explain" not in QUERY.url()
    with pytest.raises(ParameterError, match="'explain' parameter in the URL must be one of"):
        TimelineQuery.from_params(BUG_USER, {"explain": "<script>"})
    # The page opens on the view its URL names; the switch leads to the other one's URL.
    tabs = find(render_explanation(session, asdict(query)), "explain-quantity")
    assert tabs.value == "rank"
    assert explain_url(session, asdict(QUERY), "rank") == query.url()
    assert explain_url(session, asdict(query), "score") == QUERY.url()
    assert explain_url(session, asdict(query), "rank") is None  # the view shown
    assert explain_url(session, asdict(QUERY), "x" * 1000) is None  # hostile: nowhere
    # A new tweet keeps the view; a new request as well.
    other = query.with_changes(tweet="t0000000001")
    assert other.explain == "rank"
