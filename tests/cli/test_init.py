"""`rankaudit init`: a workspace scaffolded from a log or an svmlight file, written so that it
loads and validates; bad input gives exit 2, one line on stderr and nothing written."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import load_spec
from rankaudit.workspace import load_workspace
from tests.scaffold.letor import FEATURES, Letor, make_letor

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _train_lambdarank(
    frame: pd.DataFrame, features: list[str], label: np.ndarray, groups: list[int], path: Path
) -> Path:
    params = {
        "objective": "lambdarank",
        "num_leaves": 4,
        "min_data_in_leaf": 3,
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
        "seed": 0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = lgb.Dataset(frame[features], label=label, group=groups)
    lgb.train(params, dataset, num_boost_round=5).save_model(str(path))
    return path


# --- svmlight -------------------------------------------------------------------------------


def _svmlight_model(letor: Letor, path: Path) -> Path:
    frame = letor.expected(query_file=False)
    names = [f"f{i}" for i in range(1, FEATURES + 1)]
    return _train_lambdarank(frame, names, frame["relevance"].to_numpy(), list(letor.sizes), path)


@pytest.mark.parametrize("query_file", [False, True], ids=["qid", "query-file"])
def test_init_from_svmlight(tmp_path: Path, query_file: bool) -> None:
    letor = make_letor()
    data = letor.write(tmp_path / "train.txt", with_qid=not query_file)
    model = _svmlight_model(letor, tmp_path / "ranker.txt")
    out = tmp_path / "ws"
    args = ["init", "--from-svmlight", str(data), "--out", str(out), "--model", f"lgbm={model}"]
    if query_file:
        args += ["--query", str(letor.write_query(tmp_path / "train.txt.query"))]
    code, stdout, stderr = run(*args)
    assert code == 0, stderr
    assert "validate: ok, " in stdout
    assert "user_id is the request id" in stdout
    assert "served_at is 1970-01-01T00:00:00Z plus the query's index" in stdout
    assert "model lgbm: lightgbm" in stdout

    written = pd.read_parquet(out / "logs" / "train.parquet")
    expected = letor.expected(query_file=query_file)
    assert list(written.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    for column in ["relevance", *(f"f{i}" for i in range(1, FEATURES + 1))]:
        assert written[column].dtype == np.float64, column
    assert str(written["served_at"].dtype) == "datetime64[us, UTC]"

    workspace = load_workspace(out)
    assert workspace.relevance == GradedRelevance("relevance", "exponential")
    assert workspace.heads == {}
    assert workspace.logs.files == ((out / "logs" / "train.parquet").resolve(),)
    assert workspace.models["lgbm"].kind == "lightgbm"
    assert workspace.models["lgbm"].path == model.resolve()
    spec = load_spec(out / "features.yaml")
    assert spec.names == tuple(f"f{i}" for i in range(1, FEATURES + 1))
    assert {(f.kind, f.group, f.missing) for f in spec} == {("continuous", "features", "forbid")}
    config = tomllib.loads((out / "rankaudit.toml").read_text())
    assert config["models"]["lgbm"] == {"kind": "lightgbm", "path": "../ranker.txt"}
    assert config["logs"] == "logs/train.parquet"

    code, stdout, stderr = run("validate", "--workspace", str(out))
    assert code == 0, stderr
    assert f"{letor.rows} rows, {len(letor.sizes)} requests" in stdout


def test_single_document_requests_fail_validation_until_dropped(tmp_path: Path) -> None:
    letor = make_letor(single=True)
    data = letor.write(tmp_path / "s.txt")
    model = _svmlight_model(letor, tmp_path / "ranker.txt")
    out = tmp_path / "ws"
    code, stdout, stderr = run(
        "init", "--from-svmlight", str(data), "--out", str(out), "--model", f"m={model}"
    )
    # Written so that it can be fixed, but validation fails: exit 2, the problem on stderr.
    assert code == 2
    assert (out / "rankaudit.toml").is_file()
    assert "1 requests with a single candidate" in stderr
    assert "--drop-single" in stdout
    assert "Traceback" not in stderr

    code, stdout, stderr = run(
        "init", "--from-svmlight", str(data), "--out", str(out), "--model", f"m={model}",
        "--drop-single", "--force",
    )  # fmt: skip
    assert code == 0, stderr
    written = pd.read_parquet(out / "logs" / "s.parquet")
    assert str(letor.qids[4]) not in set(written["request_id"])
    assert len(written) == letor.rows - 1


# --- a team's own log -----------------------------------------------------------------------

REQUESTS, DOCS = 12, 8
NUMERIC = ["tweet_length", "tweet_age_minutes", "viewer_score", "has_image", "num_hashtags"]


def _own_log(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = REQUESTS * DOCS
    request = np.repeat(np.arange(REQUESTS), DOCS)
    score = rng.normal(size=rows)
    score[rng.choice(rows, size=7, replace=False)] = np.nan
    return pd.DataFrame(
        {
            "request_id": [f"r{r:02d}" for r in request],
            "user_id": [f"u{r // 2}" for r in request],
            "tweet_id": [f"t{i:03d}" for i in range(rows)],
            "author_id": [f"a{i % 9}" for i in range(rows)],
            "served_at": pd.Timestamp("2026-03-01T12:00:00Z")
            + pd.to_timedelta(request * 60, unit="s"),
            "position": np.tile(np.arange(1, DOCS + 1), REQUESTS),
            "tweet_length": np.round(rng.uniform(5, 280, rows), 1),
            "tweet_age_minutes": np.round(rng.exponential(90.0, rows), 2),
            "viewer_score": score,
            "viewer_country": rng.choice(["de", "fr", "jp", "us"], size=rows),
            "has_image": rng.integers(0, 2, rows),
            "num_hashtags": rng.integers(0, 4, rows),
            "label_click": rng.integers(0, 2, rows),
            "label_like": rng.integers(0, 2, rows),
        }
    )


def _write_log(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.assign(served_at=frame["served_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            path, index=False
        )
    else:
        frame.to_parquet(path, index=False)
    return path


def _own_model(frame: pd.DataFrame, path: Path) -> Path:
    label = (frame["label_click"] + frame["label_like"]).to_numpy()
    return _train_lambdarank(frame, NUMERIC, label, [DOCS] * REQUESTS, path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_init_from_a_log(tmp_path: Path, suffix: str) -> None:
    frame = _own_log()
    log = _write_log(frame, tmp_path / f"timelines{suffix}")
    model = _own_model(frame, tmp_path / "models" / "ranker.txt")
    out = tmp_path / "ws"
    code, stdout, stderr = run(
        "init", "--logs", str(log), "--model", f"baseline={model}", "--out", str(out)
    )
    assert code == 0, stderr
    assert f"guessed from all {len(frame)} rows of 1 log file(s)" in stdout
    assert "features: 6 (4 continuous, 1 categorical, 1 binary)" in stdout
    assert "heads: click, like (weight 1.0 each)" in stdout
    assert "model baseline: lightgbm (LightGBM text model)" in stdout
    assert "validate: ok, 96 rows, 12 requests, 6 users" in stdout
    assert "num_hashtags: whole numbers with 4 distinct values" in stdout
    assert "viewer_score: 7 missing value(s)" in stdout

    spec = load_spec(out / "features.yaml")
    guessed = {f.name: (f.kind, f.group, f.missing, f.fill_value) for f in spec}
    assert guessed == {
        "tweet_length": ("continuous", "tweet", "forbid", None),
        "tweet_age_minutes": ("continuous", "tweet", "forbid", None),
        "viewer_score": ("continuous", "viewer", "fill", 0.0),
        "viewer_country": ("categorical", "viewer", "forbid", None),
        "has_image": ("binary", "features", "forbid", None),
        "num_hashtags": ("continuous", "features", "forbid", None),
    }
    workspace = load_workspace(out)
    assert dict(workspace.heads) == {"click": 1.0, "like": 1.0}
    assert workspace.relevance is None
    assert workspace.models["baseline"].kind == "lightgbm"
    config = tomllib.loads((out / "rankaudit.toml").read_text())
    assert config["logs"] == f"../timelines{suffix}"
    assert config["models"]["baseline"]["path"] == "../models/ranker.txt"
    code, _, stderr = run("validate", "--workspace", str(out))
    assert code == 0, stderr


def test_a_log_that_fails_validation_is_written_and_exits_2(tmp_path: Path) -> None:
    frame = _own_log().drop(columns=["author_id"])
    log = _write_log(frame, tmp_path / "timelines.parquet")
    model = _own_model(frame, tmp_path / "ranker.txt")
    out = tmp_path / "ws"
    code, stdout, stderr = run(
        "init", "--logs", str(log), "--model", f"b={model}", "--out", str(out)
    )
    assert code == 2
    assert "column 'author_id': missing column" in stderr
    assert "Traceback" not in stderr
    assert "validate: 1 problem(s)" in stdout
    assert load_spec(out / "features.yaml").names[0] == "tweet_length"
    assert (out / "rankaudit.toml").is_file()


# --- bad input ------------------------------------------------------------------------------


def _files(root: Path) -> dict[str, Path]:
    letor = make_letor(seed=2, queries=3)
    frame = _own_log()
    return {
        "svm": letor.write(root / "ok.txt"),
        "plain": letor.write(root / "plain.txt", with_qid=False),
        "log": _write_log(frame, root / "log.parquet"),
        "nolabels": _write_log(
            frame.drop(columns=["label_click", "label_like"]), root / "nolabels.csv"
        ),
        "model": _own_model(frame, root / "ranker.txt"),
    }


def _text(name: str, text: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        (root / name).write_text(text)
        return root / name

    return make


BAD = {
    "non-numeric value": (["--from-svmlight", "{bad.txt}"], "bad.txt line 2: the entry '3:x'"),
    "bad qid": (["--from-svmlight", "{qid.txt}"], "qid.txt line 1: bad 'qid:a'"),
    "negative grade": (["--from-svmlight", "{neg.txt}"], "neg.txt line 2: the grade '-2'"),
    "empty file": (["--from-svmlight", "{empty.txt}"], "empty.txt: no data lines"),
    "sizes do not add up": (
        ["--from-svmlight", "{plain}", "--query", "{short.query}"],
        "short.query: the group sizes add up to 3 documents",
    ),
    "no qid, no query": (["--from-svmlight", "{plain}"], "plain.txt line 1: no qid:"),
    "no labels nor grades": (["--logs", "{nolabels}"], "no label_<head> columns and no numeric"),
    "missing log": (["--logs", "{nowhere.csv}"], "does not exist"),
    "model without name": (["--logs", "{log}", "--model", "{model}"], "expected NAME=PATH"),
    "missing model": (["--logs", "{log}", "--model", "m={nowhere.txt}"], "does not exist"),
    "unknown model file": (
        ["--logs", "{log}", "--model", "m={empty.txt}"],
        "cannot tell the model kind",
    ),
    "same model twice": (
        ["--logs", "{log}", "--model", "m={model}", "--model", "m={model}"],
        "is given twice",
    ),
    "no input": ([], "exactly one of --logs LOG or --from-svmlight FILE"),
    "both inputs": (["--logs", "{log}", "--from-svmlight", "{svm}"], "exactly one of"),
    "query with logs": (["--logs", "{log}", "--query", "{short.query}"], "--from-svmlight only"),
}
EXTRA = {
    "bad.txt": "1 qid:1 1:1\n0 qid:1 3:x\n",
    "qid.txt": "1 qid:a 1:1\n",
    "neg.txt": "1 qid:1 1:1\n-2 qid:1 1:2\n",
    "empty.txt": "",
    "short.query": "1\n2\n",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    files = {k: str(v) for k, v in _files(tmp_path).items()}
    for name, text in EXTRA.items():
        files[name] = str(_text(name, text)(tmp_path))
    files["nowhere.csv"] = str(tmp_path / "nowhere.csv")
    files["nowhere.txt"] = str(tmp_path / "nowhere.txt")
    template, expected = BAD[case]
    args = []
    for arg in template:
        for key, value in files.items():
            arg = arg.replace("{" + key + "}", value)
        args.append(arg)
    out = tmp_path / "ws"
    code, _, stderr = run("init", *args, "--out", str(out))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert expected in lines[0]
    assert "Traceback" not in stderr
    assert not out.exists()


def test_a_non_empty_out_folder_needs_force(tmp_path: Path) -> None:
    files = _files(tmp_path)
    out = tmp_path / "ws"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = [
        "init",
        "--logs",
        str(files["log"]),
        "--model",
        f"m={files['model']}",
        "--out",
        str(out),
    ]
    code, _, stderr = run(*args)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "the folder is not empty; pass --force" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    code, _, stderr = run(*args, "--force")
    assert code == 0, stderr
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "rankaudit.toml").is_file()
