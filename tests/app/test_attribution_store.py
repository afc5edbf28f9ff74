"""A workspace that names an attribution store: the app reads it instead of computing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rankaudit.attribution import plan_attribution, run_attribution
from rankaudit.errors import InputFileError, WorkspaceError
from rankaudit.views import SessionSettings, TimelineQuery, WorkspaceSession
from rankaudit.views import session as session_module
from rankaudit.workspace import load_workspace
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER
from tests.store.conftest import demo_workspace, viewers_in_distinct_partitions


@pytest.fixture(scope="module")
def store_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with a store of the deep ranker's score attributions of the bug's request."""
    root = tmp_path_factory.mktemp("store")
    workspace = load_workspace(demo_workspace(root))
    plan = plan_attribution(
        workspace, "deep", method="all", reference="request", request=BUG_REQUEST,
        heads=["score"], out=root / "attributions",
    )  # fmt: skip
    run_attribution(plan)
    return demo_workspace(root, attributions="attributions")


def test_stored_rows_are_used(store_workspace: Path) -> None:
    session = WorkspaceSession.open(store_workspace)
    assert list(session.stores) == ["deep"]
    assert session.stores["deep"].covers(BUG_USER)
    view = session.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET))
    assert view.source == "store (attributions)"
    assert view.explanation.sources == {"deep": "store (attributions)"}
    stored = pd.read_parquet(store_workspace / "attributions")
    expected = stored.loc[stored["tweet_id"] == BUG_TWEET].reset_index(drop=True)
    assert set(expected["method"]) == {"ig", "shap"}
    pd.testing.assert_frame_equal(view.explanation.attributions, expected)
    assert view.top_feature == "real_graph_weight"
    assert session.attributions.misses == 0  # nothing computed
    # What the store does not hold is computed on the fly: another model, head or reference.
    for query in (
        TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, model="baseline"),
        TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, head="reply"),
    ):
        assert session.explanation(query).source == "computed"


def test_the_features_sample_is_read_from_a_store_that_holds_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewers = viewers_in_distinct_partitions(3, served_from="2026-11-11T00:00:00Z")
    workspace = load_workspace(demo_workspace(tmp_path, users=viewers))
    for name, user in (("whole", None), ("part", viewers[0])):
        plan = plan_attribution(
            workspace, "baseline", method="all", reference="request", user=user,
            heads=["score"], out=tmp_path / name,
        )  # fmt: skip
        run_attribution(plan)
    computed: list[str] = []

    def counted(*args: object, **kwargs: object) -> object:
        computed.append(str(args[1]))
        return attribute_sample(*args, **kwargs)

    attribute_sample = session_module.attribute_sample
    monkeypatch.setattr(session_module, "attribute_sample", counted)
    settings = SessionSettings(importance_rows=400)
    whole = WorkspaceSession.open(
        demo_workspace(tmp_path, users=viewers, attributions="whole"), settings
    )
    sample = whole._sample.get()
    assert len(sample) < 400  # the sample is every held-out request of the three viewers
    rows = whole._attributed("baseline", "shap", "request", "score")
    stored = pd.read_parquet(tmp_path / "whole")
    expected = stored.loc[stored["request_id"].isin(sample["request_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, expected)
    assert computed == []
    # A store of one of the three viewers would skew the sample: it is computed instead.
    part = WorkspaceSession.open(
        demo_workspace(tmp_path, users=viewers, attributions="part"), settings
    )
    rows = part._attributed("baseline", "shap", "request", "score")
    assert computed == ["baseline"]
    assert set(rows["request_id"]) == set(sample["request_id"])


def test_bad_attribution_stores(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="'missing' does not exist"):
        load_workspace(demo_workspace(tmp_path, attributions="missing"))
    (tmp_path / "files").mkdir()
    pd.DataFrame({"request_id": ["r"]}).to_parquet(tmp_path / "files" / "deep.parquet")
    with pytest.raises(WorkspaceError, match="'attributions' must name store folders"):
        load_workspace(demo_workspace(tmp_path, attributions="files"))
    viewer = viewers_in_distinct_partitions(1)
    workspace = load_workspace(demo_workspace(tmp_path / "ws", users=viewer))
    plan = plan_attribution(
        workspace, "baseline", method="all", reference="request", heads=["reply"], wide=True,
        out=tmp_path / "wide",
    )  # fmt: skip
    run_attribution(plan)
    with pytest.raises(InputFileError, match="a wide attribution store"):
        WorkspaceSession.open(demo_workspace(tmp_path, attributions="wide"))
