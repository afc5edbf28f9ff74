"""Per-pair adaptive IG, every head in one vectorised backward, and the device setting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from rankaudit.attribution.groups import request_groups
from rankaudit.attribution.ig import TorchIntegratedGradients
from rankaudit.attribution.refine import schedule_cost, within_budget
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.errors import ParameterError
from rankaudit.models.torch_ranker import resolve_device

SETTINGS = AttributionSettings()
DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def _explain(model: Any, frame: pd.DataFrame, settings: AttributionSettings) -> Any:
    explainer = TorchIntegratedGradients(model, (*model.heads, "score"), settings)
    group = next(request_groups(frame, settings))
    return explainer, group, explainer.explain(group)


def test_the_converged_flag_tells_the_truth_and_refinement_only_helps(
    ranker: Any, frame: pd.DataFrame
) -> None:
    model = ranker("masknet")
    _, _, refined = _explain(model, frame, SETTINGS)
    _, _, single = _explain(model, frame, replace(SETTINGS, ig_max_steps=SETTINGS.ig_steps))
    expected = {t: refined.scores[t] - refined.reference_scores[t] for t in refined.scores}
    within = np.ones(len(refined.converged), dtype=bool)
    for target, values in refined.attributions.items():
        error = np.abs(values.sum(axis=1) - expected[target])
        within &= (error <= 0.01 * np.abs(expected[target])) | (error <= 1e-6)
    np.testing.assert_array_equal(refined.converged, within)
    assert refined.converged.sum() >= single.converged.sum()
    # Rows that converge at the first pass are untouched by refinement.
    for target, values in single.attributions.items():
        np.testing.assert_array_equal(
            values[single.converged], refined.attributions[target][single.converged]
        )


def test_one_backward_for_every_head_equals_one_backward_per_head(
    ranker: Any, frame: pd.DataFrame
) -> None:
    model = ranker("masknet")
    explainer = TorchIntegratedGradients(model, (*model.heads, "score"), SETTINGS)
    x_num, x_cat = model.encode(frame.head(8))
    b_num, b_cat = torch.roll(x_num, 1, dims=0), torch.roll(x_cat, 1, dims=0)
    explainer.batched_heads = False
    looped = explainer._pairs(x_num, x_cat, b_num, b_cat, 16)
    explainer.batched_heads = True
    batched = explainer._pairs(x_num, x_cat, b_num, b_cat, 16)
    assert explainer.batched_heads  # the built-in module batches under vmap
    for a, b in zip(looped, batched, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def test_the_budget_refines_the_worst_pairs_first_and_only_as_many_as_needed() -> None:
    over = np.array([[5.0, 1.0, 0.5, -1.0], [3.0, 3.0, 3.0, 3.0]])
    wanted = over > 0
    cost = np.full(over.shape, 128)
    chosen = within_budget(over, wanted, cost, np.array([1000, 256]))
    # Row 0: refining the 5.0 pair predicts 5.5 - 3.75 = 1.75 <= 0.8 * 4: one pair is enough.
    np.testing.assert_array_equal(chosen[0], [True, False, False, False])
    # Row 1 needs more than it can pay for: the budget stops it after two pairs.
    assert chosen[1].sum() == 2
    assert schedule_cost(32, 128) == 160
    assert schedule_cost(8, 8) == 8


def test_device_errors_are_one_line_and_settings_validate_it() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="'device' parameter"):
        AttributionSettings(device="tpu")  # type: ignore[arg-type]
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA device") as caught:
            resolve_device("cuda")
        assert "\n" not in str(caught.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu(ranker: Any, frame: pd.DataFrame) -> None:
    model = ranker("masknet")
    # One pass, no refinement: a row near the tolerance must not refine on one device only.
    settings = replace(SETTINGS, ig_max_steps=SETTINGS.ig_steps)
    _, _, cpu = _explain(model, frame, settings)
    _, _, cuda = _explain(model, frame, replace(settings, device="cuda"))
    for target, values in cpu.attributions.items():
        scale = np.abs(values).max()
        np.testing.assert_allclose(cuda.attributions[target], values, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cli_refuses_cuda_without_one_in_one_line(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from rankaudit.cli import app

    result = CliRunner().invoke(
        app, ["attribute", "--model", "deep", "--workspace", str(DEMO), "--all",
              "--out", str(tmp_path / "a.parquet"), "--device", "cuda"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no CUDA device" in result.output
    assert not (tmp_path / "a.parquet").exists()
