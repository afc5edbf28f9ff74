"""The report explains its movers' ranks (`explain_rank`, audited ranker, request reference)
and gives each viewer the request's "why surprising" line (`explain_disagreement`), with the
library's numbers, adding up, and escaped in the HTML."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from rankaudit.attribution.disagreement import explain_disagreement, why_surprising
from rankaudit.attribution.rank import QUANTITIES, explain_rank
from rankaudit.compare import compare_request
from rankaudit.explain import explain_ranks
from rankaudit.report import Report
from rankaudit.report.document import normalize, rank_explanation
from rankaudit.report.html import render_html
from rankaudit.workspace import Workspace
from tests.report.conftest import fast_settings

#: Columns `compare_request` adds to the log rows (the report drops them before explaining).
ADDED = ["score_a", "score_b", "position_a", "position_b", "displacement"]

HOSTILE_FEATURE = '<img src=x onerror="window.__pwned=4">&amp;'
HOSTILE_TWEET = "t<script>window.__pwned=5</script>"
HOSTILE_LINE = 'disagreement 40% of pairs, mostly <b onmouseover="x()">f</b> (+20%)'


@pytest.fixture(scope="module")
def document(demo_report: Report) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(demo_report.json())
    return parsed


def _rows(demo: Workspace, request: str) -> Any:
    settings = fast_settings().validated()
    comparison = compare_request(demo, request=request, settings=settings.compare)
    return comparison.rows.drop(columns=ADDED)


def test_mover_ranks_equal_explain_rank_and_add_up(
    demo: Workspace, document: dict[str, Any]
) -> None:
    settings = fast_settings().validated()
    top = settings.top_features
    manifest = document["manifest"]["attribution"]
    assert manifest["rank"]["seed"] == settings.seed
    assert manifest["references"]["mover_ranks"] == "request"
    deep = demo.ranker("deep")
    checked = 0
    for viewer in document["viewers"]:
        rows = _rows(demo, viewer["request_id"])
        for mover in viewer["movers"]:
            entry = mover["rank_explanation"]
            expected = explain_rank(deep, rows, mover["tweet_id"], settings=settings.rank)
            # The library's values add up to the rank change exactly (up to the final division).
            change = expected.at_x["rank"] - expected.at_reference["rank"]
            assert math.fsum(expected.values["rank"]) == pytest.approx(change, abs=1e-9)
            assert entry == normalize(rank_explanation(expected, "deep", top))
            # The document: every player, equal to the direct call after its rounding.
            assert entry["players"] == normalize(expected.to_dict()["players"])
            assert entry["model"] == "deep"
            assert entry["at_x"]["rank"] == mover["position_b"]
            assert entry["change"]["rank"] == change
            assert len(entry["players"]) == len(deep.feature_names)
            # The shown players plus "all other features" add up to the change, per quantity,
            # up to the document's 6 significant digits.
            for q in QUANTITIES:
                shown = sum(p[q] for p in entry["players"][: entry["shown"]]) + entry["rest"][q]
                assert shown == pytest.approx(entry["change"][q], abs=1e-4), q
            checked += 1
    assert checked >= 2
    # The CLI's `explain --quantity rank` gives the same numbers.
    viewer = document["viewers"][0]
    mover = viewer["movers"][0]
    cli = explain_ranks(
        demo,
        quantity="rank",
        request=viewer["request_id"],
        tweet=mover["tweet_id"],
        settings=settings.rank,
    )
    assert (
        mover["rank_explanation"]["players"] == normalize(cli.results["deep"].to_dict())["players"]
    )


def test_rank_explanations_show_in_the_html(document: dict[str, Any], demo_report: Report) -> None:
    page = demo_report.html().decode("utf-8")
    for viewer in document["viewers"]:
        for mover in viewer["movers"]:
            entry = mover["rank_explanation"]
            at_x = int(entry["at_x"]["rank"])
            assert f"Why {mover['tweet_id']} sits at #{at_x} under deep" in page
            others = len(entry["players"]) - entry["shown"]
            assert f"all other features ({others})" in page
            change = f"{entry['change']['rank']:+.2f}".replace("-", "−")
            assert f"together {change} (rank Shapley values" in page


def test_why_surprising_equals_explain_disagreement(
    demo: Workspace, document: dict[str, Any], demo_report: Report
) -> None:
    settings = fast_settings().validated()
    baseline, deep = demo.ranker("baseline"), demo.ranker("deep")
    page = demo_report.html().decode("utf-8")
    for viewer in document["viewers"]:
        rows = _rows(demo, viewer["request_id"])
        expected = explain_disagreement(baseline, deep, rows, settings=settings.rank)
        assert viewer["why_surprising"] == expected.line(2)
        assert viewer["disagreement"] == normalize(expected.to_dict())
        assert viewer["why_surprising"].startswith("disagreement ")
        assert f"<b>Why surprising:</b> {expected.line(2)}" in page
    # The same line `rankaudit surprises` prints (the log's rows of the request).
    requests = [v["request_id"] for v in document["viewers"]]
    lines = why_surprising(demo, requests, settings=settings.rank)
    assert [v["why_surprising"] for v in document["viewers"]] == [lines[r] for r in requests]


def test_hostile_strings_are_escaped_in_the_rank_parts(demo_report: Report) -> None:
    document = copy.deepcopy(demo_report.document)
    viewer = document["viewers"][0]
    viewer["why_surprising"] = HOSTILE_LINE
    mover = viewer["movers"][0]
    mover["tweet_id"] = HOSTILE_TWEET
    mover["rank_explanation"]["tweet_id"] = HOSTILE_TWEET
    mover["rank_explanation"]["players"][0]["player"] = HOSTILE_FEATURE
    page = render_html(document, demo_report.figures).decode("utf-8")
    body = page.replace(get_plotlyjs(), "")
    for payload in (HOSTILE_FEATURE, HOSTILE_TWEET, HOSTILE_LINE, "<img src=x", "<b onmouseover"):
        assert payload not in body
    assert "&lt;img src=x onerror=&#34;window.__pwned=4&#34;&gt;&amp;amp;" in body
    assert "t&lt;script&gt;window.__pwned=5&lt;/script&gt;" in body
    assert "mostly &lt;b onmouseover=&#34;x()&#34;&gt;f&lt;/b&gt; (+20%)" in body
    assert body.count("<script>") == 2
