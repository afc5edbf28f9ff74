"""The bad-input corpus: every command that reads the logs checks them as `validate` does.

Each case breaks a fresh small workspace in one way; every command must then exit 2 with one
line on stderr that names the file, column or key, print no traceback and write nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.conftest import set_cell, small_log, use_pickled_torch_model, write_workspace

runner = CliRunner()

Breaker = Callable[[Path, pd.DataFrame], None]


@pytest.fixture(scope="module")
def base_log() -> pd.DataFrame:
    return small_log(users=8, seed=5)


def _log(
    change: Callable[[pd.DataFrame], pd.DataFrame], name: str = "timelines.parquet"
) -> Breaker:
    def breaker(root: Path, frame: pd.DataFrame) -> None:
        for old in (root / "logs").iterdir():
            old.unlink()
        write_workspace(root, change(frame), log_name=name)

    return breaker


def _toml(old: str, new: str) -> Breaker:
    def breaker(root: Path, _: pd.DataFrame) -> None:
        path = root / "rankaudit.toml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return breaker


def _file(relative: str, content: bytes) -> Breaker:
    return lambda root, _: (root / relative).write_bytes(content)


def _single_candidate(frame: pd.DataFrame) -> pd.DataFrame:
    first = frame["request_id"].iloc[0]
    rows = frame.index[frame["request_id"] == first]
    return frame.drop(index=rows[1:]).reset_index(drop=True)


def _graded(column_change: Callable[[pd.DataFrame], pd.DataFrame] | None) -> Breaker:
    """A graded-relevance workspace whose grades column is broken by `column_change`."""

    def breaker(root: Path, frame: pd.DataFrame) -> None:
        graded = frame.assign(relevance=np.arange(len(frame)) % 5)
        _log(column_change or (lambda f: f.drop(columns=["relevance"])))(root, graded)
        _toml("[heads]", '[relevance]\ncolumn = "relevance"\n\n[heads]')(root, frame)

    return breaker


def _jsonl_with_bad_line(root: Path, frame: pd.DataFrame) -> None:
    _log(lambda f: f.head(40), "timelines.jsonl")(root, frame)
    with (root / "logs/timelines.jsonl").open("a") as handle:
        handle.write('{"request_id": "r1", "oops\n')


#: case -> (how the workspace is broken, what the one line must say)
CASES: dict[str, tuple[Breaker, str]] = {
    "missing required column": (
        _log(lambda f: f.drop(columns=["served_at"])),
        "column 'served_at': missing column",
    ),
    "missing feature column": (
        _log(lambda f: f.drop(columns=["topic_similarity"])),
        "column 'topic_similarity': missing column",
    ),
    "missing label column": (
        _log(lambda f: f.drop(columns=["label_reply"])),
        "column 'label_reply': missing column (label of head 'reply'",
    ),
    "text in a numeric column": (
        _log(lambda f: f.assign(text_length="long")),
        "column 'text_length': wrong dtype",
    ),
    "text in a numeric CSV column": (
        _log(set_cell("tweet_fav_count", 7, "many"), "timelines.csv"),
        "timelines.csv: column 'tweet_fav_count': wrong dtype",
    ),
    "NaN where forbidden": (
        _log(set_cell("topic_similarity", 3, np.nan)),
        "column 'topic_similarity': 1 NaN/inf values",
    ),
    "inf where forbidden": (
        _log(set_cell("tweet_age_minutes", 4, np.inf)),
        "column 'tweet_age_minutes': 1 NaN/inf values",
    ),
    "NaN in a CSV feature": (
        _log(set_cell("topic_similarity", 3, np.nan), "timelines.csv"),
        "column 'topic_similarity': 1 NaN/inf values",
    ),
    "duplicate tweet in a request": (
        _log(lambda f: pd.concat([f, f.iloc[[5]]], ignore_index=True)),
        "1 duplicate (request_id, tweet_id) rows",
    ),
    "label of 2": (
        _log(set_cell("label_reply", 2, 2)),
        "column 'label_reply': 1 values outside {0, 1}",
    ),
    "binary feature of 2": (
        _log(set_cell("has_image", 2, 2)),
        "column 'has_image': 1 values outside {0, 1} in a binary",
    ),
    "one-candidate request": (_log(_single_candidate), "1 requests with a single candidate"),
    "position 0": (
        _log(set_cell("position", 0, 0)),
        "column 'position': 1 values are not integers >= 1",
    ),
    "served_at not a timestamp": (
        _log(
            lambda f: f.assign(
                served_at=f["served_at"].astype(str).where(f.index != 1, "yesterday")
            )
        ),
        "column 'served_at': 1 values are not timestamps",
    ),
    "missing request id": (
        _log(set_cell("request_id", 0, None)),
        "column 'request_id': 1 missing ids",
    ),
    "zero rows": (_log(lambda f: f.iloc[:0]), "the log has no rows"),
    "zero-row CSV": (_log(lambda f: f.iloc[:0], "timelines.csv"), "the log has no rows"),
    "malformed JSONL": (_jsonl_with_bad_line, "timelines.jsonl: cannot parse jsonl"),
    "corrupt parquet": (
        _file("logs/timelines.parquet", b"PAR1garbage"),
        "timelines.parquet: cannot",
    ),
    "graded column missing": (
        _graded(None),
        "column 'relevance': missing column (named by rankaudit.toml [relevance]",
    ),
    "negative grade": (
        _graded(set_cell("relevance", 3, -1)),
        "column 'relevance': 1 relevance grades are missing, infinite or negative",
    ),
    "malformed toml": (_toml('name = "tiny"', 'name = "tiny'), "rankaudit.toml: not valid TOML"),
    "unknown toml key": (_toml('name = "tiny"', 'name = "tiny"\nlog = "x"'), "unknown key 'log'"),
    "unknown model kind": (
        _toml('kind = "logged"', 'kind = "catboost"'),
        "unknown kind 'catboost'",
    ),
    "logs path missing": (_toml('logs = "logs"', 'logs = "nowhere"'), "'nowhere' does not exist"),
    "malformed spec": (
        _file("features.yaml", b"features:\n  - name: x\n    kind: fuzzy\n"),
        "features.yaml: features[0] (x): missing required key",
    ),
    "model reads features the spec lacks": (
        _file(
            "models/linear.json",
            b'{"format": "rankaudit-linear", "features": ["bogus_feature"], "coefficients": [1.0], "intercept": 0.0, "link": "identity"}',
        ),
        "model expects features missing from the spec: bogus_feature",
    ),
    "model file not JSON": (_file("models/linear.json", b"{not json"), "linear.json"),
    "pickled torch module": (
        lambda root, _: use_pickled_torch_model(root),
        "pickled whole nn.Module",
    ),
}


#: command -> argv after the workspace option; OUT is replaced by a path in the test's folder.
COMMANDS: dict[str, list[str]] = {
    "validate": ["validate"],
    "compare": ["compare", "--bootstrap", "20", "--permutations", "20"],
    "compare --user": ["compare", "--user", "VIEWER"],
    "surprises": ["surprises"],
    "explain": ["explain", "--user", "VIEWER"],
    "attribute": ["attribute", "--model", "baseline", "--sample", "20", "--out", "OUT/store"],
    "report": ["report", "--user", "VIEWER", "--out", "OUT/report.html"],
    "drift profile": ["drift", "profile", "--model", "baseline", "--out", "OUT/profile.json"],
    "demo --print": ["demo", "--print", "--user", "VIEWER"],
}


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_every_command(
    case: str, command: str, tmp_path: Path, base_log: pd.DataFrame
) -> None:
    root = write_workspace(tmp_path / "ws", base_log)
    breaker, expected = CASES[case]
    breaker(root, base_log)
    out = tmp_path / "out"
    out.mkdir()
    viewer = str(base_log["user_id"].iloc[0])
    argv = [a.replace("OUT", str(out)).replace("VIEWER", viewer) for a in COMMANDS[command]]
    argv = (
        [*argv[:2], "--workspace", str(root), *argv[2:]]
        if argv[0] == "drift"
        else [argv[0], "--workspace", str(root), *argv[1:]]
    )
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not any(out.iterdir()), "a failed command wrote output"
