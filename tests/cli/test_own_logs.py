"""Logs as teams have them: without the optional columns, with extra ones, as CSV or Parquet.

Every command that reads the logs works on them (regression: a log without `tweet_text` or
`position` made compare --user, explain, report and demo --print fail with an Arrow error)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.conftest import small_log, write_workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return small_log(users=6, seed=11)


def _commands(viewer: str, out: Path) -> dict[str, list[str]]:
    return {
        "validate": ["validate"],
        "compare": ["compare", "--bootstrap", "20", "--permutations", "20", "--scope", "all"],
        "compare --user": ["compare", "--user", viewer],
        "surprises": ["surprises", "--scope", "all"],
        "explain": ["explain", "--user", viewer, "--vs", "baseline", "served"],
        "demo --print": ["demo", "--print", "--user", viewer],
        "report": ["report", "--user", viewer, "--out", str(out / "r.html"), "--fast",
                   "--vs", "baseline", "served", "--importance-rows", "40"],
    }  # fmt: skip


@pytest.mark.parametrize("log_name", ["timelines.parquet", "timelines.csv"])
@pytest.mark.parametrize(
    "drop", [("tweet_text",), ("position",), ("tweet_text", "position")], ids="-".join
)
def test_commands_work_without_optional_columns(
    log_name: str, drop: tuple[str, ...], tmp_path: Path, log: pd.DataFrame
) -> None:
    frame = log.drop(columns=list(drop)).assign(debug_field="x", label_bookmark=0)
    root = write_workspace(tmp_path / "ws", frame, log_name=log_name)
    if "position" in drop:
        # The served order needs the position column; compare the linear model with time.
        text = (root / "rankaudit.toml").read_text()
        (root / "rankaudit.toml").write_text(text.replace('[models.served]\nkind = "logged"\n', ""))
    viewer = str(frame["user_id"].iloc[0])
    for name, argv in _commands(viewer, tmp_path).items():
        if "position" in drop:
            argv = [a if a != "served" else "deep" for a in argv]
        result = runner.invoke(app, [argv[0], "--workspace", str(root), *argv[1:]])
        assert result.exit_code == 0, (name, result.stderr, result.exception)
        if name == "validate":
            assert "debug_field" in result.stdout
            assert "label_bookmark" in result.stdout
    assert (tmp_path / "r.html").stat().st_size > 10_000
