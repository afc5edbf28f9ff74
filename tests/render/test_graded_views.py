"""Views of a workspace judged by graded relevance (a `[relevance]` column, no heads) say
"grade", not "engaged": the terminal timeline, the slopegraph's hover and markers, and the
report. The demo (engagement heads) keeps its wording."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from rich.console import Console
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.compare import compare_request
from rankaudit.figures import position_slopegraph
from rankaudit.render import timeline_table
from rankaudit.report import Report, build_report
from rankaudit.workspace import load_workspace
from tests.compare.test_graded import graded_log, write_graded_workspace
from tests.report.conftest import fast_settings

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture(scope="module")
def graded_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_graded_workspace(tmp_path_factory.mktemp("graded") / "ws")


def _grades(request: str) -> pd.Series:
    """The logged grades of one request, by tweet id."""
    log = graded_log()
    return log.loc[log["request_id"] == request].set_index("tweet_id")["relevance"]


def _text(renderable: object) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_timeline_table_shows_the_grade(graded_workspace: Path) -> None:
    comparison = compare_request(load_workspace(graded_workspace), request="q03")
    text = _text(timeline_table(comparison))
    assert "grade = judged relevance" in text
    assert "engaged" not in text
    header = next(line for line in text.splitlines() if "tweet" in line and "#" in line)
    assert header.rstrip(" ┃│").split()[-1] == "grade"
    grades = _grades("q03")
    shown = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if len(cells) == 10 and cells[3] in grades.index:
            shown[cells[3]] = cells[-1]
    assert shown == {t: f"{g:g}" for t, g in grades.items()}
    assert set(shown.values()) > {"0"}  # the fixture holds relevant and irrelevant tweets


def test_slopegraph_marks_and_hovers_the_grade(graded_workspace: Path) -> None:
    comparison = compare_request(load_workspace(graded_workspace), request="q03")
    spec = json.loads(pio.to_json(position_slopegraph(comparison), validate=False))
    grades = _grades("q03")
    expected = grades.loc[comparison.rows["tweet_id"]].to_numpy()
    for trace in (t for t in spec["data"] if t.get("customdata") is not None):
        hovers = trace["hovertext"]
        assert [re.search(r"grade: (\S+?)(<br>|$)", h).group(1) for h in hovers] == [
            f"{g:g}" for g in expected
        ]
        assert not any("engaged" in h for h in hovers)
        symbols = np.asarray(trace["marker"]["symbol"])
        assert (symbols == "circle").tolist() == (expected > 0).tolist()
        assert (symbols == "circle-open").tolist() == (expected == 0).tolist()


@pytest.fixture(scope="module")
def graded_report(graded_workspace: Path) -> Report:
    return build_report(graded_workspace, users=["u3"], settings=fast_settings(importance_rows=30))


def _markup(report: Report) -> str:
    page = report.html().decode("utf-8")
    return page.split("<body>", 1)[1].split('<script type="application/json"', 1)[0]


def test_report_says_grade_on_a_graded_workspace(graded_report: Report) -> None:
    page = _markup(graded_report)
    viewer = graded_report.document["viewers"][0]
    grades = _grades(viewer["request_id"])
    assert "Relevance is graded relevance (gain 2^g−1), judged in the log column" in page
    assert "engagement-weighted value of what the viewer did" not in page
    assert f"candidates · relevant: {int((grades > 0).sum())}" in page
    assert "engaged with" not in page
    assert "no engagement heads · relevance: graded relevance" in page
    assert "Filled markers: judged relevant (grade above 0)." in page
    assert "the viewer engaged" not in page
    table = page.split('<table class="dense tweets">', 1)[1].split("</table>", 1)[0]
    assert "<th>relevance</th>" in table
    assert "<th>engaged</th>" not in table
    shown = {}
    for row in table.split("<tr>")[2:]:
        tweet = re.search(r'<span class="mono">([^<]+)</span>', row)
        grade = re.search(r"<td>grade (\d+)</td>", row)
        assert tweet is not None, row
        assert grade is not None, row
        shown[html.unescape(tweet.group(1))] = grade.group(1)
    assert shown == {t: f"{g:g}" for t, g in grades.items()}
    if viewer["surprise"]:
        assert "demoted relevance" in page
        assert "promoted irrelevant" in page
        assert "demoted engagement" not in page
    assert "demoted_relevance 0.33, promoted_irrelevant 0.33" in page


def test_demo_keeps_the_engagement_wording() -> None:
    result = CliRunner().invoke(
        app, ["demo", "--workspace", str(DEMO), "--print"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.stderr
    assert "engaged = what the viewer did" in result.stdout
    assert "grade" not in result.stdout
    header = next(line for line in result.stdout.splitlines() if "tweet" in line and "#" in line)
    assert header.rstrip(" ┃│").split()[-1] == "engaged"
