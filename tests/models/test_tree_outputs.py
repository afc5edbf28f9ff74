"""The score space of tree rankers (`output`) and boosters trained on numpy arrays.

One table of small learning-to-rank, regression and binary models, trained here and saved the
way users save them; the library's own predictions are the reference. The table and the
training helpers are shared with tests/attribution/test_tree_shap_raw.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from rankaudit.data.spec import Feature, FeatureSpec
from rankaudit.errors import ModelLoadError, UnknownKeyError, WorkspaceError
from rankaudit.models import ModelConfig, load_ranker

N_QUERIES, N_DOCS, N_FEATURES = 40, 10, 12
FEATURES = tuple(f"x{j:02d}" for j in range(N_FEATURES))
SOURCE = "rankaudit.toml [models.m]"


@dataclass(frozen=True)
class Data:
    """A seeded learning-to-rank set: 40 queries x 10 documents x 12 features."""

    frame: pd.DataFrame
    grades: np.ndarray  # relevance 0..3
    label: np.ndarray  # binary
    target: np.ndarray  # continuous
    qid: np.ndarray

    @property
    def group(self) -> list[int]:
        return [N_DOCS] * N_QUERIES


def make_data(seed: int = 3) -> Data:
    rng = np.random.default_rng(seed)
    n = N_QUERIES * N_DOCS
    x = rng.normal(size=(n, N_FEATURES))
    signal = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 2] * x[:, 3] + rng.normal(0.0, 0.5, n)
    return Data(
        frame=pd.DataFrame(x, columns=list(FEATURES)),
        grades=np.digitize(signal, [-0.5, 0.5, 1.5]),
        label=(signal > 0.0).astype(int),
        target=signal,
        qid=np.repeat(np.arange(N_QUERIES), N_DOCS),
    )


DATA = make_data()

_LGB = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1,
        "random_state": 0, "deterministic": True, "verbose": -1}  # fmt: skip
_XGB = {"n_estimators": 20, "max_depth": 3, "n_jobs": 1, "random_state": 0,
        "tree_method": "hist"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One model of the table: how to fit it and what the ranker should report."""

    id: str
    kind: str
    objective: str  # as the library names it in the saved model
    default_output: str
    fit: Callable[[Any, Data], Any]  # (features, data) -> fitted sklearn-API estimator

    @property
    def suffix(self) -> str:
        return ".txt" if self.kind == "lightgbm" else ".json"

    def save(self, estimator: Any, path: Path) -> None:
        if self.kind == "lightgbm":
            estimator.booster_.save_model(str(path))
        else:
            estimator.save_model(str(path))

    def raw(self, estimator: Any, frame: pd.DataFrame) -> np.ndarray:
        """The library's own raw margin for `frame` (its feature columns)."""
        x = frame[list(FEATURES)]
        if self.kind == "lightgbm":
            return np.asarray(estimator.predict(x, raw_score=True), dtype=np.float64)
        return np.asarray(estimator.predict(x, output_margin=True), dtype=np.float64)

    def probability(self, estimator: Any, frame: pd.DataFrame) -> np.ndarray:
        """The library's own positive-class probability for `frame`."""
        x = frame[list(FEATURES)]
        if hasattr(estimator, "predict_proba"):
            return np.asarray(estimator.predict_proba(x)[:, 1], dtype=np.float64)
        return np.asarray(estimator.predict(x), dtype=np.float64)  # cross_entropy: sigmoid


