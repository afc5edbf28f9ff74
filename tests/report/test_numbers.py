"""The JSON twin holds the library's numbers: orderings, per-tweet and pairwise attributions
(against `explain_tweet`), the population summary, global importance, completeness."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

from rankaudit.attribution import FINAL, INTERACTIVE_SETTINGS
from rankaudit.compare import compare_population, compare_request, find_surprises
from rankaudit.explain import explain_tweet
from rankaudit.importance import attribute_sample, importance_table, sample_requests
from rankaudit.report import Report
from rankaudit.report.document import normalize
from rankaudit.workspace import Workspace
from tests.report.conftest import fast_settings


def close(actual: Any, expected: Any) -> bool:
    """Equal after the document's rounding (6 significant digits, noise below 1e-9 as 0)."""
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None
    return actual == pytest.approx(float(expected), rel=1e-5, abs=1e-9)


@pytest.fixture(scope="module")
def document(demo_report: Report) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(demo_report.json())
    return parsed


def test_orderings_equal_compare_request(demo: Workspace, document: dict[str, Any]) -> None:
    settings = fast_settings().validated()
    listed = find_surprises(demo, settings=settings.surprise).table.drop_duplicates("user_id")
    assert [v["request_id"] for v in document["viewers"]] == listed["request_id"].head(2).tolist()
    assert [v["surprise"]["rank"] for v in document["viewers"]] == listed["rank"].head(2).tolist()
    for viewer in document["viewers"]:
        expected = compare_request(demo, request=viewer["request_id"], settings=settings.compare)
        frame = expected.to_frame()
        tweets = viewer["tweets"]
        assert [t["tweet_id"] for t in tweets] == frame["tweet_id"].tolist()
        assert [t["position_a"] for t in tweets] == frame["position_a"].tolist()
        assert [t["displacement"] for t in tweets] == frame["displacement"].tolist()
        assert all(close(t["score_b"], s) for t, s in zip(tweets, frame["score_b"], strict=True))
        for key, value in expected.metrics.items():
            assert close(viewer["metrics"][key], value), key


def test_tweet_attributions_equal_explain_tweet(demo: Workspace, document: dict[str, Any]) -> None:
    viewer = document["viewers"][0]
    for tweet in (viewer["tweets"][0], viewer["tweets"][-1]):
        expected = explain_tweet(
            demo,
            request=viewer["request_id"],
            tweet=tweet["tweet_id"],
            settings=INTERACTIVE_SETTINGS,
        )
        for model in ("baseline", "deep"):
            table = expected.contributions(model)
            totals = expected.totals(model)
            for method, entry in tweet["attributions"][model].items():
                assert close(entry["score"], totals["score"])
                assert close(entry["reference_score"], totals["reference_score"])
                by_feature = table.set_index("feature")[method]
                for item in entry["top"]:
                    assert close(item["attribution"], by_feature[item["feature"]]), item
                shown = [item["feature"] for item in entry["top"]]
                largest = by_feature.abs().sort_values(ascending=False).index[: len(shown)]
                assert set(shown) == set(largest)
                rest = by_feature.drop(shown).sum()
                assert close(entry["rest"], rest)


def test_pairwise_explanations_equal_explain_tweet(
    demo: Workspace, document: dict[str, Any]
) -> None:
    viewer = document["viewers"][0]
    mover = viewer["movers"][0]
    assert abs(mover["displacement"]) == max(abs(t["displacement"]) for t in viewer["tweets"])
    expected = explain_tweet(
        demo,
        request=viewer["request_id"],
        tweet=mover["tweet_id"],
        vs_tweet=mover["vs_tweet_id"],
        settings=INTERACTIVE_SETTINGS,
    )
    # The two rankers order the pair differently: that is why it was chosen.
    a_above = mover["position_a"] < mover["vs_position_a"]
    b_above = mover["position_b"] < mover["vs_position_b"]
    assert a_above != b_above
    for model in ("baseline", "deep"):
        explained = mover["explanations"][model]
        totals = expected.totals(model)
        assert close(explained["gap"], totals["score"] - totals["reference_score"])
        for method, summary in explained["methods"].items():
            assert close(summary["sum"], totals[f"sum_{method}"])
        table = expected.contributions(model).set_index("feature")
        assert [c["feature"] for c in explained["contributions"]] != []
        for item in explained["contributions"]:
            for method in ("shap", "ig"):
                if method in item:
                    assert close(item[method], table.at[item["feature"], method])


