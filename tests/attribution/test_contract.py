"""One table of cases drives every attributor through the same contract: shape, completeness
(IG within its tolerance, SHAP additive), determinism, and closed-form truths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution import (
    COLUMNS,
    FINAL,
    AttributionSettings,
    attribute_frame,
    resolve_methods,
)
from tests.attribution.conftest import LINEAR_WEIGHTS, NUMERIC

SETTINGS = AttributionSettings(background_size=8, shap_permutations=3)
CASES = [
    "linear",
    "logistic",
    "torch_linear",
    "product",
    "category_shift",
    "masknet",
    "lightgbm",
    "served",
    "chronological",
]
REFERENCES = ["global", "request", "pair"]


def _pair(frame: pd.DataFrame) -> tuple[str, str]:
    first = frame.loc[frame["request_id"] == frame["request_id"].iat[0], "tweet_id"]
    return str(first.iat[0]), str(first.iat[3])


def _run(ranker: Any, frame: pd.DataFrame, method: str, reference: str) -> pd.DataFrame:
    background = frame.sample(8, random_state=0) if reference == "global" else None
    pair = _pair(frame) if reference == "pair" else None
    return attribute_frame(
        ranker,
        frame,
        methods=[method],
        reference=reference,
        settings=SETTINGS,
        background=background,
        pair=pair,
    ).frame


CONTRACT = [
    (name, method, reference)
    for name in CASES
    for method in ("ig", "shap")
    for reference in REFERENCES
    if not (name == "lightgbm" and method == "ig")
]


@pytest.mark.parametrize(("name", "method", "reference"), CONTRACT)
def test_contract(name: str, method: str, reference: str, ranker: Any, frame: pd.DataFrame) -> None:
    model = ranker(name)
    assert method in resolve_methods(model, "all")
    out = _run(model, frame, method, reference)
    assert tuple(out.columns) == COLUMNS
    per_row = out.drop_duplicates(["tweet_id", "head"])
    n_rows = 1 if reference == "pair" else len(frame)
    n_targets = len(model.heads) + 1
    assert len(per_row) == n_rows * n_targets
    assert len(out) == len(per_row) * out["feature"].nunique()
    assert set(out["head"]) == {*model.heads, FINAL}
    # Completeness: sum of attributions = f(x) - f(reference) for every row and head.
    sums = out.groupby(["tweet_id", "head"], sort=False).agg(
        total=("attribution", "sum"), score=("score", "first"), ref=("reference_score", "first"),
        converged=("converged", "first"),
    )  # fmt: skip
    gap = (sums["total"] - (sums["score"] - sums["ref"])).abs()
    scale = (sums["score"] - sums["ref"]).abs()
    if method == "ig" and name in ("masknet",):
        # Numerical integration of a ReLU network converges as 1/points: the flag must tell
        # the truth. A converged row is within 1% of |f(x) - ref| (or the absolute floor) for
        # every head; an unconverged row misses it for at least one head.
        settings = AttributionSettings()
        limit = np.maximum(settings.tolerance * scale, settings.absolute_floor)
        converged = sums["converged"].groupby(level="tweet_id").first()
        worst = (gap / limit).groupby(level="tweet_id").max()  # 1 = exactly at the limit
        assert (worst[converged] <= 1 + 1e-6).all()
        assert (worst[~converged] > 1 - 1e-6).all()
        assert converged.mean() >= (0.3 if reference != "pair" else 0.0)  # 40%, 62% measured
    else:
        assert (gap <= 1e-5 * (1 + scale)).all(), gap.max()
    # The explained score is the ranker's own score.
    final = sums.xs(FINAL, level="head")["score"]
    rows = frame.set_index("tweet_id").loc[final.index]
    np.testing.assert_allclose(
        final.to_numpy(), model.score(rows.reset_index()), rtol=1e-5, atol=1e-6
    )
    # Deterministic: the same call gives the same numbers.
    pd.testing.assert_frame_equal(out, _run(model, frame, method, reference))


@pytest.mark.parametrize("name", ["linear", "torch_linear"])
@pytest.mark.parametrize("method", ["ig", "shap"])
@pytest.mark.parametrize("reference", ["global", "request"])
def test_linear_models_give_w_times_x_minus_reference(
    name: str, method: str, reference: str, ranker: Any, frame: pd.DataFrame
) -> None:
    out = _run(ranker(name), frame, method, reference)
    background = frame.sample(8, random_state=0)
    for request, rows in frame.groupby("request_id"):
        reference_rows = background if reference == "global" else rows
        expected = np.asarray(LINEAR_WEIGHTS) * (
            rows[NUMERIC].to_numpy() - reference_rows[NUMERIC].to_numpy().mean(axis=0)
        )
        got = (
            out.loc[out["request_id"] == request]
            .pivot_table(index="tweet_id", columns="feature", values="attribution", sort=False)
            .loc[rows["tweet_id"], NUMERIC]
        )
        np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["ig", "shap"])
def test_interaction_splits_half_and_half(method: str, ranker: Any, frame: pd.DataFrame) -> None:
    """f = x0 * x1 against one baseline b: both IG and Shapley give d0 * (b1 + d1 / 2)."""
    out = _run(ranker("product"), frame, method, "pair")
    a, b = _pair(frame)
    x = frame.set_index("tweet_id").loc[a, NUMERIC[:2]].to_numpy(dtype=float)
    base = frame.set_index("tweet_id").loc[b, NUMERIC[:2]].to_numpy(dtype=float)
    d = x - base
    expected = [d[0] * (base[1] + d[1] / 2), d[1] * (base[0] + d[0] / 2)]
    got = out.set_index("feature").loc[NUMERIC[:2], "attribution"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert out["vs_tweet_id"].unique().tolist() == [b]


def test_categorical_shapley_split_for_opaque_modules(ranker: Any, frame: pd.DataFrame) -> None:
    """Rows that differ from the baseline only in `client` get the whole gap on `client`."""
    model = ranker("category_shift")
    rows = frame.loc[frame["client"] != frame["client"].iat[0]].head(1).copy()
    base = rows.copy()
    base["client"] = frame["client"].iat[0]
    base["tweet_id"] = "baseline"
    both = pd.concat([rows, base], ignore_index=True)
    out = attribute_frame(
        model, both, methods=["ig"], reference="pair", pair=(rows["tweet_id"].iat[0], "baseline")
    ).frame
    score = out.loc[out["head"] == FINAL].set_index("feature")["attribution"]
    gap = model.score(rows) - model.score(base)
    assert score["client"] == pytest.approx(gap[0], rel=1e-5)
    assert score[NUMERIC[0]] == pytest.approx(0.0, abs=1e-7)


def test_ig_matches_captum(ranker: Any, frame: pd.DataFrame) -> None:
    """Our batched Gauss-Legendre IG equals captum's IntegratedGradients, same steps, on the
    numeric inputs of the built-in MaskNet (categories held fixed)."""
    import torch
    from captum.attr import IntegratedGradients

    from rankaudit.attribution.ig import TorchIntegratedGradients

    model = ranker("masknet")
    explainer = TorchIntegratedGradients(
        model, (FINAL,), AttributionSettings(ig_steps=16, ig_max_steps=16)
    )
    x_num, x_cat = model.encode(frame.head(6))
    b_num = torch.roll(x_num, 1, dims=0)
    ours = explainer._integrate([x_num], [b_num], [x_cat], 16, explainer._f_raw)[0]

    def forward(num: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        return explainer._f_raw(num, cat)[:, 0]

    theirs = IntegratedGradients(forward).attribute(
        x_num, baselines=b_num, additional_forward_args=(x_cat,), n_steps=16, method="gausslegendre"
    )
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_ig_is_not_offered_for_trees(ranker: Any, frame: pd.DataFrame) -> None:
    from rankaudit.errors import AttributionError

    assert resolve_methods(ranker("lightgbm"), "all") == ("shap",)
    with pytest.raises(AttributionError, match="use --method shap"):
        attribute_frame(ranker("lightgbm"), frame, methods=["ig"], reference="request")
    with pytest.raises(
        AttributionError, match=r"unknown head 'bookmark'.*valid: favorite, reply, score"
    ):
        attribute_frame(
            ranker("masknet"), frame, methods=["ig"], reference="request", heads=["bookmark"]
        )


def test_partition_task_is_picklable_and_equals_a_direct_call(
    frame: pd.DataFrame, tmp_path: Any
) -> None:
    """What an engine ships to workers: a config and options; the worker loads the model."""
    import pickle

    from rankaudit.attribution import AttributeTask
    from rankaudit.models import ModelConfig, load_ranker
    from rankaudit.models.linear import save_linear

    save_linear(tmp_path / "m.json", NUMERIC, LINEAR_WEIGHTS, 0.0, "identity")
    config = ModelConfig(name="linear", kind="linear", path=tmp_path / "m.json")
    model = load_ranker(config)
    task = AttributeTask(
        config=config, model_fingerprint=model.fingerprint, methods=("shap",),
        reference="request", heads=None, settings=SETTINGS,
    )  # fmt: skip
    shipped = pickle.loads(pickle.dumps(task))
    shipped.setup()
    pieces = list(shipped.pieces(frame))
    out = pd.concat([piece for piece, _ in pieces], ignore_index=True)
    expected = attribute_frame(
        model, frame, methods=["shap"], reference="request", settings=SETTINGS
    ).frame
    pd.testing.assert_frame_equal(out, expected)
    summary = shipped.combine([s for _, s in pieces])["completeness"]
    assert sum(r["rows"] for r in summary if r["head"] == "score") == len(frame)
