"""The Features page: importance from `rankaudit.importance`, its figures and its URL."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from dash_app.pages import features
from rankaudit.attribution import INTERACTIVE_SETTINGS
from rankaudit.errors import ParameterError
from rankaudit.figures import (
    attribution_beeswarm,
    dependence_plot,
    importance_comparison,
    method_agreement,
)
from rankaudit.importance import attribute_sample, importance_table, sample_requests
from rankaudit.views import FeaturesQuery, FeaturesView, WorkspaceSession
from tests.app.conftest import find, text_of

# One worker runs the module: its Features view is computed once.
pytestmark = pytest.mark.xdist_group("features-page")


@pytest.fixture(scope="module")
def view(session: WorkspaceSession) -> FeaturesView:
    # The request reference keeps the test fast (no background pass); the page default is global.
    return session.features(FeaturesQuery(reference="request"))


def test_importance_is_the_library_table(session: WorkspaceSession, view: FeaturesView) -> None:
    holdout = session.workspace.holdout_from
    sample = sample_requests(
        session.workspace, session.settings.importance_rows, seed=0, window=(holdout, None)
    )
    deep = attribute_sample(
        session.workspace, "deep", method="shap", reference="request", heads=["score"],
        settings=INTERACTIVE_SETTINGS, rows=sample,
    ).frame  # fmt: skip
    expected = importance_table(deep)
    mine = view.importance.loc[view.importance["model"] == "deep"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, expected)
    assert view.query.model == "deep"
    assert view.query.feature == expected["feature"].iat[0]
    assert view.features == expected["feature"].tolist()
    assert set(view.importance["model"]) == {"baseline", "deep"}
    assert view.missing == {}
    assert view.rows == len(sample)
    assert view.agreement is not None
    assert set(view.agreement["method"]) == {"shap", "ig"}


def test_importance_figures(view: FeaturesView) -> None:
    figure = importance_comparison(view.importance, view.models, top=5)
    baseline, deep = figure.data
    deep_rows = view.importance.loc[view.importance["model"] == "deep"].set_index("feature")
    assert list(deep.y)[:5] == deep_rows.sort_values("rank").index[:5].tolist()
    np.testing.assert_allclose(deep.x, [100 * deep_rows["share"].get(f, 0.0) for f in deep.y])
    assert baseline.name == "baseline"
    swarm = attribution_beeswarm(view.attributions, top=4)
    (points,) = swarm.data
    top = list(swarm.layout.yaxis.ticktext)
    assert top == view.features[:4]
    assert len(points.x) == 4 * view.attributions["tweet_id"].nunique()
    first = view.attributions.loc[view.attributions["feature"] == top[0], "attribution"]
    np.testing.assert_allclose(points.x[: len(first)], first.to_numpy())
    assert set(np.round(points.y[: len(first)])) == {0.0}  # jittered around its row
    feature = view.features[0]
    scatter, means = dependence_plot(view.attributions, feature).data
    rows = view.attributions.loc[view.attributions["feature"] == feature]
    np.testing.assert_allclose(scatter.y, rows["attribution"].to_numpy())
    assert min(means.y) >= min(scatter.y)
    assert max(means.y) <= max(scatter.y)
    assert view.agreement is not None
    agreement, _ = method_agreement(view.agreement).data
    by_method = view.agreement.assign(a=view.agreement["attribution"].abs())
    means_abs = by_method.groupby(["feature", "method"])["a"].mean().unstack()
    at = list(agreement.customdata).index(feature)
    assert agreement.x[at] == pytest.approx(means_abs.loc[feature, "shap"])
    assert agreement.y[at] == pytest.approx(means_abs.loc[feature, "ig"])


def test_features_page(session: WorkspaceSession, view: FeaturesView) -> None:
    data = asdict(FeaturesQuery(reference="request"))
    body = features.render_features(session, data)
    assert find(body, "features-importance").figure.data[1].name == "deep"
    assert find(body, "features-dependence").figure.layout.title.text.startswith(
        f"Dependence on {view.query.feature} · deep · SHAP"
    )
    # IG: the tree baseline has none, and says so.
    ig = features.render_features(session, asdict(FeaturesQuery(reference="request", method="ig")))
    assert "baseline: IG is not defined for lightgbm models." in text_of(ig)
    bad = features.render_features(
        session, asdict(FeaturesQuery(reference="request", feature="shoe_size"))
    )
    assert "The 'feature' parameter in the URL must be a feature deep reads" in text_of(bad)
    page = features.layout(session, reference="request", method="ig")
    assert find(page, "features-method").value == "ig"
    assert "must be one of shap, ig" in text_of(features.layout(session, method="lime"))


@pytest.mark.parametrize(
    ("controls", "expected"),
    [
        (("deep", "shap", "score", "request", None), None),
        (("deep", "ig", "score", "request", None), "/features?method=ig&reference=request"),
        (("baseline", "shap", "reply", "request", None), "/features?model=baseline&reference=request"),
        (("deep", "shap", "reply", "global", "topic_similarity"), "/features?head=reply&feature=topic_similarity"),
    ],
)  # fmt: skip
def test_features_controls(
    session: WorkspaceSession, controls: tuple[str | None, ...], expected: str | None
) -> None:
    data = asdict(FeaturesQuery(reference="request"))
    assert features.controls_url(session, data, *controls) == expected


def test_clicked_feature() -> None:
    data = asdict(FeaturesQuery())
    bar = {"points": [{"y": "topic_similarity", "customdata": ["0.1", "1"]}]}
    swarm = {"points": [{"y": 0.1, "customdata": ["author_id", "a00034"]}]}
    point = {"points": [{"y": 0.2, "customdata": "in_network"}]}
    assert features.clicked_feature_url(data, bar) == "/features?feature=topic_similarity"
    assert features.clicked_feature_url(data, swarm) == "/features?feature=author_id"
    assert features.clicked_feature_url(data, point) == "/features?feature=in_network"
    assert features.clicked_feature_url(data, None) is None


def test_features_errors(session: WorkspaceSession) -> None:
    with pytest.raises(ParameterError, match=r"IG is not defined for baseline \(lightgbm\)"):
        session.features(FeaturesQuery(model="baseline", method="ig"))
    with pytest.raises(ParameterError, match="'head' parameter in the URL must be one of"):
        session.features(FeaturesQuery(head="likes"))
