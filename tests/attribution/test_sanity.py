"""The model-parameter randomisation test: explanations of the trained demo ranker share
nothing with those of re-initialised weights; explanations that ignore the weights fail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn
from typer.testing import CliRunner

from rankaudit.attribution.batch import sample_requests
from rankaudit.attribution.sanity import check_sanity, randomised_ranker, spearman_rows
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.cli import app
from rankaudit.errors import AttributionError
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    workspace = load_workspace(DEMO)
    return workspace, sample_requests(workspace, 40, seed=0)


class BufferScore(nn.Module):
    """A fixed function of the inputs whose weights are a buffer, not parameters: nothing that
    reset_parameters() touches, so its explanations cannot depend on "trained" weights."""

    weights: torch.Tensor

    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("weights", torch.linspace(-1.0, 1.0, n))
        self.unused = nn.Linear(n, 1)  # has parameters that get re-initialised, to no effect

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.log1p(x_num.abs()) @ self.weights)


def test_spearman_rows_equals_scipy_with_ties() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, size=(20, 9)).astype(float)  # many ties
    b = rng.normal(size=(20, 9))
    expected = [scipy.stats.spearmanr(a[i], b[i]).statistic for i in range(20)]
    np.testing.assert_allclose(spearman_rows(a, b), expected, rtol=1e-12, atol=1e-12)
    constant = spearman_rows(np.ones((1, 5)), b[:1, :5])
    assert np.isnan(constant[0])


def test_randomised_ranker_keeps_buffers_and_the_callers_rng(demo) -> None:  # type: ignore[no-untyped-def]
    workspace, _ = demo
    deep = workspace.ranker("deep")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, again = randomised_ranker(deep, seed=7), randomised_ranker(deep, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert first.fingerprint != deep.fingerprint
    trained, fresh = deep.module.state_dict(), first.module.state_dict()
    buffers = {name for name, _ in deep.module.named_buffers()}
    assert buffers  # the normalisation constants
    for name, value in trained.items():
        if name in buffers:
            assert torch.equal(value, fresh[name]), name
    parameters = [name for name, _ in deep.module.named_parameters()]
    assert all(not torch.equal(trained[n], fresh[n]) for n in parameters if trained[n].numel() > 1)
    for name, value in first.module.state_dict().items():  # seeded: the same weights again
        assert torch.equal(value, again.module.state_dict()[name]), name


def test_trees_are_not_supported_yet(demo) -> None:  # type: ignore[no-untyped-def]
    workspace, _ = demo
    with pytest.raises(AttributionError, match="not supported for trees yet"):
        randomised_ranker(workspace.ranker("baseline"), seed=0)


def test_the_demo_deep_ranker_passes(demo) -> None:  # type: ignore[no-untyped-def]
    workspace, rows = demo
    result = check_sanity(workspace.ranker("deep"), rows, settings=AttributionSettings(seed=0))
    table = result.to_frame().set_index("method")
    assert list(table.index) == ["ig", "shap"]
    assert (table["tweets"] == len(rows)).all()
    assert (table["undefined"] == 0).all()
    # Measured: ig -0.009, shap 0.023 on these 41 rows (2 requests).
    assert (table["median_spearman"].abs() <= 0.1).all(), table
    assert result.passed
    assert result.to_dict()["passed"] is True


def test_explanations_that_ignore_the_weights_fail(demo) -> None:  # type: ignore[no-untyped-def]
    workspace, rows = demo
    deep = workspace.ranker("deep")
    ranker = dataclasses.replace(
        deep, module=BufferScore(len(deep.numeric_features)), vocabularies={}, heads=(),
        head_weights={},
    )  # fmt: skip
    result = check_sanity(ranker, rows, settings=AttributionSettings(seed=0))
    medians = result.medians()
    # Trained and "randomised" explanations are the same numbers: Spearman 1 for every tweet.
    assert medians == pytest.approx({"ig": 1.0, "shap": 1.0}, abs=1e-12)
    assert not result.passed


def test_cli_gate_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["sanity", "--model", "deep", "-w", str(DEMO), "--sample", "10", "--method", "ig"]
    ok = runner.invoke(app, [*args, "--format", "json"])
    assert ok.exit_code == 0, (ok.stdout, ok.stderr)
    assert '"passed": true' in ok.stdout
    trees = runner.invoke(app, ["sanity", "--model", "baseline", "-w", str(DEMO), "--sample", "5"])
    assert trees.exit_code == 2
    assert "not supported for trees yet" in trees.stderr
    # A "randomisation" that changes nothing: the gate must fail.
    monkeypatch.setattr(
        "rankaudit.attribution.sanity.randomised_ranker", lambda ranker, *, seed: ranker
    )
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1, (failed.stdout, failed.stderr)
    assert "median Spearman 1.000" in failed.stdout
    assert "FAIL" in failed.stdout
