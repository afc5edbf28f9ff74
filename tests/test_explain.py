"""`explain_tweet` reads a model's rows from the workspace's attribution store when the store
covers the viewer, and computes them otherwise, with the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.attribution import plan_attribution, run_attribution
from rankaudit.cli import app
from rankaudit.explain import explain_tweet
from rankaudit.store.query import AttributionStore
from rankaudit.workspace import load_workspace
from tests.store.conftest import DEMO, DEMO_LOG, PARTITIONS, demo_workspace

KEYS = ["model", "method", "feature"]


@pytest.fixture(scope="module")
def store_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo with a store of the baseline's score attributions (the defaults of `rankaudit
    attribute`, which are explain's) of one viewer's requests; and that viewer."""
    root = tmp_path_factory.mktemp("explain-store")
    viewer = str(pd.read_parquet(DEMO_LOG, columns=["user_id"])["user_id"].iat[0])
    plan = plan_attribution(
        load_workspace(demo_workspace(root)), "baseline", method="all", reference="request",
        user=viewer, heads=["score"], out=root / "attributions", partitions=PARTITIONS,
    )  # fmt: skip
    run_attribution(plan)
    return demo_workspace(root, attributions="attributions"), viewer


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEYS).reset_index(drop=True)


def test_a_covered_viewer_is_read_from_the_store(store_workspace: tuple[Path, str]) -> None:
    root, viewer = store_workspace
    store = AttributionStore.open(root / "attributions")
    assert store.covers(viewer)
    explanation = explain_tweet(load_workspace(root), user=viewer)
    assert explanation.sources == {"baseline": "store (attributions)", "deep": "computed"}
    got = explanation.attributions.loc[explanation.attributions["model"] == "baseline"]
    stored = store.rows(
        model="baseline", head="score", reference="request", viewer=viewer,
        requests=[explanation.view.request_id], tweet=explanation.tweet,
    )  # fmt: skip
    assert len(got) == len(stored) > 0
    pd.testing.assert_frame_equal(got.reset_index(drop=True), stored, check_dtype=False)
    # Computed now with the same settings: the same numbers.
    computed = explain_tweet(load_workspace(DEMO), user=viewer, tweet=explanation.tweet)
    assert computed.sources == {"baseline": "computed", "deep": "computed"}
    now = _sorted(computed.attributions.loc[computed.attributions["model"] == "baseline"])
    before = _sorted(got)
    assert now[KEYS].astype(str).equals(before[KEYS].astype(str))
    for column in ("attribution", "score", "reference_score", "feature_value"):
        np.testing.assert_allclose(now[column], before[column], rtol=1e-9, atol=1e-12)
    assert explanation.totals("baseline") == pytest.approx(computed.totals("baseline"), rel=1e-9)


def test_other_viewers_are_computed(store_workspace: tuple[Path, str]) -> None:
    root, viewer = store_workspace
    store = AttributionStore.open(root / "attributions")
    log = pd.read_parquet(DEMO_LOG, columns=["user_id"])
    other = next(str(u) for u in log["user_id"].unique() if u != viewer)
    assert not store.covers(other)  # its partition is unfinished, or holds only `viewer`
    explanation = explain_tweet(
        load_workspace(root), user=other, models=("baseline", "chronological")
    )
    assert explanation.sources == {"baseline": "computed", "chronological": "computed"}
    # The pair reference is not in the store either, even for its viewer.
    first = explain_tweet(load_workspace(root), user=viewer, models=("baseline", "chronological"))
    assert first.sources == {"baseline": "store (attributions)", "chronological": "computed"}
    tweet, vs = first.view.rows["tweet_id"].iat[0], first.view.rows["tweet_id"].iat[1]
    pair = explain_tweet(
        load_workspace(root),
        user=viewer,
        request=first.view.request_id,
        tweet=tweet,
        vs_tweet=vs,
        models=("baseline", "chronological"),
    )
    assert pair.sources == {"baseline": "computed", "chronological": "computed"}


def test_the_command_runs_on_a_store_workspace(store_workspace: tuple[Path, str]) -> None:
    root, viewer = store_workspace
    result = CliRunner().invoke(
        app,
        [
            "explain",
            "--workspace",
            str(root),
            "--user",
            viewer,
            "--vs",
            "baseline",
            "chronological",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "Σ SHAP" in result.stdout


def test_one_store_per_model(store_workspace: tuple[Path, str], tmp_path: Path) -> None:
    """`attributions` may list a store per model; two stores of one model are refused."""
    from rankaudit.errors import InputFileError

    root, viewer = store_workspace
    workspace = load_workspace(root)
    request = explain_tweet(workspace, user=viewer).view.request_id
    plan = plan_attribution(
        workspace, "deep", method="all", reference="request", request=request,
        heads=["score"], out=root / "deep-store",
    )  # fmt: skip
    run_attribution(plan)
    both = load_workspace(demo_workspace(root, attributions=["attributions", "deep-store"]))
    explanation = explain_tweet(both, user=viewer, request=request)
    assert explanation.sources == {
        "baseline": "store (attributions)",
        "deep": "store (deep-store)",
    }
    twice = load_workspace(demo_workspace(root, attributions=["attributions", "attributions"]))
    with pytest.raises(InputFileError, match="explains model 'baseline', like"):
        explain_tweet(twice, user=viewer)
