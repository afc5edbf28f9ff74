"""`rankaudit drift profile` and `drift check`: exit 0 / 1 / 2, outputs written, and one clear
line on stderr for every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.drift import read_profile
from tests.drift.conftest import SHARES, shifted, synthetic_profile

runner = CliRunner()
SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["drift", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def _one_error_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, Path]:
    """Synthetic profiles on disk: two of the same model, one drifted, one made with SHAP."""
    paths = {
        "before": synthetic_profile(seed=1),
        "same": synthetic_profile(seed=2),
        "drifted": synthetic_profile(shifted(SHARES, 1, 0.02), seed=2),
        "shap": synthetic_profile(seed=2, method="shap"),
    }
    return {name: p.write(tmp_path / f"{name}.json") for name, p in paths.items()}


def test_profile_then_check_against_the_workspace(
    make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    workspace = make_workspace()
    out = tmp_path / "ref.json"
    code, stdout, err = invoke(
        "profile", "--workspace", str(workspace), "--model", "baseline", "--sample", "300",
        "--seed", "3", "--replicates", "50", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote {out}: ig against the request reference" in stdout
    assert "score: " in stdout
    profile = read_profile(out)
    assert profile.metadata["sample"]["seed"] == 3
    assert profile.metadata["bootstrap"]["replicates"] == 50
    # The same model, profiled again as the reference was: its shares have not moved, but
    # with three features one of them is above the default 40% cap.
    code, stdout, err = invoke(
        "check", "--reference", str(out), "--workspace", str(workspace), "--model", "baseline",
    )  # fmt: skip
    assert code == 1, err
    assert stdout.startswith(f"drift: 1 finding(s) (workspace tiny (model baseline) vs {out}")
    assert "[max_share] score: topic_similarity takes " in stdout
    rules = tmp_path / "drift.toml"
    rules.write_text("[max_share]\ndefault = 0.6\n")
    code, stdout, err = invoke(
        "check", "--reference", str(out), "--workspace", str(workspace), "--model", "baseline",
        "--rules", str(rules),
    )  # fmt: skip
    assert code == 0, err
    assert stdout.startswith("no drift: ")
    # The seed and size given explicitly: the same sample, no move at all.
    report = tmp_path / "check.json"
    code, stdout, err = invoke(
        "check", "--reference", str(out), "--workspace", str(workspace), "--model", "baseline",
        "--rules", str(rules), "--seed", "3", "--sample", "300", "--json", str(report),
    )  # fmt: skip
    assert code == 0, err
    assert {m["change"] for m in json.loads(report.read_text())["moves"]} == {0.0}
    # The window of the planted iOS unit bug: real_graph_weight gains share, but 13 requests
    # are too few for the interval to exclude zero.
    code, stdout, err = invoke(
        "check", "--reference", str(out), "--workspace", str(workspace), "--model", "baseline",
        "--rules", str(rules), "--since", "2026-11-13", "--json", str(report),
    )  # fmt: skip
    assert code == 0, err
    moves = {m["feature"]: m for m in json.loads(report.read_text())["moves"]}
    assert moves["real_graph_weight"]["change"] > 0.02
    assert moves["real_graph_weight"]["change_low"] < 0 < moves["real_graph_weight"]["change_high"]
    # Another model of the workspace ("deep" is chronological there) has other features.
    code, _, err = invoke(
        "check", "--reference", str(out), "--workspace", str(workspace), "--model", "deep",
    )  # fmt: skip
    _one_error_line(code, err, "different feature sets")


def test_check_passes_on_the_same_model(profiles: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "drift.xml"
    code, stdout, err = invoke(
        "check", "--reference", str(profiles["before"]), "--current", str(profiles["same"]),
        "--junit", str(junit),
    )  # fmt: skip
    assert code == 0, err
    assert "no drift: 18 checks passed" in stdout
    SCHEMA.validate(junit.read_text())


def test_check_exits_1_on_drift_and_writes_every_output(
    profiles: dict[str, Path], tmp_path: Path
) -> None:
    junit, markdown, report = tmp_path / "d.xml", tmp_path / "d.md", tmp_path / "d.json"
    code, stdout, err = invoke(
        "check", "--reference", str(profiles["before"]), "--current", str(profiles["drifted"]),
        "--junit", str(junit), "--markdown", str(markdown), "--json", str(report),
    )  # fmt: skip
    assert code == 1, err
    assert err == ""
    assert "drift: " in stdout.splitlines()[0]
    assert "[share_change] score: b share fell from" in stdout.splitlines()[1]
    SCHEMA.validate(junit.read_text())
    assert "| score | b | 22." in markdown.read_text()
    document = json.loads(report.read_text())
    assert document["passed"] is False
    assert document["findings"][0]["feature"] == "b"


def test_check_with_a_rules_file(profiles: dict[str, Path], tmp_path: Path) -> None:
    rules = tmp_path / "drift.toml"
    rules.write_text(
        "[share_change]\ntolerance = 0.5\n[top_k]\nenabled = false\n"
        "[rank_correlation]\nenabled = false\n"
    )
    code, stdout, err = invoke(
        "check", "--reference", str(profiles["before"]), "--current", str(profiles["drifted"]),
        "--rules", str(rules),
    )  # fmt: skip
    assert code == 0, (stdout, err)


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing reference", ("nope.json: profile file not found",)),
        ("malformed reference", ("bad.json: not valid JSON (line 1",)),
        ("mismatched", ("different methods (ig vs shap)", "shap.json")),
        ("malformed rules", ("drift.toml: not valid TOML",)),
        ("unknown rule key", ("drift.toml [top_k]: unknown key 'kk'", "allowed: enabled, k")),
        ("both current and model", ("exactly one of --current",)),
        ("neither current nor model", ("exactly one of --current",)),
        ("output folder", ("the output folder", "does not exist")),
        ("window with current", ("apply to --model only",)),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    profiles: dict[str, Path], tmp_path: Path, case: str, fragments: tuple[str, ...]
) -> None:
    reference, current = str(profiles["before"]), str(profiles["same"])
    args = ["check", "--reference", reference, "--current", current]
    if case == "missing reference":
        args[2] = str(tmp_path / "nope.json")
    elif case == "malformed reference":
        (tmp_path / "bad.json").write_text("{oops")
        args[2] = str(tmp_path / "bad.json")
    elif case == "mismatched":
        args[4] = str(profiles["shap"])
    elif case in ("malformed rules", "unknown rule key"):
        rules = tmp_path / "drift.toml"
        rules.write_text("[top_k\n" if case == "malformed rules" else "[top_k]\nkk = 1\n")
        args += ["--rules", str(rules)]
    elif case == "both current and model":
        args += ["--model", "deep"]
    elif case == "neither current nor model":
        args = args[:3]
    elif case == "output folder":
        args += ["--junit", str(tmp_path / "missing" / "out.xml")]
    elif case == "window with current":
        args += ["--since", "2026-11-13"]
    code, _, err = invoke(*args)
    _one_error_line(code, err, *fragments)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--model", "nope"), ("no model named 'nope'",)),
        (("--model", "baseline", "--method", "bogus"), ("unknown method 'bogus'",)),
        (("--model", "baseline", "--reference", "pair"), ("'request' or 'global' reference",)),
        (("--model", "baseline", "--heads", "reply"), ("unknown head 'reply'",)),
        (("--model", "baseline", "--since", "yesterday-ish"), ("'--since' option must be",)),
        (
            ("--model", "baseline", "--since", "2026-11-10", "--until", "2026-11-09"),
            ("--since (2026-11-10) must be before --until",),
        ),
        (("--model", "baseline", "--since", "2031-01-01"), ("no requests served in",)),
        (("--model", "baseline", "--sample", "0"), ("'rows' parameter of sample_requests",)),
    ],
)
def test_profile_bad_input(
    make_workspace: Callable[..., Path], tmp_path: Path, args: tuple[str, ...],
    fragments: tuple[str, ...],
) -> None:  # fmt: skip
    out = tmp_path / "p.json"
    code, _, err = invoke("profile", "--workspace", str(make_workspace()), "--out", str(out), *args)
    _one_error_line(code, err, *fragments)
    assert not out.exists()
