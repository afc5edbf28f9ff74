"""`rankaudit attribute --shap-groups`: SHAP plays the spec's feature groups.

On the 220-feature workspace of `tests.wide`, both rankers are linear, so the Shapley value of
a group is exactly the sum of its members' w_k (x_k - reference mean_k), whatever the sampled
permutations; the values add up to score - reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.wide import GROUP_SIZES, WideTruth, write_wide_workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> WideTruth:
    return write_wide_workspace(tmp_path_factory.mktemp("wide"))


@pytest.mark.parametrize("model", ["baseline", "deep"])
def test_group_values_are_the_exact_group_sums(wide: WideTruth, model: str, tmp_path: Path) -> None:
    out = tmp_path / "store"
    result = runner.invoke(
        app,
        ["attribute", "--workspace", str(wide.root), "--model", model,
         "--method", "shap", "--request", "r1", "--shap-groups", "--heads", "score",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)
    rows = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))])
    assert set(rows["feature"]) == set(GROUP_SIZES)
    assert rows["feature_value"].isna().all()
    request = wide.log.loc[wide.log["request_id"] == "r1"].reset_index(drop=True)
    for _, candidate in request.iterrows():
        truth = wide.attributions(model, candidate, request)
        expected = truth.groupby(pd.Series(wide.groups)).sum()
        got = rows.loc[rows["tweet_id"] == candidate["tweet_id"]].set_index("feature")
        np.testing.assert_allclose(
            got["attribution"].loc[expected.index], expected, rtol=0, atol=1e-5
        )
        gap = got["score"].iloc[0] - got["reference_score"].iloc[0]
        assert got["attribution"].sum() == pytest.approx(gap, abs=1e-5)


def test_groups_need_shap(wide: WideTruth, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["attribute", "--workspace", str(wide.root), "--model", "deep",
         "--method", "ig", "--request", "r1", "--shap-groups", "--out", str(tmp_path / "s")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--shap-groups applies to SHAP" in result.stderr