def test_summary_equals_compare_population(demo: Workspace, document: dict[str, Any]) -> None:
    settings = fast_settings().validated()
    expected = compare_population(demo, settings=settings.compare)
    assert document["summary"] == json.loads(json.dumps(normalize(expected.to_dict())))


def test_importance_equals_the_library(demo: Workspace, document: dict[str, Any]) -> None:
    settings = fast_settings().validated()
    rows = sample_requests(
        demo, settings.importance_rows, seed=settings.seed, window=(demo.holdout_from, None)
    )
    long = pd.concat(
        [
            attribute_sample(
                demo, model, method=method, reference="global", heads=[FINAL],
                settings=settings.attribution, rows=rows,
            ).frame
            for model, method in (("baseline", "shap"), ("deep", "ig"), ("deep", "shap"))
        ],
        ignore_index=True,
    )  # fmt: skip
    expected = importance_table(long)
    imported = document["importance"]
    assert imported["rows"] == len(rows)
    got = {(r["model"], r["method"], r["feature"]): r for r in imported["table"]}
    assert len(got) == len(expected)
    for record in expected.to_dict("records"):
        mine = got[(record["model"], record["method"], record["feature"])]
        assert mine["rank"] == record["rank"]
        assert close(mine["share"], record["share"])
        assert close(mine["mean_abs"], record["mean_abs"])


def test_completeness_and_agreement_are_consistent(document: dict[str, Any]) -> None:
    rows = {(r["model"], r["method"], r["reference"]): r for r in document["completeness"]}
    tweets = sum(len(v["tweets"]) for v in document["viewers"])
    assert rows[("deep", "shap", "request")]["rows"] == tweets
    assert rows[("deep", "shap", "request")]["max_abs_error"] < 1e-6  # exact by construction
    assert rows[("baseline", "shap", "request")]["rows"] == tweets
    ig = rows[("deep", "ig", "request")]
    flagged = sum(
        not t["attributions"]["deep"]["ig"]["converged"]
        for v in document["viewers"]
        for t in v["tweets"]
    )
    assert ig["not_converged"] == flagged
    agreement = document["agreement"]["request"]["deep"]
    assert agreement["tweets"] == tweets
    assert 0.5 < agreement["median_pearson"] <= 1.0
    assert "baseline" not in document["agreement"]["request"]  # one method only
    assert {c["model"] for c in document["seed_sensitivity"]} == {"baseline", "deep"}
    tree = next(c for c in document["seed_sensitivity"] if c["model"] == "baseline")
    assert tree["mean_abs_change"] == 0.0  # TreeSHAP has no sampling noise


def test_manifest_names_no_machine_path(document: dict[str, Any], demo: Workspace) -> None:
    manifest = document["manifest"]
    text = json.dumps(document)
    assert str(demo.root) not in text
    assert str(demo.root.parent) not in text
    logs = manifest["workspace"]["logs"]["files"]
    assert [f["path"] for f in logs] == ["logs/timelines.parquet"]
    assert all(len(f["sha256"]) == 64 for f in logs)
    deep = next(m for m in manifest["workspace"]["models"] if m["name"] == "deep")
    assert deep["fingerprint"] == demo.ranker("deep").fingerprint
    assert {f["path"] for f in deep["files"]} >= {"models/deep/rankaudit-model.json"}
    assert manifest["attribution"]["methods"] == {"baseline": ["shap"], "deep": ["ig", "shap"]}
    assert manifest["attribution"]["settings"]["ig_steps"] == INTERACTIVE_SETTINGS.ig_steps
    assert manifest["packages"]["plotly"]
    assert manifest["selection"] == {"mode": "surprising", "n": 2, "viewers": 2}
    assert manifest["command"].startswith(
        "rankaudit report --workspace WORKSPACE_DIR --surprising 2"
    )