CASES = {
    c.id: c
    for c in [
        Case("lgb_lambdarank", "lightgbm", "lambdarank", "raw",
             lambda x, d: lgb.LGBMRanker(objective="lambdarank", **_LGB).fit(x, d.grades, group=d.group)),
        Case("lgb_xendcg", "lightgbm", "rank_xendcg", "raw",
             lambda x, d: lgb.LGBMRanker(objective="rank_xendcg", **_LGB).fit(x, d.grades, group=d.group)),
        Case("lgb_regressor", "lightgbm", "regression", "raw",
             lambda x, d: lgb.LGBMRegressor(**_LGB).fit(x, d.target)),
        Case("lgb_binary", "lightgbm", "binary", "probability",
             lambda x, d: lgb.LGBMClassifier(**_LGB).fit(x, d.label)),
        Case("lgb_cross_entropy", "lightgbm", "cross_entropy", "probability",
             lambda x, d: lgb.LGBMRegressor(objective="cross_entropy", **_LGB).fit(x, d.label)),
        Case("xgb_ranker", "xgboost", "rank:ndcg", "raw",
             lambda x, d: xgb.XGBRanker(objective="rank:ndcg", **_XGB).fit(x, d.grades, qid=d.qid)),
        Case("xgb_regressor", "xgboost", "reg:squarederror", "raw",
             lambda x, d: xgb.XGBRegressor(objective="reg:squarederror", **_XGB).fit(x, d.target)),
        Case("xgb_binary", "xgboost", "binary:logistic", "probability",
             lambda x, d: xgb.XGBClassifier(objective="binary:logistic", **_XGB).fit(x, d.label)),
    ]
}  # fmt: skip
RAW_CASES = [k for k, c in CASES.items() if c.default_output == "raw"]
BINARY_CASES = [k for k, c in CASES.items() if c.default_output == "probability"]


def make_spec(names: tuple[str, ...] = FEATURES, categorical: tuple[str, ...] = ()) -> FeatureSpec:
    return FeatureSpec(
        features=tuple(
            Feature(n, "categorical" if n in categorical else "continuous", "doc", "", "")
            for n in names
        ),
        source="features.yaml",
    )


def train(case: Case, folder: Path, *, numpy: bool = False, name: str = "") -> tuple[Path, Any]:
    """Fit `case` (on the DataFrame, or on its numpy array) and save it; return (file, model)."""
    x = DATA.frame.to_numpy() if numpy else DATA.frame
    estimator = case.fit(x, DATA)
    path = folder / f"{name or case.id}{'_np' if numpy else ''}{case.suffix}"
    case.save(estimator, path)
    return path, estimator


def load(case: Case, path: Path, spec: FeatureSpec | None = None, **options: object) -> Any:
    return load_ranker(
        ModelConfig("m", case.kind, path=path, options=options, source=SOURCE, spec=spec)
    )


def scoring_frame() -> pd.DataFrame:
    """The data as a log holds it: other columns around, another column order, another index."""
    frame = DATA.frame[list(reversed(FEATURES))].copy()
    frame.insert(0, "request_id", [f"q{q}" for q in DATA.qid])
    frame.index = pd.RangeIndex(5000, 5000 + len(frame))
    return frame


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    folder = tmp_path_factory.mktemp("trees")
    return {key: train(case, folder) for key, case in CASES.items()}


# --- the default space ------------------------------------------------------------------------


@pytest.mark.parametrize("key", CASES)
def test_default_output_follows_the_objective(
    trained: dict[str, tuple[Path, Any]], key: str
) -> None:
    case = CASES[key]
    path, estimator = trained[key]
    ranker = load(case, path)
    frame = scoring_frame()
    scores = ranker.score(frame)
    assert ranker.output == case.default_output
    assert scores.dtype == np.float64
    if case.default_output == "raw":
        reference = case.raw(estimator, frame)
        assert scores.min() < 0.0  # margins, not probabilities
    else:
        reference = case.probability(estimator, frame)
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-12)
    assert len(np.unique(scores)) > 20  # the model learned something
    assert f"({case.objective})" in ranker.description
    space = "raw margin" if case.default_output == "raw" else "probability"
    assert ranker.description.endswith(f"{space} scores")
    assert ranker.notes == ()


@pytest.mark.parametrize("key", CASES)
def test_raw_output_is_the_library_margin(trained: dict[str, tuple[Path, Any]], key: str) -> None:
    case = CASES[key]
    path, estimator = trained[key]
    ranker = load(case, path, output="raw")
    frame = scoring_frame()
    assert ranker.output == "raw"
    np.testing.assert_allclose(ranker.score(frame), case.raw(estimator, frame), rtol=0, atol=1e-12)


