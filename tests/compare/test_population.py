"""The population comparison on the demo workspace, checked against independent computations:
evaluate_rankers for NDCG and per-head quality, pandas group-bys for segments."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.compare import (
    CompareSettings,
    ParameterError,
    PopulationComparison,
    compare_population,
    scored_from_scores,
    summarize_population,
)
from rankaudit.compare.evaluation import evaluate_rankers
from rankaudit.compare.population import FRAME_COLUMNS
from rankaudit.data.readers import read_timelines
from rankaudit.synth.features import DEMO_SPEC
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
FAST = CompareSettings(n_bootstrap=200, n_permutations=2000)


@pytest.fixture(scope="module")
def population() -> PopulationComparison:
    return compare_population(load_workspace(DEMO), settings=FAST)


def test_ndcg_and_heads_match_evaluate_rankers_on_the_holdout(
    population: PopulationComparison,
) -> None:
    workspace = load_workspace(DEMO)
    frame = read_timelines(workspace.logs, workspace.spec)
    holdout = frame.loc[frame["served_at"] >= workspace.holdout_from].reset_index(drop=True)
    rankers = {name: workspace.ranker(name) for name in ("baseline", "deep")}
    reference = evaluate_rankers(holdout, rankers, workspace.heads, k=10)
    assert population.scope == "holdout"
    assert population.requests == reference.requests
    assert population.rows == reference.rows
    ndcg = population.overall.ranker_metrics["ndcg@10"]
    assert ndcg.a.mean == pytest.approx(reference.ndcg["baseline"], abs=1e-9)
    assert ndcg.b.mean == pytest.approx(reference.ndcg["deep"], abs=1e-9)
    assert ndcg.diff.mean == pytest.approx(ndcg.b.mean - ndcg.a.mean, abs=1e-12)
    for side, name in (("a", "baseline"), ("b", "deep")):
        for head, values in reference.heads[name].items():
            for metric, value in values.items():
                assert population.heads[side][head][metric] == pytest.approx(value, abs=1e-9)


def test_intervals_and_p_values_are_sane(population: PopulationComparison) -> None:
    for summary in (population.overall, *population.segments):
        for metric in summary.ranker_metrics.values():
            for estimate in (metric.a, metric.b, metric.diff):
                assert estimate.ci_low <= estimate.mean <= estimate.ci_high
            assert 0 < metric.p_value <= 1
        for agreement in summary.agreement.values():
            assert (
                agreement.estimate.ci_low <= agreement.estimate.mean <= agreement.estimate.ci_high
            )
    # The deep ranker wins clearly on the demo: a tiny p-value and an interval above 0.
    overall = population.overall.ranker_metrics["ndcg@10"]
    assert overall.diff.ci_low > 0
    assert overall.p_value == pytest.approx(1 / (FAST.n_permutations + 1))


def test_segments_partition_requests_and_match_group_bys(population: PopulationComparison) -> None:
    table = population.per_request
    workspace = load_workspace(DEMO)
    frame = read_timelines(
        workspace.logs, workspace.spec, columns=["request_id", "served_at", "client", "in_network"]
    )
    frame = frame.loc[frame["served_at"] >= workspace.holdout_from]
    by_request = frame.groupby("request_id").agg(
        client=("client", "first"), share=("in_network", "mean")
    )
    names = {s.segmentation for s in population.segments}
    assert {"client", "in_network_share", "viewer_like_count_50d"} <= names
    for name in names:
        parts = [s for s in population.segments if s.segmentation == name]
        assert sum(s.requests for s in parts) == population.requests
    merged = table.set_index("request_id").join(by_request)
    for summary in population.segments:
        if summary.segmentation != "client":
            continue
        members = merged.loc[merged["client"] == summary.segment]
        assert summary.requests == len(members)
        ndcg = summary.ranker_metrics["ndcg@10"]
        assert ndcg.a.mean == pytest.approx(members["ndcg@10_a"].mean(), abs=1e-12)
        assert ndcg.n == members["ndcg@10_a"].notna().sum()
        tau = summary.agreement["kendall_tau_b"].estimate.mean
        assert tau == pytest.approx(members["kendall_tau_b"].mean(), abs=1e-12)
    thirds = {
        s.segment: s.requests for s in population.segments if s.segmentation == "in_network_share"
    }
    bins = np.minimum((merged["share"] * 3).astype(int), 2)
    expected = {
        "0-33%": (bins == 0).sum(),
        "33-67%": (bins == 1).sum(),
        "67-100%": (bins == 2).sum(),
    }
    assert thirds == {k: v for k, v in expected.items() if v}


def test_json_and_frame_keys_are_stable(population: PopulationComparison) -> None:
    doc = population.to_dict()
    json.dumps(doc, allow_nan=False)
    assert list(doc) == [
        "kind", "version", "models", "scope", "holdout_from", "requests", "rows", "users",
        "settings", "overall", "segments", "heads", "relevance",
    ]  # fmt: skip
    assert doc["relevance"]["kind"] == "engagement"
    assert doc["models"] == {"a": "baseline", "b": "deep"}
    assert list(doc["settings"]) == [
        "k",
        "p",
        "n_bootstrap",
        "n_permutations",
        "confidence",
        "seed",
    ]
    overall = doc["overall"]
    assert list(overall) == ["segmentation", "segment", "requests", "ranker_metrics", "agreement"]
    assert list(overall["ranker_metrics"]) == ["ndcg@5", "ndcg@10"]
    assert list(overall["ranker_metrics"]["ndcg@10"]) == ["n", "a", "b", "diff", "p_value"]
    assert list(overall["ranker_metrics"]["ndcg@10"]["a"]) == ["mean", "ci_low", "ci_high"]
    assert list(overall["agreement"]) == [
        "kendall_tau_b", "spearman", "rbo", "overlap@5", "overlap@10", "mean_abs_displacement",
    ]  # fmt: skip
    assert list(overall["agreement"]["rbo"]) == ["n", "mean", "ci_low", "ci_high"]
    assert list(doc["heads"]) == ["a", "b"]
    assert list(doc["heads"]["b"]["reply"]) == ["roc_auc", "pr_auc", "rce"]
    frame = population.to_frame()
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert len(frame) == (1 + len(population.segments)) * 8


def _synthetic(n_requests: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 15, n_requests)
    n = int(sizes.sum())
    return pd.DataFrame(
        {
            "request_id": np.repeat([f"r{i:04d}" for i in range(n_requests)], sizes),
            "user_id": np.repeat([f"u{i % 50:03d}" for i in range(n_requests)], sizes),
            "tweet_id": [f"t{i:06d}" for i in range(n)],
            "served_at": pd.Timestamp("2026-11-12T00:00:00Z"),
            "client": np.repeat(rng.choice(["ios", "web"], n_requests), sizes),
            "label_favorite": (rng.random(n) < 0.3).astype(np.int8),
        }
    )


def test_summaries_are_deterministic_and_seeded() -> None:
    frame = _synthetic()
    rng = np.random.default_rng(1)
    scored = scored_from_scores(
        frame, (rng.normal(size=len(frame)), rng.normal(size=len(frame))), {"favorite": 1.0}
    )
    first = summarize_population(scored, DEMO_SPEC, FAST)
    again = summarize_population(scored, DEMO_SPEC, FAST)
    other_seed = summarize_population(
        scored, DEMO_SPEC, CompareSettings(n_bootstrap=200, n_permutations=2000, seed=1)
    )
    assert first.to_frame().equals(again.to_frame())
    assert not first.to_frame().equals(other_seed.to_frame())
    assert [s.segment for s in first.segments] == ["ios", "web"]
    # Random scores: no real difference, so the test should not be significant.
    assert first.overall.ranker_metrics["ndcg@10"].p_value > 0.01


def test_scope_and_settings_are_checked(make_workspace: Callable[..., Path]) -> None:
    workspace = load_workspace(make_workspace())
    with pytest.raises(ParameterError, match="The 'scope' parameter of compare_population"):
        compare_population(workspace, scope="recent")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="The 'p' parameter of compare_population"):
        compare_population(workspace, settings=CompareSettings(p=1.2))
    with pytest.raises(ParameterError, match="The 'models' parameter"):
        compare_population(workspace, models=("baseline", "baseline"))
    # No holdout_from in this workspace: every request is compared.
    result = compare_population(workspace, settings=FAST)
    assert result.scope == "all"
    assert result.holdout_from is None
    assert result.heads["b"]["favorite"]["rce"] is None  # chronological: no probabilities
