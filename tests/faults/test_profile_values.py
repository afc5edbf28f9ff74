"""A corrupted reference profile must not silence the drift gate (issue: replicates of
alternating +-1e12 turned a detected 15-point shift into "no drift")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.drift import read_profile
from rankaudit.errors import InputFileError

runner = CliRunner()


def _profile(tmp_path: Path) -> Path:
    """A real profile of a linear model on a small workspace."""
    from tests.conftest import small_log, write_workspace

    root = write_workspace(tmp_path / "ws", small_log(users=10, seed=2))
    out = tmp_path / "profile.json"
    result = runner.invoke(
        app,
        ["drift", "profile", "--workspace", str(root), "--model", "baseline", "--method", "shap",
         "--sample", "150", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


def _corrupt(path: Path, change: str) -> None:
    raw = json.loads(path.read_text())
    head = raw["heads"][0]
    replicates = raw["share_replicates_ppm"][head]
    first = raw["features"][0]
    if change == "huge replicates":
        replicates[first] = [(-1) ** i * 10**18 for i in range(len(replicates[first]))]
    elif change == "negative replicate":
        replicates[first][0] = -5
    elif change == "replicates not adding up":
        replicates[first] = [v + 300_000 for v in replicates[first]]
    elif change == "share above one":
        raw["importance"][head][0]["share"] = 1.5
    path.write_text(json.dumps(raw))


@pytest.mark.parametrize(
    "change",
    ["huge replicates", "negative replicate", "replicates not adding up", "share above one"],
)
def test_a_corrupted_profile_is_refused(tmp_path: Path, change: str) -> None:
    path = _profile(tmp_path)
    read_profile(path)  # the real one reads
    _corrupt(path, change)
    with pytest.raises(InputFileError, match=r"shares must lie in|add up to"):
        read_profile(path)
    result = runner.invoke(
        app, ["drift", "check", "--reference", str(path), "--current", str(path)]
    )
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "profile.json" in result.stderr
