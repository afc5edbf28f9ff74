"""Graded relevance (a `[relevance]` column of grades 0-4): NDCG against sklearn's ndcg_score
(which takes the gain as y_true: the grade for linear gain, 2**g - 1 for exponential gain),
the explicit tweet-id tie-break, a workspace without heads through every compare path, and
surprises computed on the grades."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console
from sklearn.metrics import ndcg_score

from rankaudit.compare import (
    CompareSettings,
    SurpriseSettings,
    compare_orderings,
    compare_population,
    compare_request,
    find_surprises,
    score_surprises,
    scored_from_scores,
)
from rankaudit.compare.evaluation import evaluate_rankers
from rankaudit.compare.orderings import request_metrics
from rankaudit.compare.scoring import ENGAGEMENT, GRADE, relevance_label
from rankaudit.data.relevance import GradedRelevance
from rankaudit.errors import SchemaError
from rankaudit.models.linear import save_linear
from rankaudit.render.compare import population_tables, request_tables, surprises_table
from rankaudit.workspace import load_workspace

EXPONENTIAL = GradedRelevance(column="relevance", gain="exponential")
LINEAR = GradedRelevance(column="relevance", gain="linear")
#: Grades per request; r4 has no relevant candidate (NDCG undefined).
GRADES = {
    "r1": [3, 0, 2, 4, 1],
    "r2": [0, 1, 4, 0, 2, 3],
    "r3": [2, 2, 0, 1],
    "r4": [0, 0, 0],
}
FULL = max(len(g) for g in GRADES.values())
KS = (3, 5, FULL)


def graded_frame() -> pd.DataFrame:
    rows = []
    for r, (request, grades) in enumerate(GRADES.items()):
        for i, grade in enumerate(grades):
            rows.append(
                {
                    "request_id": request,
                    "user_id": f"u{r % 2}",
                    "tweet_id": f"{request}-t{i}",
                    "author_id": f"a{i % 3}",
                    "served_at": pd.Timestamp("2024-11-01", tz="UTC") + pd.Timedelta(hours=r),
                    "relevance": grade,
                }
            )
    return pd.DataFrame(rows)


def gains(grades: np.ndarray, graded: GradedRelevance) -> np.ndarray:
    return np.exp2(grades) - 1.0 if graded.gain == "exponential" else grades.astype(float)


def sklearn_ndcg(frame: pd.DataFrame, score: np.ndarray, graded: GradedRelevance, k: int) -> dict:
    """sklearn's NDCG@k per request, NaN where no candidate is relevant."""
    out = {}
    for request, rows in frame.groupby("request_id", sort=True):
        y = gains(rows["relevance"].to_numpy(), graded)
        s = score[rows.index.to_numpy()]
        out[request] = float(ndcg_score(y[None, :], s[None, :], k=k)) if y.sum() > 0 else np.nan
    return out


@pytest.mark.parametrize("graded", [EXPONENTIAL, LINEAR], ids=["exponential", "linear"])
def test_ndcg_equals_sklearn_on_graded_relevance(graded: GradedRelevance) -> None:
    frame = graded_frame()
    rng = np.random.default_rng(7)
    score_a, score_b = rng.normal(size=len(frame)), rng.normal(size=len(frame))
    assert len(np.unique(score_a)) == len(frame)
    assert len(np.unique(score_b)) == len(frame)
    scored = scored_from_scores(frame, (score_a, score_b), {}, graded=graded)
    rows = scored.rows
    np.testing.assert_array_equal(rows[GRADE], frame["relevance"].to_numpy(dtype=float))
    np.testing.assert_array_equal(rows["relevance"], gains(frame["relevance"].to_numpy(), graded))
    assert not rows["negative"].any()
    assert ENGAGEMENT not in rows  # no heads: nothing to show beside the grades
    table = request_metrics(scored, k=KS, p=0.9).set_index("request_id")
    assert table["engaged"].to_dict() == {"r1": 4, "r2": 4, "r3": 3, "r4": 0}
    for k in KS:
        for side, score in (("a", score_a), ("b", score_b)):
            expected = sklearn_ndcg(frame, score, graded, k)
            actual = table[f"ndcg@{k}_{side}"]
            for request, value in expected.items():
                if np.isnan(value):
                    assert np.isnan(actual[request])
                else:
                    assert actual[request] == pytest.approx(value, abs=1e-9), (k, side, request)
    # The one-request path agrees with the population kernel.
    one = frame[frame["request_id"] == "r2"].reset_index(drop=True)
    mask = (frame["request_id"] == "r2").to_numpy()
    single = compare_orderings(
        one, score_a[mask], score_b[mask], heads={}, graded=graded,
        settings=CompareSettings(k=KS),
    )  # fmt: skip
    for k in KS:
        assert single.metrics[f"ndcg@{k}_b"] == pytest.approx(table.at["r2", f"ndcg@{k}_b"])


