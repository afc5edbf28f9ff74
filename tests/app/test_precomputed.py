"""A workspace that names precomputed attributions: the app shows them instead of computing."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from rankaudit.attribution import plan_attribution, run_attribution
from rankaudit.errors import SchemaError, WorkspaceError
from rankaudit.views import PrecomputedAttributions, TimelineQuery, WorkspaceSession
from rankaudit.workspace import load_workspace
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, DEMO


def demo_copy(root: Path, extra: str = "") -> Path:
    """A rankaudit.toml in `root` using the demo's files by absolute path (nothing copied)."""
    text = (DEMO / "rankaudit.toml").read_text()
    text = re.sub(
        r'^(logs|spec|ground_truth) = "([^"]+)"',
        lambda m: f'{m[1]} = "{DEMO / m[2]}"',
        text,
        flags=re.M,
    )
    text = re.sub(r'^path = "([^"]+)"', lambda m: f'path = "{DEMO / m[1]}"', text, flags=re.M)
    (root / "rankaudit.toml").write_text(extra + text)
    return root


@pytest.fixture(scope="module")
def precomputed_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("precomputed")
    (root / "attributions").mkdir()
    workspace = load_workspace(demo_copy(root))
    plan = plan_attribution(
        workspace, "deep", method="all", reference="request", request=BUG_REQUEST,
        heads=["score"], out=root / "attributions" / "deep.parquet",
    )  # fmt: skip
    run_attribution(plan)
    return demo_copy(root, 'attributions = "attributions"\n')


def test_precomputed_rows_are_used(precomputed_workspace: Path) -> None:
    session = WorkspaceSession.open(precomputed_workspace)
    assert session.precomputed is not None
    view = session.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET))
    assert view.source == "precomputed (attributions)"
    stored = pd.read_parquet(precomputed_workspace / "attributions" / "deep.parquet")
    expected = stored.loc[stored["tweet_id"] == BUG_TWEET].reset_index(drop=True)
    pd.testing.assert_frame_equal(view.explanation.attributions, expected, check_dtype=False)
    assert view.top_feature == "real_graph_weight"
    assert session.attributions.misses == 0  # nothing computed
    # What the file does not hold is computed on the fly.
    other = session.explanation(
        TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, model="baseline")
    )
    assert other.source == "computed"


def test_bad_precomputed_files(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="'missing' does not exist"):
        load_workspace(demo_copy(tmp_path, 'attributions = "missing"\n'))
    wide = tmp_path / "wide.parquet"
    pd.DataFrame({"request_id": ["r"], "tweet_id": ["t"], "ig:score:x": [0.1]}).to_parquet(wide)
    with pytest.raises(SchemaError, match="not long attribution output: missing column"):
        PrecomputedAttributions(wide)
