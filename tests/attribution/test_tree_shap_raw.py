"""Tree SHAP in the score space the ranker uses: raw margins of rankers and regressors,
probabilities of binary classifiers.

References: the library's own predictions for scores and reference scores, completeness
(attributions add up to score - reference), and exact interventional Shapley values computed
by enumerating every coalition of the 12 features against each baseline.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution.base import targets_of
from rankaudit.attribution.groups import Group
from rankaudit.attribution.registry import make_attributor
from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.attribution.trees import TreeShapAttributor
from rankaudit.errors import AttributionError
from tests.models.test_tree_outputs import (
    CASES,
    DATA,
    FEATURES,
    N_DOCS,
    N_FEATURES,
    load,
    make_spec,
    scoring_frame,
    train,
    with_label,
)

ROWS = slice(0, 3 * N_DOCS)  # three queries explained
BASELINES = slice(3 * N_DOCS, 8 * N_DOCS)  # against five others
F32_EPS = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    folder = tmp_path_factory.mktemp("shap_trees")
    return {key: train(case, folder) for key, case in CASES.items()}


def _group() -> Group:
    frame = scoring_frame()
    return Group(rows=frame.iloc[ROWS], baselines=frame.iloc[BASELINES])


def _explain(ranker: Any, group: Group) -> Any:
    attributor = make_attributor(ranker, "shap", heads=None, settings=AttributionSettings())
    assert isinstance(attributor, TreeShapAttributor)
    return attributor.explain(group)


@pytest.mark.parametrize("key", CASES)
def test_attributions_add_up_in_the_rankers_space(
    trained: dict[str, tuple[Path, Any]], key: str
) -> None:
    case = CASES[key]
    path, estimator = trained[key]
    ranker = load(case, path)
    group = _group()
    explanation = _explain(ranker, group)
    reference = case.raw if ranker.output == "raw" else case.probability
    attributions = explanation.attributions[FINAL]
    scores = explanation.scores[FINAL]
    references = explanation.reference_scores[FINAL]
    assert attributions.shape == (len(group.rows), N_FEATURES)
    # Scores and the reference score are the library's own outputs, in the same space.
    np.testing.assert_allclose(scores, reference(estimator, group.rows), rtol=0, atol=1e-12)
    expected_reference = float(np.mean(reference(estimator, group.baselines)))
    np.testing.assert_allclose(references, expected_reference, rtol=0, atol=1e-12)
    np.testing.assert_allclose(attributions.sum(axis=1), scores - references, rtol=0, atol=1e-6)
    assert np.abs(attributions).max() > 0.01
    assert explanation.converged.all()


@pytest.mark.parametrize("key", ["lgb_lambdarank", "lgb_xendcg", "xgb_ranker", "lgb_regressor"])
def test_raw_values_are_the_exact_interventional_shapley_values(
    trained: dict[str, tuple[Path, Any]], key: str
) -> None:
    case = CASES[key]
    path, estimator = trained[key]
    ranker = load(case, path)
    frame = scoring_frame()
    rows, baselines = frame.iloc[[0, 7, 15]], frame.iloc[[40, 83]]
    explanation = _explain(ranker, Group(rows=rows, baselines=baselines))
    expected = _exact_shapley(lambda f: case.raw(estimator, f), rows, baselines)
    np.testing.assert_allclose(explanation.attributions[FINAL], expected, rtol=0, atol=1e-6)


def _exact_shapley(predict: Any, rows: pd.DataFrame, baselines: pd.DataFrame) -> np.ndarray:
    """Interventional Shapley values by enumeration: the mean over baselines b of the Shapley
    values of v(S) = f(x_S, b_rest), over every coalition S of the features."""
    n = N_FEATURES
    masks = np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool)  # 4096 coalitions
    sizes = masks.sum(axis=1)
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
                       for s in range(n)])  # fmt: skip
    index = {tuple(m): i for i, m in enumerate(masks)}
    out = np.zeros((len(rows), n))
    columns = list(FEATURES)
    for r, (_, row) in enumerate(rows[columns].iterrows()):
        for _, base in baselines[columns].iterrows():
            values = np.where(masks, row.to_numpy(), base.to_numpy())
            v = predict(pd.DataFrame(values, columns=columns))
            for j in range(n):
                without = np.flatnonzero(~masks[:, j])
                with_j = [index[(*m[:j], True, *m[j + 1 :])] for m in map(tuple, masks[without])]
                out[r, j] += np.sum(weight[sizes[without]] * (v[with_j] - v[without]))
    return out / len(baselines)


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_multihead_raw_final_score_is_the_weighted_sum(tmp_path: Path, kind: str) -> None:
    case = CASES["lgb_binary" if kind == "lightgbm" else "xgb_binary"]
    first, a = train(case, tmp_path, name="a")
    # A second head on another label: the documents above the median target.
    b = case.fit(DATA.frame, with_label(DATA, DATA.target > np.median(DATA.target)))
    second = tmp_path / f"b{case.suffix}"
    case.save(b, second)
    heads = {"fav": {"file": first.name, "weight": 0.5},
             "reply": {"file": second.name, "weight": -2.0}}  # fmt: skip
    manifest = {"format": "rankaudit-multihead", "heads": heads}
    (tmp_path / "heads.json").write_text(json.dumps(manifest))
    ranker = load(case, tmp_path / "heads.json", output="raw")
    group = _group()
    explanation = _explain(ranker, group)
    assert set(explanation.attributions) == {"fav", "reply", FINAL}
    for head, estimator in (("fav", a), ("reply", b)):
        np.testing.assert_allclose(
            explanation.scores[head], case.raw(estimator, group.rows), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            explanation.reference_scores[head],
            np.mean(case.raw(estimator, group.baselines)),
            rtol=0,
            atol=1e-12,
        )
    for target in ("fav", "reply", FINAL):
        scores = explanation.scores[target]
        # XGBoost adds its trees up in float32 and shap in float64: beyond 1e-6, the two may
        # differ by float32 rounding of the (here -2x weighted) margins.
        atol = 1e-6 if kind == "lightgbm" else max(1e-6, 4 * F32_EPS * np.abs(scores).max())
        np.testing.assert_allclose(
            explanation.attributions[target].sum(axis=1),
            scores - explanation.reference_scores[target],
            rtol=0,
            atol=atol,
        )
    np.testing.assert_allclose(
        explanation.attributions[FINAL],
        0.5 * explanation.attributions["fav"] - 2.0 * explanation.attributions["reply"],
        rtol=0,
        atol=1e-12,
    )
    one_head = TreeShapAttributor(ranker, targets_of(ranker, ["reply"])).explain(group)
    assert set(one_head.attributions) == {"reply"}
    np.testing.assert_array_equal(one_head.attributions["reply"], explanation.attributions["reply"])


@pytest.mark.parametrize("key", ["lgb_lambdarank", "xgb_ranker"])
def test_numpy_trained_booster_explains_like_the_dataframe_one(
    trained: dict[str, tuple[Path, Any]], tmp_path: Path, key: str
) -> None:
    case = CASES[key]
    path, _ = train(case, tmp_path, numpy=True)
    by_position = load(case, path, spec=make_spec())
    by_name = load(case, trained[key][0])
    group = _group()
    first, second = _explain(by_position, group), _explain(by_name, group)
    np.testing.assert_allclose(
        first.attributions[FINAL], second.attributions[FINAL], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(first.scores[FINAL], second.scores[FINAL], rtol=0, atol=1e-12)


def test_a_link_shap_does_not_know_is_refused_not_misexplained(tmp_path: Path) -> None:
    # sigmoid:2 predicts 1 / (1 + exp(-2 * margin)); shap's probability space assumes
    # sigmoid:1 and would explain another function.
    booster = lgb.train(
        {"objective": "binary", "sigmoid": 2.0, "num_leaves": 7, "min_data_in_leaf": 5,
         "deterministic": True, "num_threads": 1, "verbose": -1, "seed": 0},
        lgb.Dataset(DATA.frame, DATA.label),
        num_boost_round=20,
    )  # fmt: skip
    path = tmp_path / "sigmoid2.txt"
    booster.save_model(str(path))
    case = CASES["lgb_binary"]
    ranker = load(case, path)
    assert ranker.output == "probability"
    with pytest.raises(AttributionError) as info:
        _explain(ranker, _group())
    message = str(info.value)
    assert "sigmoid2.txt: shap's probability space for objective 'binary' does not match" in message
    assert message.endswith("set output = 'raw' for this model")
    raw = _explain(load(case, path, output="raw"), _group())
    np.testing.assert_allclose(
        raw.attributions[FINAL].sum(axis=1),
        raw.scores[FINAL] - raw.reference_scores[FINAL],
        rtol=0,
        atol=1e-6,
    )
