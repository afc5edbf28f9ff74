"""A tiny workspace to break, and `validate` run the two ways a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.conftest import small_log, write_workspace

REPO = Path(__file__).resolve().parents[2]
_FRAME: list[pd.DataFrame] = []


def make_workspace(root: Path) -> Path:
    """Write the tiny demo-like workspace of tests/conftest.py (6 viewers) under `root`."""
    if not _FRAME:
        _FRAME.append(small_log(users=6))
    return write_workspace(root, _FRAME[0])


def add_model(root: Path, name: str, kind: str, path: str, *extra: str) -> None:
    """Append a [models.<name>] table to the workspace's rankaudit.toml."""
    lines = [f"[models.{name}]", f'kind = "{kind}"', f'path = "{path}"', *extra]
    with (root / "rankaudit.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join(lines) + "\n")


def torch_folder(root: Path, manifest: dict[str, object], code: str | None = None) -> Path:
    """Write a torch model folder `root/models/m`: the manifest, the weights of a
    torch.nn.Linear(1, 1) and, when given, `code` as evil.py next to them."""
    import safetensors.torch
    import torch

    folder = root / "models" / "m"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    safetensors.torch.save_file(torch.nn.Linear(1, 1).state_dict(), str(folder / "w.safetensors"))
    (folder / "rankaudit-model.json").write_text(json.dumps(manifest))
    if code is not None:
        (folder / "evil.py").write_text(code)
    return folder


def cli(*argv: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(argv))
    return result.exit_code, result.stdout, result.stderr


def cli_process(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `python -m rankaudit` in a child process, so that what native libraries write to
    the process's stderr is seen too: (exit code, stdout, stderr)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    environment.pop("RANKAUDIT_TRUST_MODEL_CODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "rankaudit", *argv],
        capture_output=True,
        text=True,
        errors="replace",
        env=environment,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def one_error_line(stderr: str) -> str:
    """Return the single `error:` line of `stderr`; fail when there is anything else."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]
