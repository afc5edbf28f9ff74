"""The explanation panel with 220 features: at most N + 1 bars, and the features / groups switch."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import pytest

from dash_app.pages import timeline
from rankaudit.attribution.grouping import DEFAULT_TOP
from rankaudit.figures import attribution_bars, attribution_waterfall
from rankaudit.text import plotly_text
from rankaudit.views import TimelineQuery, WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, find, has_class, text_of
from tests.wide import GROUP_SIZES, WideTruth, write_wide_workspace

QUERY = TimelineQuery(user="u1", request="r1", tweet="t012")


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[WideTruth, WorkspaceSession]:
    truth = write_wide_workspace(tmp_path_factory.mktemp("wide-app"))
    return truth, WorkspaceSession.open(truth.root)


def test_bars_of_220_features_are_the_top_12_and_the_rest(
    wide: tuple[WideTruth, WorkspaceSession],
) -> None:
    _, session = wide
    view = session.explanation(QUERY)
    assert len(view.contributions()) == 220
    figure = attribution_bars(view.explanation, view.model)
    shown = view.top_contributions()
    assert [t.name for t in figure.data] == ["SHAP", "Integrated Gradients"]
    for trace, method in zip(figure.data, ("shap", "ig"), strict=True):
        assert len(trace.x) == DEFAULT_TOP + 1
        assert trace.y[-1] == f"all other features ({220 - DEFAULT_TOP})"
        assert list(trace.x) == shown[method].tolist()
        total = math.fsum(view.contributions()[method])
        assert abs(math.fsum(trace.x) - total) <= 1e-9
    waterfall = attribution_waterfall(view.explanation, view.model, top=5)
    (trace,) = waterfall.data
    assert len(trace.x) == 1 + 5 + 1 + 1  # reference, 5 features, the rest, the score
    assert trace.y[-2] == "all other features (215)"


def test_the_panel_switches_to_feature_groups(wide: tuple[WideTruth, WorkspaceSession]) -> None:
    _, session = wide
    data = asdict(QUERY)
    features = find(timeline.render_explanation(session, data), "explain-figure").figure
    assert all(len(trace.x) <= DEFAULT_TOP + 1 for trace in features.data)
    panel = timeline.render_explanation(session, data, "groups")
    figure = find(panel, "explain-figure").figure
    view = session.explanation(QUERY)
    grouped = view.group_contributions()
    for trace, method in zip(figure.data, ("shap", "ig"), strict=True):
        assert len(trace.x) == len(GROUP_SIZES) == 7
        assert list(trace.x) == grouped[method].tolist()
        # Group names are free text from the spec: drawn escaped (one holds markup).
        expected = [plotly_text(f"{g} ({GROUP_SIZES[g]} features)") for g in grouped["group"]]
        assert list(trace.y) == expected
    assert f"top: {view.top_group}" in text_of(panel)
    waterfall = timeline.render_explanation(session, {**data, "chart": "waterfall"}, "groups")
    (trace,) = find(waterfall, "explain-figure").figure.data
    assert len(trace.x) == 7 + 2
    # An unknown switch value falls back to features.
    odd = find(timeline.render_explanation(session, data, "bogus"), "explain-figure").figure
    assert list(odd.data[0].y) == list(features.data[0].y)


def test_the_switch_is_in_the_controls_and_remembered(session: WorkspaceSession) -> None:
    query = TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET)
    page = timeline.layout(session, BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET)
    switch = find(page, "explain-by")
    assert [o["value"] for o in switch.options] == ["features", "groups"]
    assert switch.value == "features"
    assert switch.persistence is True
    assert switch.persistence_type == "session"
    # The demo's groups: every bar a group of its spec.
    panel = timeline.render_explanation(session, asdict(query), "groups")
    figure = find(panel, "explain-figure").figure
    groups = {f.group for f in session.workspace.spec}
    labels: list[Any] = list(figure.data[0].y)
    assert {label.split(" (")[0] for label in labels} <= groups
    assert not has_class(panel, "error-card")