@pytest.mark.parametrize("key", BINARY_CASES)
def test_binary_classifier_raw_vs_probability(
    trained: dict[str, tuple[Path, Any]], key: str
) -> None:
    case = CASES[key]
    path, _ = trained[key]
    frame = scoring_frame()
    default = load(case, path)
    probability = load(case, path, output="probability")
    raw = load(case, path, output="raw")
    np.testing.assert_array_equal(probability.score(frame), default.score(frame))
    margin = raw.score(frame)
    # The probability is the logistic link of the margin (float32 inside XGBoost).
    atol = 1e-12 if case.kind == "lightgbm" else 1e-6
    np.testing.assert_allclose(
        probability.score(frame), 1.0 / (1.0 + np.exp(-margin)), rtol=0, atol=atol
    )
    # Results in one space must never be taken for the other's; the default keeps the plain
    # file digest (what `sha256sum` prints).
    assert probability.fingerprint == default.fingerprint
    assert raw.fingerprint != default.fingerprint
    assert default.fingerprint == load(case, path).fingerprint


@pytest.mark.parametrize("key", RAW_CASES)
def test_probability_of_a_margin_objective_is_refused(
    trained: dict[str, tuple[Path, Any]], key: str
) -> None:
    case = CASES[key]
    path, _ = trained[key]
    with pytest.raises(ModelLoadError) as info:
        load(case, path, output="probability")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{SOURCE}: output = 'probability'")
    assert f"{path} has objective {case.objective!r}" in message
    assert "set output = 'raw'" in message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("logit", "must be 'raw' or 'probability'; got 'logit'"),
        ("", "must be a non-empty string; got ''"),
        (1, "must be a non-empty string; got 1"),
    ],
)
def test_bad_output_values(
    trained: dict[str, tuple[Path, Any]], value: object, message: str
) -> None:
    with pytest.raises(WorkspaceError) as info:
        load(CASES["lgb_binary"], trained["lgb_binary"][0], output=value)
    assert str(info.value) == f"{SOURCE}: 'output' for kind 'lightgbm' {message}"


def test_unknown_option_lists_output(trained: dict[str, tuple[Path, Any]]) -> None:
    with pytest.raises(UnknownKeyError) as info:
        load(CASES["xgb_ranker"], trained["xgb_ranker"][0], space="raw")
    assert str(info.value) == f"{SOURCE}: unknown key 'space' for kind 'xgboost'; allowed: output"


# --- multi-head manifests ---------------------------------------------------------------------


def _manifest(folder: Path, heads: dict[str, tuple[Path, float]]) -> Path:
    path = folder / "heads.json"
    entries = {h: {"file": p.name, "weight": w} for h, (p, w) in heads.items()}
    path.write_text(json.dumps({"format": "rankaudit-multihead", "heads": entries}))
    return path


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_output_applies_to_every_head_and_the_final_score(tmp_path: Path, kind: str) -> None:
    case = CASES["lgb_binary" if kind == "lightgbm" else "xgb_binary"]
    first, a = train(case, tmp_path, name="a")
    second = tmp_path / f"b{case.suffix}"
    # A second head on another label: the documents above the median target.
    estimator_b = case.fit(DATA.frame, with_label(DATA, DATA.target > np.median(DATA.target)))
    case.save(estimator_b, second)
    path = _manifest(tmp_path, {"fav": (first, 0.5), "reply": (second, 13.5)})
    frame = scoring_frame()
    for output, reference in (("raw", case.raw), ("probability", case.probability)):
        ranker = load(case, path, output=output)
        heads = ranker.head_scores(frame)
        assert ranker.output == output
        assert heads.index.equals(frame.index)
        np.testing.assert_allclose(heads["fav"], reference(a, frame), rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            heads["reply"], reference(estimator_b, frame), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            ranker.score(frame),
            0.5 * reference(a, frame) + 13.5 * reference(estimator_b, frame),
            rtol=1e-12,
            atol=1e-12,
        )
    assert load(case, path).output == "probability"


def with_label(data: Data, label: np.ndarray) -> Data:
    """`data` with another binary label."""
    return Data(data.frame, data.grades, label.astype(int), data.target, data.qid)


