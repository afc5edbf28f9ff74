"""Attributions of the demo rankers: ground-truth recovery, the randomization sanity check,
SHAP-IG agreement, and the pair reference reproducing f(a) - f(b)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from rankaudit.attribution import FINAL, AttributionSettings, attribute_frame
from rankaudit.data.readers import read_timelines
from rankaudit.workspace import Workspace, load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return load_workspace(DEMO)


@pytest.fixture(scope="module")
def sample(workspace: Workspace) -> pd.DataFrame:
    """40 requests of the training window (before the planted bug), a fixed choice."""
    frame = read_timelines(workspace.logs, workspace.spec)
    assert workspace.holdout_from is not None
    frame = frame.loc[frame["served_at"] < workspace.holdout_from]
    requests = frame["request_id"].drop_duplicates().sample(40, random_state=1)
    return frame.loc[frame["request_id"].isin(requests)].reset_index(drop=True)


def importance(workspace: Workspace, model: str, frame: pd.DataFrame, method: str) -> pd.Series:
    out = attribute_frame(
        workspace.ranker(model), frame, methods=[method], reference="request", heads=[FINAL]
    ).frame
    mean_abs = out.groupby("feature")["attribution"].apply(lambda a: a.abs().mean())
    return mean_abs.reindex(list(workspace.spec.names)).fillna(0.0)


@pytest.mark.parametrize(("method", "floor"), [("ig", 0.8), ("shap", 0.75)])
def test_deep_model_recovers_the_true_effects(
    workspace: Workspace, sample: pd.DataFrame, method: str, floor: float
) -> None:
    """Rank correlation of mean |attribution| per feature, deep model vs the generator's truth
    explained the same way (the `truth` model of the workspace). Features the truth does not
    use count as 0."""
    deep = importance(workspace, "deep", sample, method)
    truth = importance(workspace, "truth", sample, method)
    correlation = spearmanr(deep, truth).statistic
    assert correlation >= floor, (correlation, deep.round(3).to_dict(), truth.round(3).to_dict())
    # The most important true feature is among the deep model's top three.
    assert truth.idxmax() in deep.nlargest(3).index


def test_shap_and_ig_agree_on_the_deep_model(workspace: Workspace, sample: pd.DataFrame) -> None:
    frame = sample.loc[sample["request_id"].isin(sample["request_id"].unique()[:8])]
    out = attribute_frame(
        workspace.ranker("deep"), frame, methods=["ig", "shap"], reference="request", heads=[FINAL]
    ).frame
    wide = out.pivot_table(index=["tweet_id", "feature"], columns="method", values="attribution")
    assert np.corrcoef(wide["ig"], wide["shap"])[0, 1] > 0.9


def test_randomized_model_gives_different_attributions(
    workspace: Workspace, sample: pd.DataFrame
) -> None:
    """Adebayo et al.'s sanity check: re-initialise the deep model's weights (normalisation kept)
    and the explanation must change."""
    frame = sample.loc[sample["request_id"].isin(sample["request_id"].unique()[:6])]
    ranker = workspace.ranker("deep")
    trained = attribute_frame(
        ranker, frame, methods=["ig"], reference="request", heads=[FINAL]
    ).frame
    randomized = load_workspace(DEMO).ranker("deep")
    torch.manual_seed(0)
    for name, module in randomized.module.named_modules():
        if hasattr(module, "reset_parameters") and "normaliser" not in name:
            module.reset_parameters()
    after = attribute_frame(
        randomized, frame, methods=["ig"], reference="request", heads=[FINAL]
    ).frame
    a, b = trained["attribution"].to_numpy(), after["attribution"].to_numpy()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.5
    top_trained = (
        trained.groupby("feature")["attribution"].apply(lambda s: s.abs().mean()).nlargest(3)
    )
    top_random = after.groupby("feature")["attribution"].apply(lambda s: s.abs().mean()).nlargest(3)
    assert set(top_trained.index) != set(top_random.index)


@pytest.mark.parametrize("method", ["ig", "shap"])
def test_pair_reference_explains_the_score_difference(
    workspace: Workspace, sample: pd.DataFrame, method: str
) -> None:
    request = sample.loc[sample["request_id"] == sample["request_id"].iat[0]]
    ranker = workspace.ranker("deep")
    scores = pd.Series(ranker.score(request), index=request["tweet_id"].to_numpy())
    above, below = scores.idxmax(), scores.idxmin()
    out = attribute_frame(
        ranker, request, methods=[method], reference="pair", pair=(above, below), heads=[FINAL]
    ).frame
    assert out["attribution"].sum() == pytest.approx(scores[above] - scores[below], rel=0.01)
    assert out["vs_tweet_id"].unique().tolist() == [below]


def test_served_order_attributes_everything_to_position(
    workspace: Workspace, sample: pd.DataFrame
) -> None:
    request = sample.loc[sample["request_id"] == sample["request_id"].iat[0]]
    out = attribute_frame(
        workspace.ranker("served"), request, methods=["shap"], reference="request"
    ).frame
    assert out["feature"].unique().tolist() == ["position"]
    expected = -request["position"].to_numpy() + request["position"].mean()
    np.testing.assert_allclose(out["attribution"].to_numpy(), expected)
    assert AttributionSettings().tolerance == 0.01


@pytest.mark.parametrize(
    ("model", "method"), [("deep", "ig"), ("deep", "shap"), ("baseline", "shap")]
)
@pytest.mark.parametrize("reference", ["request", "global"])
def test_explaining_some_tweets_equals_explaining_the_whole_request(
    workspace: Workspace, sample: pd.DataFrame, model: str, method: str, reference: str
) -> None:
    """The web app explains the clicked tweet alone: the rest of the request still forms the
    reference, so the values are those of the whole-request call (to float32 rounding: the
    model sees batches of another size)."""
    request = sample.loc[sample["request_id"] == sample["request_id"].iat[1]]
    picked = request["tweet_id"].iloc[[0, 3]].tolist()
    ranker = workspace.ranker(model)
    background = sample.iloc[:16] if reference == "global" else None
    options = dict(methods=[method], reference=reference, background=background)
    whole = attribute_frame(ranker, request, **options).frame  # type: ignore[arg-type]
    some = attribute_frame(ranker, request, tweets=picked, **options).frame  # type: ignore[arg-type]
    expected = whole.loc[whole["tweet_id"].isin(picked)].reset_index(drop=True)
    assert sorted(some["tweet_id"].unique()) == sorted(picked)
    # completeness_relative divides float32 rounding by |f(x) - ref|: compared via the error.
    pd.testing.assert_frame_equal(
        some.drop(columns="completeness_relative").reset_index(drop=True),
        expected.drop(columns="completeness_relative"),
        check_exact=False,
        rtol=1e-4,
        atol=1e-6,
    )