def test_exponential_and_linear_gain_differ_as_sklearn_does() -> None:
    # One ordering, two gains: a grade-4 tweet below a grade-3 one costs more with 2**g - 1.
    frame = graded_frame()
    score = -np.arange(len(frame), dtype=float)  # log order
    values = {}
    for graded in (EXPONENTIAL, LINEAR):
        scored = scored_from_scores(frame, (score, score), {}, graded=graded)
        values[graded.gain] = request_metrics(scored, k=(3,), p=0.9).set_index("request_id")
        assert values[graded.gain].at["r1", "ndcg@3_a"] == pytest.approx(
            sklearn_ndcg(frame, score, graded, 3)["r1"], abs=1e-9
        )
    # r1 in log order: grades 3, 0, 2, ... ; the ideal is 4, 3, 2.
    exp_ndcg = (7 + 0 + 3 / 2) / (15 + 7 / np.log2(3) + 3 / 2)
    lin_ndcg = (3 + 0 + 2 / 2) / (4 + 3 / np.log2(3) + 2 / 2)
    assert values["exponential"].at["r1", "ndcg@3_a"] == pytest.approx(exp_ndcg, abs=1e-12)
    assert values["linear"].at["r1", "ndcg@3_a"] == pytest.approx(lin_ndcg, abs=1e-12)


def test_tied_scores_are_broken_by_tweet_id() -> None:
    # Equal scores: rankaudit orders by tweet id ascending (sklearn would average the ties).
    frame = graded_frame().loc[lambda f: f["request_id"] == "r1"].reset_index(drop=True)
    # Tweets r1-t0..t4 with grades 3, 0, 2, 4, 1; t1, t3 tied on top, t0, t4 tied below.
    score = np.array([1.0, 2.0, 0.5, 2.0, 1.0])
    result = compare_orderings(
        frame, score, -score, heads={}, graded=EXPONENTIAL, settings=CompareSettings(k=(2, 5))
    )
    rows = result.rows.set_index("tweet_id")
    assert rows["position_a"].to_dict() == {
        "r1-t1": 1, "r1-t3": 2, "r1-t0": 3, "r1-t4": 4, "r1-t2": 5,
    }  # fmt: skip
    # a's order by grade: 0, 4, 3, 1, 2 (gains 0, 15, 7, 1, 3); ideal 15, 7, 3, 1, 0.
    discount = 1 / np.log2(np.arange(2, 7))
    ideal = np.array([15, 7, 3, 1, 0]) @ discount
    assert result.metrics["ndcg@2_a"] == pytest.approx((15 * discount[1]) / (15 + 7 * discount[1]))
    assert result.metrics["ndcg@5_a"] == pytest.approx(
        np.array([0, 15, 7, 1, 3]) @ discount / ideal
    )
    # The same number as sklearn fed the tie-broken (strict) order.
    strict = -rows.loc[frame["tweet_id"], "position_a"].to_numpy(dtype=float)
    y = np.exp2(frame["relevance"].to_numpy()) - 1
    assert result.metrics["ndcg@5_a"] == pytest.approx(
        ndcg_score(y[None, :], strict[None, :]), abs=1e-12
    )
    assert result.metrics["ndcg@5_a"] != pytest.approx(ndcg_score(y[None, :], score[None, :]))


