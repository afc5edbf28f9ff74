"""The timeline's surprise context: values outside the training range, SHAP/IG sign
disagreements, and the vs dropdown keeping the URL's tweet."""

from __future__ import annotations

import pandas as pd

from dash_app.pages.timeline_explain import sign_disagreements, vs_options
from dash_app.pages.timeline_table import out_of_range
from rankaudit.compare.surprise import FeatureRanges
from rankaudit.views import TimelineQuery, WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, BUG_VS


def test_sign_disagreements_against_hand_computed_truth() -> None:
    table = pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d"],
            "value": [1.0, 2.0, 3.0, 4.0],
            "shap": [1.0, -0.5, 0.2, 0.01],
            "ig": [0.9, 0.4, 0.3, -0.02],  # b disagrees; d too, but below 5% of the largest
        }
    )
    found = sign_disagreements(table, ["shap", "ig"])
    assert found["feature"].tolist() == ["b"]
    assert found[["shap", "ig"]].to_numpy().tolist() == [[-0.5, 0.4]]
    assert sign_disagreements(table, ["shap"]).empty


def test_out_of_range_marks_exactly_the_values_outside(session: WorkspaceSession) -> None:
    view = session.timeline(BUG_USER, BUG_REQUEST)
    rows = view.comparison.rows
    ranges = FeatureRanges(
        low={"real_graph_weight": 0.0}, high={"real_graph_weight": 0.8753}, rows=1
    )
    found = out_of_range(view, ranges)
    values = rows.set_index(rows["tweet_id"].astype(str))["real_graph_weight"]
    expected = set(values.index[(values < 0.0) | (values > 0.8753)])
    assert set(found) == expected
    assert BUG_TWEET in found
    assert found[BUG_TWEET][0].startswith("real_graph_weight = ")


def test_vs_options_keep_the_urls_tweet(session: WorkspaceSession) -> None:
    query = TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference="pair")
    data = {**query.__dict__, "vs": BUG_VS}
    options = [o["value"] for o in vs_options(session, data)]
    assert BUG_VS in options
    assert BUG_TWEET not in options
    assert len(options) == len(session.timeline(BUG_USER, BUG_REQUEST).comparison.rows) - 1
    unknown = [o["value"] for o in vs_options(session, {**data, "vs": "t_missing"})]
    assert unknown[-1] == "t_missing"  # kept, so the explanation can say what is wrong
