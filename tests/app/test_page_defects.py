"""Issue 15, page defects: slopegraph labels, the toolbar of every graph, values outside
the training range marked in the explanation figure, the Features page's card layout."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import pytest
from dash import dcc

from dash_app.pages import features
from dash_app.pages.timeline_explain import render_explanation
from rankaudit.compare.surprise import FeatureRanges
from rankaudit.figures import attribution_bars, attribution_waterfall, position_slopegraph
from rankaudit.figures.attribution import OUTSIDE_COLOR
from rankaudit.views import FeaturesQuery, TimelineQuery, WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, find, has_class, walk

#: real_graph_weight's training range in the demo (README), and a range the value is inside.
RANGES = FeatureRanges(
    low={"real_graph_weight": 0.0, "topic_similarity": -1.0},
    high={"real_graph_weight": 0.8753, "topic_similarity": 1.0},
    rows=100,
)
OUTSIDE = "real_graph_weight = 2.95"


@pytest.fixture(scope="module")
def explanation(session: WorkspaceSession) -> Any:
    query = TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET)
    return session.explanation(query).explanation


def test_slopegraph_labels_put_the_position_first(session: WorkspaceSession) -> None:
    comparison = session.timeline(BUG_USER, BUG_REQUEST).comparison
    *_, left, right = position_slopegraph(comparison).data
    rows = comparison.rows.set_index("tweet_id")
    # The walkthrough's tweet: #33 under baseline, #1 under deep.
    assert f"#33 {BUG_TWEET}" in list(left.text)
    assert f"#1 {BUG_TWEET}" in list(right.text)
    for trace, column in ((left, "position_a"), (right, "position_b")):
        for tweet, label in zip(trace.customdata, trace.text, strict=True):
            assert label == f"#{rows.at[tweet, column]} {tweet}"
            assert not re.search(r"\.\d+$", label)  # nothing reads as a decimal


def _tick(figure: Any, label: str) -> str:
    axis = figure.layout.yaxis
    return str(axis.ticktext[list(axis.tickvals).index(label)])


def test_bars_mark_a_value_outside_its_training_range(explanation: Any) -> None:
    plain = attribution_bars(explanation, "deep", top=6)
    assert plain.layout.shapes == ()
    assert plain.layout.yaxis.ticktext is None
    figure = attribution_bars(explanation, "deep", top=6, ranges=RANGES)
    shap, _ = figure.data
    assert list(shap.y) == list(plain.data[0].y)  # hover and clicks keep the plain labels
    assert shap.y[0] == OUTSIDE
    tick = _tick(figure, OUTSIDE)
    assert "⚠ real_graph_weight = 2.95" in tick
    assert "outside training range 0 .. 0.8753" in tick
    assert OUTSIDE_COLOR in tick
    # topic_similarity = 0.459 is inside -1 .. 1: its label is unchanged.
    assert _tick(figure, "topic_similarity = 0.459") == "topic_similarity = 0.459"
    (band,) = figure.layout.shapes  # one band, behind the first row
    assert (band.y0, band.y1, band.xref, band.layer) == (-0.5, 0.5, "paper", "below")
    # Per feature group there is no single value to set against a range.
    grouped = attribution_bars(explanation, "deep", top=6, by="group", ranges=RANGES)
    assert grouped.layout.shapes == ()


def test_waterfall_marks_it_one_row_down(explanation: Any) -> None:
    figure = attribution_waterfall(explanation, "deep", top=6, ranges=RANGES)
    (band,) = [s for s in figure.layout.shapes if s.type == "rect"]  # the rest: connectors
    assert (band.y0, band.y1) == (0.5, 1.5)  # row 0 is the reference's bar
    assert figure.data[0].y[1] == OUTSIDE
    assert "outside training range 0 .. 0.8753" in _tick(figure, OUTSIDE)


def _graphs(tree: Any) -> list[dcc.Graph]:
    return [node for node in walk(tree) if isinstance(node, dcc.Graph)]


def test_every_graph_hides_the_toolbar(
    session: WorkspaceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "feature_ranges", lambda: RANGES)
    data = asdict(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET))
    panel = render_explanation(session, data)
    body = features.render_features(session, asdict(FeaturesQuery(reference="request")))
    graphs = _graphs(panel) + _graphs(body)
    assert {g.id for g in graphs} >= {
        "explain-figure",
        "explain-heads",
        "explain-rank-figure",
        "features-importance",
        "features-agreement",
        "features-beeswarm",
        "features-dependence",
    }
    for one in graphs:
        assert one.config["displayModeBar"] is False, one.id
        assert one.config["displaylogo"] is False, one.id
    # The page's explanation figure marks the planted bug's out-of-range value.
    assert "outside training range 0 .. 0.8753" in _tick(
        find(panel, "explain-figure").figure, OUTSIDE
    )


def _cards(tree: Any) -> list[Any]:
    return has_class(tree, "panel")


@pytest.mark.parametrize(
    ("model", "side", "below"),
    [
        ("deep", ["features-agreement", "features-dependence"], ["features-beeswarm"]),
        ("baseline", ["features-dependence", "features-beeswarm"], []),
    ],
)
def test_features_cards_are_never_half_empty(
    session: WorkspaceSession, model: str, side: list[str], below: list[str]
) -> None:
    data = asdict(FeaturesQuery(reference="request", model=model))
    body = features.render_features(session, data)
    # Every card holds a graph (the note of a missing method is a line above the cards).
    for card in _cards(body):
        assert len(_graphs(card)) == 1
    (row,) = has_class(body, "grid-2")
    importance, stack = row.children
    assert [g.id for g in _graphs(importance)] == ["features-importance"]
    assert [g.id for g in _graphs(stack)] == side
    assert [g.id for c in body.children[2:] for g in _graphs(c)] == below