def test_surprise_uses_the_grades() -> None:
    frame = graded_frame()
    # An engagement label that contradicts the grades (only grade-0 tweets "engaged"): the
    # surprise must read the grades, not this label.
    frame["label_favorite"] = (frame["relevance"] == 0).astype(int)
    # Both rankers order every request by grade (ties by log order) ...
    score_a = np.zeros(len(frame))
    for _, rows in frame.groupby("request_id"):
        rank = np.argsort(np.argsort(-rows["relevance"].to_numpy(), kind="stable"))
        score_a[rows.index] = -rank
    score_b = score_a.copy()
    # ... except that b drops r2's grade-4 tweet to the bottom.
    r2 = frame.index[frame["request_id"] == "r2"]
    score_b[r2[frame.loc[r2, "relevance"].to_numpy().argmax()]] = -100.0
    scored = scored_from_scores(frame, (score_a, score_b), {"favorite": 0.5}, graded=EXPONENTIAL)
    # The engagement-weighted relevance is kept beside the graded one, for views only.
    assert scored.rows[ENGAGEMENT].tolist() == (0.5 * frame["label_favorite"]).tolist()
    surprises = score_surprises(scored, SurpriseSettings(k=3))
    table = surprises.table.set_index("request_id")
    assert surprises.table["request_id"].iat[0] == "r2"
    # demoted = sum rel * max(0, D(pos_a) - D(pos_b)) / sum rel * D(pos_a), rel = 2**g - 1:
    # r2 under a holds grades 4, 3, 2, 1, 0, 0; b moves the 4 from 1st to 6th.
    discount = 1 / np.log2(np.arange(2, 8))
    gained = np.array([15, 7, 3, 1, 0, 0]) @ discount[:6]
    lost = 15 * (discount[0] - discount[5])
    assert table.at["r2", "demoted_engagement"] == pytest.approx(lost / gained, abs=1e-12)
    for request in ("r1", "r3", "r4"):
        assert table.at[request, "demoted_engagement"] == 0.0
    # The tweet entering b's top 3 has grade 1: relevant, although its label is 0 (on the
    # label it would count as promoted unengaged, 1/3).
    assert table.at["r2", "promoted_unengaged"] == 0.0
    assert surprises.to_dict()["relevance"] == {
        "kind": "graded", "column": "relevance", "gain": "exponential",
        "label": "graded relevance (gain 2^g−1)",
    }  # fmt: skip


def test_bad_grades_raise_schema_errors() -> None:
    frame = graded_frame()
    scores = (np.zeros(len(frame)), np.zeros(len(frame)))
    with pytest.raises(SchemaError, match=r"'judged' .*not among the log columns"):
        scored_from_scores(frame, scores, {}, graded=GradedRelevance(column="judged"))
    frame.loc[3, "relevance"] = -1
    with pytest.raises(SchemaError, match=r"1 grade.*-1\.0 for tweet 'r1-t3'"):
        scored_from_scores(frame, scores, {}, graded=EXPONENTIAL)


# A workspace judged by graded relevance alone: [relevance], no [heads], two linear rankers.

SPEC = {
    "features": [
        {"name": "quality", "group": "tweet", "kind": "continuous", "missing": "forbid",
         "unit": "score", "description": "What the baseline ranks by."},
        {"name": "freshness", "group": "tweet", "kind": "continuous", "missing": "forbid",
         "unit": "score", "description": "What the deep ranker ranks by."},
    ]
}  # fmt: skip


