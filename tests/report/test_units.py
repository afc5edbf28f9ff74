"""Small pieces of the report: which tweets are explained pairwise and against whom, the
document's number format, and the command line's happy path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.compare import RequestComparison, compare_orderings
from rankaudit.report.document import dumps_document, normalize
from rankaudit.report.gather import biggest_movers, pair_partner
from tests.report.conftest import BUG_USER, DEMO


def _comparison(score_a: list[float], score_b: list[float]) -> RequestComparison:
    n = len(score_a)
    frame = pd.DataFrame(
        {
            "request_id": "r1",
            "user_id": "u1",
            "tweet_id": [f"t{i}" for i in range(n)],
            "author_id": "a1",
            "served_at": pd.Timestamp("2026-11-12", tz="UTC"),
            "label_favorite": 0,
        }
    )
    return compare_orderings(frame, np.array(score_a), np.array(score_b), heads={"favorite": 1.0})


def test_movers_and_their_partners() -> None:
    # a orders t0..t4; b lifts t4 to the top and swaps t1 and t2.
    comparison = _comparison([5, 4, 3, 2, 1], [4, 2.5, 3, 1, 9])
    assert biggest_movers(comparison, 3) == ["t4", "t1", "t0"]  # ties by tweet id
    # t4 overtook everyone under b; nearest to its new place (1st) is t0 (now 2nd).
    assert pair_partner(comparison, "t4") == "t0"
    assert pair_partner(comparison, "t1") == "t2"
    assert pair_partner(comparison, "t2") == "t1"
    same = _comparison([3, 2, 1], [3, 2, 1])
    assert biggest_movers(same, 3) == []
    assert pair_partner(same, "t0") is None


def test_normalize_rounds_and_cleans() -> None:
    value = {
        1: np.float32(1 / 3),
        "n": np.int64(4),
        "nan": float("nan"),
        "neg0": -0.0,
        "noise": -4e-10,
        "t": pd.Timestamp("2026-11-12T01:02:03Z"),
        "arr": np.array([1.23456789e-9, True]),
    }
    out = normalize(value)
    assert out == {
        "1": 0.333333,
        "n": 4,
        "nan": None,
        "neg0": 0.0,
        "noise": 0.0,
        "t": "2026-11-12T01:02:03+00:00",
        "arr": [1.23457e-09, 1.0],
    }
    assert math.copysign(1, out["neg0"]) == 1
    assert math.copysign(1, out["noise"]) == 1
    assert dumps_document({"b": 1, "a": [0.1]}) == b'{\n "a": [\n  0.1\n ],\n "b": 1\n}\n'
    with pytest.raises(TypeError, match="cannot write object"):
        normalize({"x": object()})


@pytest.mark.slow
def test_the_command_writes_html_and_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report", "--workspace", str(DEMO), "--user", BUG_USER, "--fast", "--movers", "1",
            "--importance-rows", "20", "--seed", "1", "--out", str(tmp_path / "r.html"),
            "--json", str(tmp_path / "r.json"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"wrote {tmp_path / 'r.html'}" in result.stdout
    assert "1 viewer(s)" in result.stdout
    assert "- explaining viewer 1/1" in result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["viewers"][0]["user_id"] == BUG_USER
    assert len(document["viewers"][0]["movers"]) == 1
    command = document["manifest"]["command"]
    assert "--user u000406 --seed 1 --fast --movers 1 --importance-rows 20" in command
    assert str(tmp_path) not in (tmp_path / "r.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]