def test_mixed_heads_default_to_raw_and_refuse_probability(
    trained: dict[str, tuple[Path, Any]], tmp_path: Path
) -> None:
    ranker_path, ranker_model = trained["lgb_lambdarank"]
    binary_path, binary_model = trained["lgb_binary"]
    for source in (ranker_path, binary_path):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    path = _manifest(tmp_path, {"relevance": (ranker_path, 1.0), "click": (binary_path, 2.0)})
    case = CASES["lgb_lambdarank"]
    ranker = load(case, path)
    frame = scoring_frame()
    assert ranker.output == "raw"
    expected = case.raw(ranker_model, frame) + 2.0 * case.raw(binary_model, frame)
    np.testing.assert_allclose(ranker.score(frame), expected, rtol=1e-12, atol=1e-12)
    assert "(2 boosters, lambdarank, binary)" in ranker.description
    with pytest.raises(ModelLoadError, match=f"{ranker_path.name} has objective 'lambdarank'"):
        load(case, path, output="probability")


# --- boosters trained on numpy arrays ---------------------------------------------------------


@pytest.mark.parametrize("key", ["lgb_lambdarank", "lgb_binary", "xgb_ranker", "xgb_regressor"])
def test_numpy_trained_booster_is_matched_to_the_spec_by_position(
    trained: dict[str, tuple[Path, Any]], tmp_path: Path, key: str
) -> None:
    case = CASES[key]
    path, _ = train(case, tmp_path, numpy=True)
    named = load(case, trained[key][0])
    ranker = load(case, path, spec=make_spec())
    frame = scoring_frame()
    assert ranker.feature_names == FEATURES
    np.testing.assert_allclose(ranker.score(frame), named.score(frame), rtol=0, atol=1e-12)
    default = "Column_0..Column_11" if case.kind == "lightgbm" else "f0..f11"
    assert ranker.notes == (
        f"matched the booster's 12 unnamed features ({default}) to the spec by position; "
        "check that the spec lists them in training order",
    )
    assert ranker.output == case.default_output


@pytest.mark.parametrize("key", ["lgb_lambdarank", "xgb_ranker"])
def test_unnamed_features_need_a_spec_of_the_same_size(tmp_path: Path, key: str) -> None:
    case = CASES[key]
    path, _ = train(case, tmp_path, numpy=True)
    with pytest.raises(ModelLoadError) as info:
        load(case, path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}: the booster has default feature names")
    assert "no feature spec to match its 12 features to by position" in str(info.value)
    with pytest.raises(ModelLoadError) as info:
        load(case, path, spec=make_spec(FEATURES[:11]))
    assert "\n" not in str(info.value)
    assert "has 12 unnamed features" in str(info.value)
    assert "the spec features.yaml lists 11" in str(info.value)


def test_numpy_trained_categorical_keeps_its_position(tmp_path: Path) -> None:
    # Column 5 holds integer category codes and was declared categorical at training.
    x = DATA.frame.to_numpy().copy()
    x[:, 5] = np.digitize(x[:, 5], [-0.5, 0.5])
    target = DATA.target + np.where(x[:, 5] == 1, 1.5, 0.0)
    params = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5,
              "min_data_per_group": 5, "cat_smooth": 1.0, "deterministic": True,
              "num_threads": 1, "verbose": -1, "seed": 0}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x, target, categorical_feature=[5]), num_boost_round=20)
    path = tmp_path / "cat.txt"
    booster.save_model(str(path))
    case = CASES["lgb_regressor"]
    ranker = load(case, path, spec=make_spec(categorical=(FEATURES[5],)))
    assert ranker.categorical_features == (FEATURES[5],)
    frame = pd.DataFrame(x, columns=list(FEATURES))
    np.testing.assert_allclose(
        ranker.score(frame), booster.predict(x, raw_score=True), rtol=0, atol=1e-12
    )


def test_default_names_that_are_spec_columns_are_read_by_name(tmp_path: Path) -> None:
    # A spec that literally names its features f0, f1, ... needs no matching by position.
    case = CASES["xgb_regressor"]
    path, estimator = train(case, tmp_path, numpy=True)
    names = tuple(f"f{j}" for j in range(N_FEATURES))
    spec = make_spec((*names, "extra"))
    ranker = load(case, path, spec=spec)
    assert ranker.feature_names == names
    assert ranker.notes == ()
    frame = DATA.frame.set_axis(list(names), axis=1)
    expected = estimator.predict(DATA.frame.to_numpy(), output_margin=True)
    np.testing.assert_allclose(ranker.score(frame), expected, rtol=0, atol=1e-12)
