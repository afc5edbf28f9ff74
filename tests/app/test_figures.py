"""Figure builders draw exactly the library's numbers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from rankaudit.compare import RequestComparison
from rankaudit.figures import (
    agreement_intervals,
    attribution_bars,
    attribution_waterfall,
    explained_difference,
    head_breakdown,
    head_quality,
    metric_intervals,
    position_slopegraph,
    segment_differences,
)
from rankaudit.views import ExplanationView, TimelineQuery, WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, BUG_VS


@pytest.fixture(scope="module")
def comparison(session: WorkspaceSession) -> RequestComparison:
    return session.timeline(BUG_USER, BUG_REQUEST).comparison


@pytest.fixture(scope="module")
def explained(session: WorkspaceSession) -> ExplanationView:
    return session.explanation(TimelineQuery(user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET))


def _segments(trace: go.Scatter) -> list[tuple[float, float]]:
    """(y at x=0, y at x=1) of every line of a gap-separated line trace."""
    ys = list(trace.y)
    assert all(np.isnan(ys[i + 2]) for i in range(0, len(ys), 3))
    return [(ys[i], ys[i + 1]) for i in range(0, len(ys), 3)]


def test_slopegraph_lines_join_both_positions(comparison: RequestComparison) -> None:
    figure = position_slopegraph(comparison, selected=BUG_TWEET)
    rows = comparison.rows
    up, down, same, selected, left, right = figure.data
    for trace, mask in (
        (up, rows["displacement"] > 0),
        (down, rows["displacement"] < 0),
        (same, rows["displacement"] == 0),
    ):
        expected = list(
            zip(
                rows.loc[mask, "position_a"].astype(float),
                rows.loc[mask, "position_b"].astype(float),
                strict=True,
            )
        )
        assert _segments(trace) == expected
        np.testing.assert_array_equal(trace.x, [0.0, 1.0, np.nan] * int(mask.sum()))
    bug = rows.loc[rows["tweet_id"] == BUG_TWEET].iloc[0]
    assert _segments(selected) == [(float(bug["position_a"]), float(bug["position_b"]))]
    assert (bug["position_a"], bug["position_b"]) == (33, 1)  # the walkthrough's numbers
    # Markers: a's positions on the left, b's on the right, tweet ids as customdata.
    assert list(left.y) == rows["position_a"].tolist()
    assert list(right.y) == rows["position_b"].tolist()
    assert list(left.customdata) == list(right.customdata) == rows["tweet_id"].tolist()
    assert set(left.x) == {0.0}
    assert set(right.x) == {1.0}
    # Negative feedback is a red diamond, engagement a filled circle.
    symbols = dict(zip(rows["tweet_id"], right.marker.symbol, strict=True))
    for tweet, relevance, negative in rows[["tweet_id", "relevance", "negative"]].itertuples(
        index=False
    ):
        assert symbols[tweet] == (
            "diamond" if negative else "circle" if relevance > 0 else "circle-open"
        )


def test_slopegraph_aligned_with_a_table(comparison: RequestComparison) -> None:
    figure = position_slopegraph(comparison, row_height=30, header_height=30)
    n = len(comparison.rows)
    assert figure.layout.height == 30 + 30 * n
    assert figure.layout.margin.t == 30
    assert figure.layout.margin.b == 0
    assert list(figure.layout.yaxis.range) == [n + 0.5, 0.5]  # one row per position
    assert len(figure.data) == 5  # no selected line
    assert figure.data[3].text is None  # no labels beside the table


def test_attribution_bars_show_the_contributions(explained: ExplanationView) -> None:
    figure = attribution_bars(explained.explanation, "deep", top=6)
    contributions = explained.contributions()
    shap, ig = figure.data
    assert shap.name == "SHAP"
    assert ig.name == "Integrated Gradients"
    top = contributions.head(6)
    labels = list(shap.y)
    assert labels[0] == "real_graph_weight = 2.95"
    assert labels[-1] == f"all other features ({len(contributions) - 6})"
    np.testing.assert_allclose(shap.x[:6], top["shap"].to_numpy())
    np.testing.assert_allclose(ig.x[:6], top["ig"].to_numpy())
    np.testing.assert_allclose(shap.x[6], contributions["shap"].iloc[6:].sum())
    # The bars add up to the explained gap, up to each method's completeness error.
    summary = explained_difference(explained.explanation, "deep")
    for trace, method in ((shap, "shap"), (ig, "ig")):
        assert sum(trace.x) == pytest.approx(summary.methods.loc[method, "total"], abs=1e-9)
        # (scores are stored in float32: 1e-6 of slack)
        assert abs(sum(trace.x) - summary.gap) <= summary.methods.loc[method, "error"] + 1e-6
    assert f"error {summary.methods.loc['ig', 'error']:.1e}" in figure.layout.title.text


def test_waterfall_runs_from_reference_to_score(explained: ExplanationView) -> None:
    figure = attribution_waterfall(explained.explanation, "deep", method="shap", top=5)
    (trace,) = figure.data
    summary = explained_difference(explained.explanation, "deep")
    assert trace.type == "bar"  # floating bars: the basic plotly.js bundle has no waterfall
    assert trace.x[0] == pytest.approx(summary.reference_score)
    assert trace.x[-1] == pytest.approx(summary.score)
    # The reference and the score stand on zero; each step starts where the last one ended.
    assert trace.base[0] == 0.0
    assert trace.base[-1] == 0.0
    ends = summary.reference_score + np.cumsum(trace.x[1:-1])
    np.testing.assert_allclose(trace.base[2:-1], ends[:-1])
    assert trace.base[1] == pytest.approx(summary.reference_score)
    # Exact for SHAP: reference + steps = score.
    assert summary.reference_score + sum(trace.x[1:-1]) == pytest.approx(summary.score, abs=1e-6)
    # A connector from each bar's end to the next row.
    lines = [s for s in figure.layout.shapes if s.type == "line"]
    assert [line.x0 for line in lines] == pytest.approx(
        [trace.base[1], *trace.base[2:-1], ends[-1]]
    )
    assert trace.y[1] == "real_graph_weight = 2.95"


def test_pair_title_says_above_or_below(session: WorkspaceSession) -> None:
    view = session.explanation(
        TimelineQuery(
            user=BUG_USER, request=BUG_REQUEST, tweet=BUG_TWEET, reference="pair", vs=BUG_VS
        )
    )
    title = attribution_bars(view.explanation, "deep").layout.title.text
    assert title.startswith(f"Why {BUG_TWEET} is above {BUG_VS} · deep")
    below = session.explanation(
        TimelineQuery(
            user=BUG_USER, request=BUG_REQUEST, tweet=BUG_VS, reference="pair", vs=BUG_TWEET
        )
    )
    assert (
        f"Why {BUG_VS} is below {BUG_TWEET}"
        in attribution_bars(below.explanation, "deep").layout.title.text
    )


def test_head_breakdown_is_weight_times_probability(comparison: RequestComparison) -> None:
    figure = head_breakdown(comparison, BUG_TWEET)
    position = comparison.rows.index[comparison.rows["tweet_id"] == BUG_TWEET][0]
    for trace, probabilities in zip(figure.data, comparison.probabilities, strict=True):
        assert probabilities is not None
        expected = [comparison.heads[h] * probabilities[h].iloc[position] for h in trace.y]
        np.testing.assert_allclose(trace.x, expected)
    deep = figure.data[1]
    assert sum(deep.x) == pytest.approx(comparison.rows.loc[position, "score_b"], rel=1e-6)


def test_population_figures_show_estimates_and_intervals(session: WorkspaceSession) -> None:
    population = session.overview().population
    figure = metric_intervals(population)
    a, b, diff = figure.data
    names = list(population.overall.ranker_metrics)
    assert list(a.y) == [f"NDCG@{n.split('@')[1]}" for n in names]
    for i, name in enumerate(names):
        metric = population.overall.ranker_metrics[name]
        assert a.x[i] == metric.a.mean
        assert b.x[i] == metric.b.mean
        assert diff.x[i] == metric.diff.mean
        assert b.error_x.array[i] == pytest.approx(metric.b.ci_high - metric.b.mean)
        assert b.error_x.arrayminus[i] == pytest.approx(metric.b.mean - metric.b.ci_low)
    segments = segment_differences(population, "ndcg@10")
    (trace,) = segments.data
    assert len(trace.x) == 1 + len(population.segments)
    assert trace.x[0] == population.overall.ranker_metrics["ndcg@10"].diff.mean
    assert trace.y[0].startswith("all requests")
    quality = head_quality(population)
    auc_a, auc_b = quality.data[0], quality.data[1]
    for head, value in zip(auc_b.y, auc_b.x, strict=True):
        assert value == population.heads["b"][head]["roc_auc"]
    assert list(auc_a.y) == list(population.heads["a"])
    agreement = agreement_intervals(population)
    assert agreement.data[0].x[0] == population.overall.agreement["kendall_tau_b"].estimate.mean