def graded_log(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(12):
        for i in range(int(rng.integers(4, 9))):
            rows.append(
                {
                    "request_id": f"q{r:02d}",
                    "user_id": f"u{r % 4}",
                    "tweet_id": f"q{r:02d}-t{i}",
                    "author_id": f"a{int(rng.integers(0, 5))}",
                    "served_at": pd.Timestamp("2024-11-01", tz="UTC") + pd.Timedelta(hours=r),
                    "position": i + 1,
                    "quality": float(rng.normal()),
                    "freshness": float(rng.normal()),
                    "relevance": int(rng.integers(0, 5)),
                }
            )
    return pd.DataFrame(rows)


def write_graded_workspace(root: Path) -> Path:
    """A workspace judged by graded relevance with no heads: two one-feature linear rankers."""
    (root / "logs").mkdir(parents=True)
    graded_log().to_parquet(root / "logs" / "judged.parquet", index=False)
    (root / "features.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    save_linear(root / "models" / "baseline.json", ["quality"], [1.0])
    save_linear(root / "models" / "deep.json", ["freshness"], [1.0])
    (root / "rankaudit.toml").write_text(
        'name = "judged"\nlogs = "logs"\nspec = "features.yaml"\n\n'
        '[relevance]\ncolumn = "relevance"\ngain = "exponential"\n\n'
        '[models.baseline]\nkind = "linear"\npath = "models/baseline.json"\n\n'
        '[models.deep]\nkind = "linear"\npath = "models/deep.json"\n'
    )
    return root


@pytest.fixture
def graded_workspace(tmp_path: Path) -> Path:
    return write_graded_workspace(tmp_path / "graded")


FAST = CompareSettings(k=(3, 5), n_bootstrap=50, n_permutations=200)


def test_population_on_a_graded_workspace_without_heads(
    graded_workspace: Path, tmp_path: Path
) -> None:
    workspace = load_workspace(graded_workspace)
    assert workspace.heads == {}
    assert workspace.relevance == EXPONENTIAL
    log = graded_log()
    population = compare_population(workspace, settings=FAST, scope="all")
    assert population.scope == "all"
    assert population.requests == 12
    assert population.heads == {}
    for k in FAST.k:
        metric = population.overall.ranker_metrics[f"ndcg@{k}"]
        for side, feature in (("a", "quality"), ("b", "freshness")):
            expected = sklearn_ndcg(log, log[feature].to_numpy(), EXPONENTIAL, k)
            per_request = population.per_request.set_index("request_id")[f"ndcg@{k}_{side}"]
            for request, value in expected.items():
                assert per_request[request] == pytest.approx(value, abs=1e-9, nan_ok=True)
            mean = np.nanmean(list(expected.values()))
            estimate = metric.a if side == "a" else metric.b
            assert estimate.mean == pytest.approx(mean, abs=1e-9)
    doc = population.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["heads"] == {}
    assert doc["relevance"]["label"] == "graded relevance (gain 2^g−1)"
    # The partitioned run reads the grades back from its store: the same document.
    stored = compare_population(
        workspace, settings=FAST, scope="all", store=tmp_path / "store", partitions=3
    )
    assert stored.to_dict() == doc
    # Offline evaluation agrees too.
    evaluation = evaluate_rankers(
        log, {m: workspace.ranker(m) for m in ("baseline", "deep")}, {}, k=5, graded=EXPONENTIAL
    )
    assert evaluation.ndcg["baseline"] == pytest.approx(
        population.overall.ranker_metrics["ndcg@5"].a.mean, abs=1e-12
    )
    assert evaluation.heads == {"baseline": {}, "deep": {}}
    text = _render(population_tables(population))
    assert "graded relevance (gain 2^g−1)" in text
    assert "engagement" not in text
    assert "per-head" not in text


def test_request_and_surprises_on_a_graded_workspace(graded_workspace: Path) -> None:
    workspace = load_workspace(graded_workspace)
    log = graded_log()
    comparison = compare_request(workspace, request="q03", settings=CompareSettings(k=(3,)))
    rows = comparison.rows.set_index("tweet_id")
    judged = log.set_index("tweet_id").loc[rows.index]
    np.testing.assert_array_equal(rows[GRADE], judged["relevance"].to_numpy(dtype=float))
    np.testing.assert_array_equal(rows["relevance"], np.exp2(judged["relevance"]) - 1)
    assert not rows["negative"].any()
    q03 = log[log["request_id"] == "q03"].reset_index(drop=True)
    assert comparison.metrics["ndcg@3_b"] == pytest.approx(
        sklearn_ndcg(q03, q03["freshness"].to_numpy(), EXPONENTIAL, 3)["q03"], abs=1e-9
    )
    doc = comparison.to_dict()
    assert list(doc["tweets"][0]) == [
        "tweet_id", "author_id", "position_a", "position_b", "displacement", "score_a",
        "score_b", "relevance", "negative", "relevance_grade",
    ]  # fmt: skip
    assert len(doc["viewer_requests"]) == 3  # viewer u3: q03, q07, q11
    by_user = compare_request(workspace, user="u3", settings=CompareSettings(k=(3,)))
    assert by_user.user_id == "u3"
    text = _render(request_tables(comparison))
    assert "NDCG on graded relevance (gain 2^g−1)" in text
    assert "nobody engaged" not in text

    surprises = find_surprises(workspace, settings=SurpriseSettings(k=3), scope="all")
    assert surprises.requests == 12
    assert surprises.ranges is None
    text = _render(surprises_table(surprises, 5))
    assert "relevant ▼" in text
    assert "engaged" not in text


def test_relevance_labels() -> None:
    assert relevance_label(None) == "engagement-weighted relevance"
    assert relevance_label(EXPONENTIAL) == "graded relevance (gain 2^g−1)"
    assert relevance_label(LINEAR) == "graded relevance (gain g)"


def _render(renderable: object) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
