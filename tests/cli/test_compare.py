"""`rankaudit compare` and `rankaudit surprises` on the demo workspace: tables, stable JSON and
CSV, the planted bug near the top of the surprises, and one clear line with exit 2 on bad
input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.synth.world import planted_bug_rows

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()
WIDE = {"COLUMNS": "220"}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return pd.read_parquet(DEMO / "logs", columns=["request_id", "user_id", "client", "served_at"])


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [args[0], "--workspace", str(DEMO), *args[1:]], env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def test_compare_a_user_prints_both_orderings_and_the_metrics(log: pd.DataFrame) -> None:
    user = str(log["user_id"].iloc[300])
    code, out, err = invoke("compare", "--user", user)
    assert code == 0, err
    assert f"viewer {user}" in out
    for label in ("Kendall tau-b", "Spearman", "RBO (p = 0.9)", "top-5 overlap", "NDCG@10"):
        assert label in out
    assert "top-k entries and exits" in out


def test_compare_a_request_as_json_and_csv(log: pd.DataFrame) -> None:
    request = str(log["request_id"].iloc[1000])
    code, out, err = invoke(
        "compare", "--request", request, "--format", "json", "--k", "3", "--p", "0.8"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "request"
    assert doc["request_id"] == request
    assert doc["settings"] == {"k": [3], "p": 0.8}
    assert {"overlap@3", "ndcg@3_a", "ndcg@3_b", "rbo", "kendall_tau_b"} <= set(doc["metrics"])
    assert len(doc["tweets"]) == (log["request_id"] == request).sum()
    code, out, err = invoke(
        "compare", "--request", request, "--format", "csv", "--vs", "served", "deep"
    )
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    assert frame["position_b"].tolist() == list(range(1, len(frame) + 1))
    assert sorted(frame["position_a"]) == list(range(1, len(frame) + 1))


def test_population_summary_as_json_and_table() -> None:
    fast = ("--bootstrap", "100", "--permutations", "500")
    code, out, err = invoke("compare", "--format", "json", *fast)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "population"
    assert doc["scope"] == "holdout"
    assert doc["settings"]["n_bootstrap"] == 100
    ndcg = doc["overall"]["ranker_metrics"]["ndcg@10"]
    assert ndcg["b"]["mean"] > ndcg["a"]["mean"]
    assert ndcg["p_value"] < 0.01
    assert any(s["segmentation"] == "client" and s["segment"] == "ios" for s in doc["segments"])
    code, out, err = invoke("compare", *fast)
    assert code == 0, err
    for text in ("deep vs baseline", "by segment", "client = ios", "per-head ROC-AUC / RCE"):
        assert text in out


def test_surprises_lists_the_planted_bug_near_the_top(log: pd.DataFrame) -> None:
    buggy = set(log.loc[planted_bug_rows(log), "request_id"])
    code, out, err = invoke("surprises", "--top", "10", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    listed = [entry["request_id"] for entry in doc["top"]]
    assert len(listed) == 10
    assert listed[0] in buggy
    assert sum(r in buggy for r in listed) >= 7
    code, out, err = invoke("surprises", "--top", "10")
    assert code == 0, err
    assert listed[0] in out
    assert "real_graph_weight" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("compare", "--user", "u_nobody"), "unknown user 'u_nobody'"),
        (("compare", "--request", "r_nothing"), "unknown request 'r_nothing'"),
        (
            ("compare", "--k", "0"),
            "The 'k' parameter of compare_population must be an int >= 1. Got 0 instead.",
        ),
        (
            ("compare", "--user", "u000001", "--k", "0"),
            "The 'k' parameter of compare_request must be an int >= 1",
        ),
        (
            ("compare", "--p", "1.5"),
            "The 'p' parameter of compare_population must be a float in (0, 1). Got 1.5",
        ),
        (("compare", "--request", "r1", "--p", "0"), "must be a float in (0, 1). Got 0.0 instead."),
        (("compare", "--vs", "baseline", "gbdt"), "no model named 'gbdt'"),
        (("surprises", "--top", "0"), "The 'top' parameter of surprises must be an int >= 1"),
        (("surprises", "--k", "0"), "The 'k' parameter of find_surprises must be an int >= 1"),
        (
            ("surprises", "--p", "1"),
            "The 'p' parameter of find_surprises must be a float in (0, 1)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    code, _, err = invoke(*args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err
