"""`--device cuda` without a GPU: one line on stderr and exit 2, before any work, for every
command that explains torch rankers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rankaudit.cli import app

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()

COMMANDS = {
    "attribute": ["attribute", "--model", "deep", "--out", "{tmp}/out", "--sample", "5"],
    "explain": ["explain"],
    "drift profile": ["drift", "profile", "--model", "deep", "--out", "{tmp}/profile.json"],
    "drift check": ["drift", "check", "--reference", "{tmp}/missing.json", "--model", "deep"],
    "report": ["report", "--out", "{tmp}/report.html", "--sample", "5"],
    "serve": ["serve", "--port", "0"],
    "demo": ["demo", "--port", "0"],
    "sanity": ["sanity", "--model", "deep", "--sample", "5"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cuda_without_a_gpu_is_one_line_and_exit_2(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    result = runner.invoke(
        app, [*args, "--workspace", str(DEMO), "--device", "cuda"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no CUDA device is available" in lines[0]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written: the check comes first


def test_an_unknown_device_names_the_valid_ones() -> None:
    result = runner.invoke(app, ["explain", "--workspace", str(DEMO), "--device", "tpu"])
    assert result.exit_code == 2
    assert "must be one of auto, cpu, cuda, mps. Got 'tpu'" in result.stderr
