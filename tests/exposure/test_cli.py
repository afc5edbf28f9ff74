"""`rankaudit exposure` on the demo workspace: table, JSON, CSV, the --fail-above gate (exit 1
/ 0) and one line with exit 2 on bad input. Uses chronological vs served (no model to load)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from rankaudit.cli import app

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()
WIDE = {"COLUMNS": "220"}
FAST = ("--vs", "chronological", "served", "--bootstrap", "200", "--permutations", "200")


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["exposure", "--workspace", str(DEMO), *args], env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def test_json_and_csv_agree_and_say_what_is_measured() -> None:
    code, out, err = invoke("--group", "in_network", *FAST, "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["models"] == {"reference": "chronological", "audited": "served"}
    assert "ranking stage on a fixed candidate pool" in document["measures"]
    groups = {g["group"]: g for g in document["groups"]}
    assert set(groups) == {"0", "1"}
    for g in groups.values():
        assert g["amplification_low"] <= g["amplification"] <= g["amplification_high"]
        assert abs(g["amplification"] - (g["reach_b"] / g["reach_a"] - 1)) < 1e-12
    code, out, _ = invoke("--group", "in_network", *FAST, "--format", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert frame["amplification"].tolist() == [
        groups["0"]["amplification"],
        groups["1"]["amplification"],
    ]


def test_table_lists_groups_with_intervals() -> None:
    code, out, err = invoke("--group", "author_follower_count:1000,10000", *FAST)
    assert code == 0, err
    for label in ("< 1000", "1000–10000", ">= 10000", "amplification", "disparity"):
        assert label in out
    assert "fixed candidate pool" in out


def test_fail_above_is_a_ci_gate() -> None:
    code, _, err = invoke("--group", "in_network", *FAST, "--format", "json", "--fail-above", "0")
    assert code == 1
    assert "amplification beyond ±0" in err
    code, _, err = invoke("--group", "in_network", *FAST, "--format", "json", "--fail-above", "50")
    assert code == 0, err


def test_bad_input_exits_2_with_one_line() -> None:
    for args in (
        ("--group", "no_such_column", *FAST),
        ("--group", "in_network", "--attention", "geometric:2", *FAST),
        ("--groups", "missing.csv", *FAST),
        FAST,
    ):
        code, out, err = invoke(*args)
        assert code == 2, (args, out, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
