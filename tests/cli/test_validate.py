"""`rankaudit validate`: a clean workspace passes; each malformed input gives exit 2, one clear
line on stderr naming what and where, and no traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.conftest import set_cell, use_pickled_torch_model

runner = CliRunner()


def run_validate(workspace: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["validate", "--workspace", str(workspace)])
    return result.exit_code, result.stdout, result.stderr


def test_clean_workspace_prints_a_summary(
    make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    code, out, err = run_validate(make_workspace())
    assert code == 0, err
    assert f"{len(tiny_log)} rows, {tiny_log['request_id'].nunique()} requests, 30 users" in out
    assert "26 features" in out
    assert "model baseline: linear" in out


def _drop(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda f: f.drop(columns=[column])


def _duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[5]]], ignore_index=True)


def _single_candidate(frame: pd.DataFrame) -> pd.DataFrame:
    first = frame["request_id"].iloc[0]
    keep = (frame["request_id"] != first) | (
        frame.index == frame.index[frame["request_id"] == first][0]
    )
    return frame.loc[keep].reset_index(drop=True)


LOG_CASES = {
    "missing column": (_drop("served_at"), "column 'served_at': missing column"),
    "missing feature": (_drop("topic_similarity"), "column 'topic_similarity': missing column"),
    "wrong dtype": (lambda f: f.assign(text_length="long"), "column 'text_length': wrong dtype"),
    "NaN forbidden": (
        set_cell("topic_similarity", 3, np.nan),
        "column 'topic_similarity': 1 NaN/inf values",
    ),
    "inf forbidden": (
        set_cell("tweet_age_minutes", 4, np.inf),
        "column 'tweet_age_minutes': 1 NaN/inf values",
    ),
    "duplicate key": (_duplicate, "1 duplicate (request_id, tweet_id) rows"),
    "label outside 0/1": (
        set_cell("label_reply", 2, 2),
        "column 'label_reply': 1 values outside {0, 1}",
    ),
    "binary feature 2": (
        set_cell("has_image", 2, 2),
        "column 'has_image': 1 values outside {0, 1} in a binary",
    ),
    "single candidate": (_single_candidate, "1 requests with a single candidate"),
    "position zero": (
        set_cell("position", 0, 0),
        "column 'position': 1 values are not integers >= 1",
    ),
    "bad timestamp": (
        lambda f: f.assign(served_at=f["served_at"].astype(str).where(f.index != 1, "yesterday")),
        "column 'served_at': 1 values are not timestamps",
    ),
}


@pytest.mark.parametrize("case", list(LOG_CASES))
def test_malformed_logs(
    case: str, make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    change, expected = LOG_CASES[case]
    workspace = make_workspace(change(tiny_log))
    code, _, err = run_validate(workspace)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert "timelines.parquet" in lines[0] or "logs" in lines[0]
    assert "Traceback" not in err


def test_extra_columns_are_ignored_and_noted(
    make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    frame = tiny_log.assign(debug_flag=1, relevance=2.0, label_bookmark=0)
    code, out, err = run_validate(make_workspace(frame))
    assert code == 0, err
    assert (
        "note: 2 column(s) outside the contract and the spec are ignored: debug_flag, relevance"
        in out
    )
    assert "note: label column(s) of heads not in rankaudit.toml [heads] are ignored: " in out


def _break_toml(old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "rankaudit.toml"
        path.write_text(path.read_text().replace(old, new, 1))

    return edit


def _write(relative: str, content: bytes) -> Callable[[Path], None]:
    return lambda root: (root / relative).write_bytes(content)


WORKSPACE_CASES = {
    "malformed toml": (
        _break_toml('name = "tiny"', 'name = "tiny'),
        "rankaudit.toml: not valid TOML",
    ),
    "unknown key": (_break_toml('name = "tiny"', 'name = "tiny"\nlog = "x"'), "unknown key 'log'"),
    "unknown kind": (
        _break_toml('kind = "logged"', 'kind = "catboost"'),
        "unknown kind 'catboost'",
    ),
    "missing logs path": (
        _break_toml('logs = "logs"', 'logs = "nowhere"'),
        "'nowhere' does not exist",
    ),
    "malformed spec": (
        _write("features.yaml", b"features:\n  - name: x\n    kind: fuzzy\n"),
        "features.yaml: features[0] (x): missing required key",
    ),
    "corrupt parquet": (
        _write("logs/timelines.parquet", b"PAR1garbage"),
        "timelines.parquet: cannot",
    ),
    "model features differ": (
        _write(
            "models/linear.json",
            b'{"format": "rankaudit-linear", "features": ["bogus_feature"], "coefficients": [1.0],'
            b' "intercept": 0.0, "link": "identity"}',
        ),
        "model expects features missing from the spec: bogus_feature",
    ),
    "model file unreadable": (_write("models/linear.json", b"{not json"), "linear.json"),
    "pickled torch module": (use_pickled_torch_model, "pickled whole nn.Module"),
}


@pytest.mark.parametrize("case", list(WORKSPACE_CASES))
def test_malformed_workspaces(case: str, make_workspace: Callable[..., Path]) -> None:
    breaker, expected = WORKSPACE_CASES[case]
    workspace = make_workspace()
    breaker(workspace)
    code, _, err = run_validate(workspace)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert "Traceback" not in err


def test_csv_with_text_in_a_numeric_column(
    make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    frame = tiny_log.astype({"tweet_fav_count": object})
    frame.loc[7, "tweet_fav_count"] = "many"
    code, _, err = run_validate(make_workspace(frame, log_name="timelines.csv"))
    assert code == 2
    assert "timelines.csv: column 'tweet_fav_count': wrong dtype" in err


def test_malformed_jsonl_line(make_workspace: Callable[..., Path], tiny_log: pd.DataFrame) -> None:
    workspace = make_workspace(tiny_log.head(50), log_name="timelines.jsonl")
    with (workspace / "logs/timelines.jsonl").open("a") as handle:
        handle.write('{"request_id": "r1", "oops\n')
    code, _, err = run_validate(workspace)
    assert code == 2
    assert "timelines.jsonl: cannot parse jsonl" in err
    assert len(err.strip().splitlines()) == 1


def test_several_problems_are_all_listed(
    make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    frame = tiny_log.drop(columns=["hour_of_day"]).assign(label_reply=tiny_log["label_reply"] * 3)
    code, _, err = run_validate(make_workspace(frame))
    assert code == 2
    assert "column 'hour_of_day': missing column" in err
    assert "column 'label_reply'" in err
    assert "2 problems found" in err


def test_console_script_exit_code_and_no_traceback(make_workspace: Callable[..., Path]) -> None:
    workspace = make_workspace()
    (workspace / "rankaudit.toml").write_text("name = [\n")
    result = subprocess.run(
        [sys.executable, "-m", "rankaudit", "validate", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
