"""Audit reports of a 220-feature model: every contribution line ends with "all other features
(K)", which makes it add up, and each mover is broken down by the spec's feature groups."""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

import pandas as pd
import pytest

from rankaudit.report import Report, build_report
from tests.report.conftest import fast_settings
from tests.wide import FEATURES, GROUP_SIZES, WideTruth, write_wide_workspace


@pytest.fixture(scope="module")
def wide_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[WideTruth, Report]:
    truth = write_wide_workspace(tmp_path_factory.mktemp("wide-report"))
    report = build_report(
        truth.root,
        requests=["r1"],
        settings=fast_settings(importance_rows=9, movers=1),
    )
    return truth, report


def _document(report: Report) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(report.json())
    return loaded


def test_contribution_lines_end_with_all_other_features(
    wide_report: tuple[WideTruth, Report],
) -> None:
    _, report = wide_report
    text = report.html().decode()
    viewer = _document(report)["viewers"][0]
    top = _document(report)["manifest"]["attribution"]["top_features"]
    for tweet in viewer["tweets"]:
        for model, methods in tweet["attributions"].items():
            for method, entry in methods.items():
                assert entry["features"] == 220
                assert len(entry["top"]) == top
                shown = sum(item["attribution"] for item in entry["top"]) + entry["rest"]
                gap = entry["score"] - entry["reference_score"]
                # The document rounds to 6 significant digits.
                assert shown == pytest.approx(gap, rel=1e-5, abs=1e-5), (model, method)
    # Each tweet's four lines, and each mover's rank table under the audited ranker.
    movers = len(viewer["movers"])
    assert text.count(f"all other features ({220 - top})") == len(viewer["tweets"]) * 4 + movers
    # The mover's bars: the 12 largest and the rest, in the figure data of the HTML.
    figures = re.findall(
        r'<script type="application/json" data-figure="fig-v0-m0-b">(.*?)</script>', text
    )
    (payload,) = figures
    bars = json.loads(payload)["data"]
    assert all(len(trace["y"]) == 13 for trace in bars)
    assert bars[0]["y"][-1] == "all other features (208)"


def test_movers_are_broken_down_by_feature_group(wide_report: tuple[WideTruth, Report]) -> None:
    truth, report = wide_report
    mover = _document(report)["viewers"][0]["movers"][0]
    log = truth.log.loc[truth.log["request_id"] == "r1"].set_index("tweet_id")
    for model in ("baseline", "deep"):
        explained = mover["explanations"][model]
        groups = explained["groups"]
        assert {g["group"]: g["members"] for g in groups} == GROUP_SIZES
        # The pair reference: w * (x_tweet - x_vs), summed by hand over each group.
        x = (
            log.loc[mover["tweet_id"], list(FEATURES)]
            - log.loc[mover["vs_tweet_id"], list(FEATURES)]
        )
        by_hand = (x * truth.weights[model]).groupby(pd.Series(truth.groups)).sum()
        for group in groups:
            for method in ("shap", "ig"):
                assert group[method] == pytest.approx(by_hand[group["group"]], rel=1e-5, abs=1e-5)
        sizes = [max(abs(g["shap"]), abs(g["ig"])) for g in groups]
        assert sizes == sorted(sizes, reverse=True)
        assert math.fsum(g["shap"] for g in groups) == pytest.approx(explained["gap"], abs=1e-4)
    text = report.html().decode()
    table = text.split('<table class="dense groups">', 1)[1].split("</table>", 1)[0]
    for name in GROUP_SIZES:
        assert f"<td>{html.escape(name, quote=False)}</td>" in table  # markup shown as text
    assert (
        "<b>history</b>"
        not in text.split("<body>", 1)[1].split('<script type="application/json"')[0]
    )
    assert "Σ all groups" in table
    assert "baseline SHAP" in table
    assert "deep IG" in table
