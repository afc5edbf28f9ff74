"""CI outputs: JUnit XML valid against a JUnit schema with one case per rule and feature,
a markdown summary with a GFM table, and JSON; all deterministic."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from rankaudit.drift import DriftRules, check_drift, junit_xml, markdown_summary, write_text
from rankaudit.errors import InputFileError
from tests.drift.conftest import FEATURES, SHARES, shifted, synthetic_profile

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))
RULES = DriftRules(min_shares={"h": 0.05})


@pytest.fixture(scope="module")
def drifted() -> object:
    return check_drift(
        synthetic_profile(seed=1), synthetic_profile(shifted(SHARES, 1, 0.02), seed=2), rules=RULES
    )


def test_junit_validates_and_has_a_case_per_rule_and_feature(drifted: object) -> None:
    text = junit_xml(drifted)  # type: ignore[arg-type]
    SCHEMA.validate(text)
    root = ET.fromstring(text)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [
        "drift.share_change", "drift.max_share", "drift.min_share", "drift.top_k",
        "drift.rank_correlation",
    ]  # fmt: skip
    shares = suites["drift.share_change"].findall("testcase")
    assert [c.get("name") for c in shares] == list(FEATURES)
    assert {c.get("classname") for c in shares} == {"drift.share_change.score"}
    failed = {c.get("name") for c in shares if c.find("failure") is not None}
    assert "b" in failed
    failure = next(c for c in shares if c.get("name") == "b").find("failure")
    assert failure is not None
    assert failure.get("type") == "share_change"
    assert "b share fell from 22." in str(failure.get("message"))
    assert int(root.get("tests", "0")) == len(drifted.cases)  # type: ignore[attr-defined]
    assert int(root.get("failures", "0")) == len(drifted.findings)  # type: ignore[attr-defined]
    assert [c.get("name") for c in suites["drift.min_share"].findall("testcase")] == ["h"]
    assert text == junit_xml(drifted)  # type: ignore[arg-type]


def test_junit_of_a_passing_check_validates() -> None:
    result = check_drift(synthetic_profile(seed=1), synthetic_profile(seed=2))
    text = junit_xml(result)
    SCHEMA.validate(text)
    root = ET.fromstring(text)
    assert root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_the_schema_rejects_a_broken_document() -> None:
    broken = '<testsuites><testsuite name="x" tests="one" failures="0" errors="0"/></testsuites>'
    assert not SCHEMA.is_valid(broken)


def test_junit_escapes_markup_in_names() -> None:
    features = ("a<b", 'q"uote', *FEATURES[2:])
    before = synthetic_profile(seed=1, features=features)
    after = synthetic_profile(shifted(SHARES, 0, 0.02), seed=2, features=features)
    text = junit_xml(check_drift(before, after))
    SCHEMA.validate(text)
    assert "a&lt;b" in text


def test_markdown_has_a_verdict_and_a_gfm_table(drifted: object) -> None:
    text = markdown_summary(drifted, top=5)  # type: ignore[arg-type]
    lines = text.splitlines()
    assert lines[0] == "## rankaudit drift check"
    assert lines[2].startswith("**DRIFTED**: ")
    header = lines.index(
        "| head | feature | share before | share after | change (points) | 95% interval | rank "
        "| drifted |"
    )
    assert lines[header + 1] == "|---|---|---:|---:|---:|---|---|---|"
    rows = lines[header + 2 : header + 7]
    assert len(rows) == 5
    assert all(r.startswith("| score | ") and r.count("|") == 9 for r in rows)
    assert rows[0].startswith("| score | b | 22.")
    assert rows[0].endswith("| 2 → 8 | yes |")
    assert "1. `share_change` score: b share fell from" in text


def test_markdown_of_a_passing_check() -> None:
    result = check_drift(synthetic_profile(seed=1), synthetic_profile(seed=2))
    text = markdown_summary(result)
    assert "**passed**: no drift in 18 checks" in text
    assert "### Findings" not in text
    assert text.count("\n| score | ") == 8


def test_json_and_atomic_writes(tmp_path: Path, drifted: object) -> None:
    path = write_text(tmp_path / "out.json", drifted.to_json())  # type: ignore[attr-defined]
    document = json.loads(path.read_text())
    assert document["format"] == "rankaudit-drift-check"
    assert document["passed"] is False
    assert document["findings"][0]["feature"] == "b"
    assert document["rules"]["min_share"]["features"] == {"h": 0.05}
    assert not list(tmp_path.glob(".*"))
    with pytest.raises(InputFileError, match=r"the output folder .* does not exist"):
        write_text(tmp_path / "missing" / "out.json", "{}")
