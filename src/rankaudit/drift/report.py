"""Drift check outputs for CI: JUnit XML, a markdown summary, JSON; written atomically.

- JUnit: one `<testsuite>` per rule, one `<testcase>` per (rule, head, feature) (`top_k` and
  `rank_correlation` test the whole vector: one case per head, named "features"), a
  `<failure>` for each finding. Cases of feature groups have the class name
  `drift.<rule>.<head>.groups` (and "groups" for the whole vector). Readable by GitHub Actions
  reporters, GitLab, Jenkins.
- Markdown: a verdict line, the findings, and a GitHub-flavoured table of the biggest moves;
  fit for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
- JSON: `DriftResult.to_json()`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rankaudit.drift._io import write_text
from rankaudit.drift.check import DriftResult
from rankaudit.drift.rules import RULE_NAMES

__all__ = ["junit_xml", "markdown_summary", "write_text"]

#: Rows of the markdown moves table by default.
DEFAULT_TOP = 10


def junit_xml(result: DriftResult) -> str:
    """The JUnit XML document of a check: suites per rule, cases per (head, feature), failures
    for findings. No timestamps or durations, so the same check gives the same bytes."""
    cases = result.cases
    root = ET.Element(
        "testsuites",
        {
            "name": "rankaudit drift",
            "tests": str(len(cases)),
            "failures": str(sum(not c.passed for c in cases)),
            "errors": "0",
            "time": "0",
        },
    )
    for rule in RULE_NAMES:
        members = [c for c in cases if c.rule == rule]
        if not members:
            continue
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": f"drift.{rule}",
                "tests": str(len(members)),
                "failures": str(sum(not c.passed for c in members)),
                "errors": "0",
                "skipped": "0",
                "time": "0",
            },
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("reference", result.reference), ("current", result.current)):
            ET.SubElement(properties, "property", {"name": name, "value": value})
        for case in members:
            classname = f"drift.{rule}.{case.head}"
            if case.level == "group":
                classname += ".groups"
            element = ET.SubElement(
                suite, "testcase", {"classname": classname, "name": case.subject, "time": "0"}
            )
            if case.finding is not None:
                failure = ET.SubElement(
                    element, "failure", {"message": case.finding.message, "type": rule}
                )
                failure.text = case.detail
            else:
                ET.SubElement(element, "system-out").text = case.detail
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def markdown_summary(result: DriftResult, *, top: int = DEFAULT_TOP) -> str:
    """A markdown report: verdict, findings, and a table of the `top` biggest share moves
    (drifted features first), with the change in percentage points and its interval; a
    `level` column (feature or group) when the check looked at groups."""
    level = round(100 * result.rules.confidence)
    failed = len(result.findings)
    verdict = (
        f"**DRIFTED**: {failed} finding{'s' if failed != 1 else ''}"
        if failed
        else f"**passed**: no drift in {len(result.cases)} checks"
    )
    lines = [
        "## rankaudit drift check",
        "",
        verdict,
        "",
        f"- reference: `{result.reference}`",
        f"- current: `{result.current}`",
        f"- heads: {', '.join(result.heads)}; intervals: {level}% bootstrap over requests",
        "",
    ]
    if result.findings:
        lines += ["### Findings", ""]
        lines += [
            f"{i}. `{f.rule}` {_cell(f.message)}" for i, f in enumerate(result.findings, start=1)
        ]
        lines.append("")
    moves = result.moves.head(top)
    with_level = "level" in moves.columns
    lines += [
        "### Biggest moves",
        "",
        f"| head |{' level |' if with_level else ''} feature | share before | share after "
        f"| change (points) | {level}% interval | rank | drifted |",
        f"|---|{'---|' if with_level else ''}---|---:|---:|---:|---|---|---|",
    ]
    for row in moves.to_dict(orient="records"):
        kind = f" {row['level']} |" if with_level else ""
        lines.append(
            f"| {_cell(str(row['head']))} |{kind} {_cell(str(row['feature']))} "
            f"| {_pct(float(row['share_before']))} | {_pct(float(row['share_after']))} "
            f"| {_points(float(row['change']))} "
            f"| {_points(float(row['change_low']))} to {_points(float(row['change_high']))} "
            f"| {row['rank_before']} → {row['rank_after']} | {'yes' if row['drifted'] else 'no'} |"
        )
    lines.append("")
    return "\n".join(lines)
