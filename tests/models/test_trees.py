"""The `lightgbm` and `xgboost` kinds, driven by one table of backends."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from rankaudit.errors import ModelLoadError, SchemaError
from rankaudit.models import ModelConfig, load_ranker

from .conftest import CATEGORICAL, CLIENTS, NUMERIC

FEATURES = [*NUMERIC, *CATEGORICAL]
NUMERIC_LIST = list(NUMERIC)


def _training_frame(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    x = frame[features].copy()
    if "client" in x:
        x["client"] = pd.Categorical(x["client"])
    return x


def _train_lightgbm(
    frame: pd.DataFrame, label: str, path: Path, features: list[str]
) -> Callable[[pd.DataFrame], np.ndarray]:
    params = {
        "objective": "binary",
        "deterministic": True,
        "num_threads": 1,
        "verbose": -1,
        "min_data_in_leaf": 5,
        "seed": 1,
    }
    x = _training_frame(frame, features)
    booster = lgb.train(params, lgb.Dataset(x, frame[label]), num_boost_round=6)
    booster.save_model(str(path))
    # The library's own pandas path is the reference for the adapter's category encoding.
    return lambda f: np.asarray(booster.predict(_training_frame(f, features)), dtype=np.float64)


def _train_xgboost(
    frame: pd.DataFrame, label: str, path: Path, features: list[str]
) -> Callable[[pd.DataFrame], np.ndarray]:
    params = {"objective": "binary:logistic", "nthread": 1, "max_depth": 3, "seed": 1}
    x = _training_frame(frame, features)
    dtrain = xgb.DMatrix(x, frame[label], enable_categorical=True)
    booster = xgb.train(params, dtrain, num_boost_round=6)
    booster.save_model(str(path))

    def predict(f: pd.DataFrame) -> np.ndarray:
        d = xgb.DMatrix(_training_frame(f, features), enable_categorical=True)
        return np.asarray(booster.predict(d), dtype=np.float64)

    return predict


@dataclass(frozen=True)
class Backend:
    kind: str
    suffix: str
    train: Callable[..., Callable[[pd.DataFrame], np.ndarray]]


BACKENDS = [
    pytest.param(Backend("lightgbm", ".txt", _train_lightgbm), id="lightgbm"),
    pytest.param(Backend("xgboost", ".json", _train_xgboost), id="xgboost"),
]


def _scoring_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The log as the reader hands it over: `client` as plain strings, one unseen value."""
    scoring = frame.copy()
    scoring.loc[scoring.index[:5], "client"] = "smart_tv"
    return scoring


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_booster_score_equals_the_library_prediction(
    tmp_path: Path, frame: pd.DataFrame, backend: Backend
) -> None:
    path = tmp_path / f"model{backend.suffix}"
    reference = backend.train(frame, "label_favorite", path, FEATURES)
    ranker = load_ranker(ModelConfig("gbdt", backend.kind, path=path))
    scoring = _scoring_frame(frame)
    before = scoring.copy()
    scores = ranker.score(scoring)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, reference(scoring), rtol=0, atol=1e-7)
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0
    assert len(np.unique(scores)) > 5  # the boosters learned something
    pd.testing.assert_frame_equal(scoring, before)
    assert ranker.feature_names == tuple(FEATURES)
    assert ranker.categorical_features == ("client",)
    assert ranker.heads == ()
    assert dict(ranker.head_weights) == {}
    with pytest.raises(ModelLoadError, match="single-score ranker; it has no heads"):
        ranker.head_scores(scoring)


@pytest.mark.parametrize("backend", BACKENDS)
def test_multihead_manifest_is_the_weighted_sum(
    tmp_path: Path, frame: pd.DataFrame, backend: Backend
) -> None:
    fav = backend.train(frame, "label_favorite", tmp_path / f"fav{backend.suffix}", FEATURES)
    rep = backend.train(frame, "label_reply", tmp_path / f"rep{backend.suffix}", FEATURES)
    manifest = {
        "format": "rankaudit-multihead",
        "heads": {
            "favorite": {"file": f"fav{backend.suffix}", "weight": 0.5},
            "reply": {"file": f"rep{backend.suffix}", "weight": 13.5},
        },
    }
    path = tmp_path / "heads.json"
    path.write_text(json.dumps(manifest))
    ranker = load_ranker(ModelConfig("gbdt", backend.kind, path=path))
    scoring = _scoring_frame(frame)
    heads = ranker.head_scores(scoring)
    assert list(heads.columns) == ["favorite", "reply"]
    assert heads.index.equals(scoring.index)
    assert (heads.dtypes == np.float64).all()
    np.testing.assert_allclose(heads["favorite"], fav(scoring), rtol=0, atol=1e-7)
    np.testing.assert_allclose(heads["reply"], rep(scoring), rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        ranker.score(scoring), 0.5 * fav(scoring) + 13.5 * rep(scoring), rtol=1e-12, atol=1e-7
    )
    assert ranker.heads == ("favorite", "reply")
    assert dict(ranker.head_weights) == {"favorite": 0.5, "reply": 13.5}
    assert "2 boosters" in ranker.description


@pytest.mark.parametrize("backend", BACKENDS)
def test_heads_must_agree_on_features(
    tmp_path: Path, frame: pd.DataFrame, backend: Backend
) -> None:
    backend.train(frame, "label_favorite", tmp_path / f"a{backend.suffix}", FEATURES)
    backend.train(frame, "label_reply", tmp_path / f"b{backend.suffix}", FEATURES[:-1])
    manifest = {
        "format": "rankaudit-multihead",
        "heads": {
            "favorite": {"file": f"a{backend.suffix}", "weight": 1},
            "reply": {"file": f"b{backend.suffix}", "weight": 1},
        },
    }
    path = tmp_path / "heads.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"head 'reply' .* missing \['client'\]"):
        load_ranker(ModelConfig("gbdt", backend.kind, path=path))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fingerprint_covers_manifest_and_head_files(
    tmp_path: Path, frame: pd.DataFrame, backend: Backend
) -> None:
    backend.train(frame, "label_favorite", tmp_path / f"fav{backend.suffix}", NUMERIC_LIST)
    head: dict[str, object] = {"file": f"fav{backend.suffix}", "weight": 0.5}
    manifest = {"format": "rankaudit-multihead", "heads": {"favorite": head}}
    path = tmp_path / "heads.json"
    path.write_text(json.dumps(manifest))
    config = ModelConfig("gbdt", backend.kind, path=path)
    first = load_ranker(config).fingerprint
    assert load_ranker(config).fingerprint == first
    head["weight"] = 0.75
    path.write_text(json.dumps(manifest))
    second = load_ranker(config).fingerprint
    assert second != first
    backend.train(frame, "label_reply", tmp_path / f"fav{backend.suffix}", NUMERIC_LIST)
    assert load_ranker(config).fingerprint not in (first, second)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"format": "rankaudit-multihead", "heads": {}}, "'heads' must be a non-empty object"),
        ({"format": "other"}, "'format' must be 'rankaudit-multihead'"),
        (
            {"format": "rankaudit-multihead", "heads": {"fav": {"file": "nope.txt", "weight": 1}}},
            "heads.fav: model file",
        ),
        (
            {"format": "rankaudit-multihead", "heads": {"fav": {"file": "x", "weight": "high"}}},
            "'weight' must be a finite number",
        ),
    ],
)
def test_bad_manifests_name_the_path(
    tmp_path: Path, manifest: dict[str, Any], message: str
) -> None:
    path = tmp_path / "heads.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError) as info:
        load_ranker(ModelConfig("gbdt", "lightgbm", path=path))
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        ("lightgbm", "tree\nversion=v4\ngarbage", "not a LightGBM text model"),
        ("xgboost", '{"learner": 3}', "not an XGBoost model"),
    ],
)
def test_malformed_booster_files(tmp_path: Path, kind: str, content: str, message: str) -> None:
    path = tmp_path / ("model.txt" if kind == "lightgbm" else "model.json")
    path.write_text(content)
    with pytest.raises(ModelLoadError, match=f"^{path}: {message}"):
        load_ranker(ModelConfig("gbdt", kind, path=path))


def test_missing_booster_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.txt"
    with pytest.raises(ModelLoadError, match=f"^{path}: model file not found"):
        load_ranker(ModelConfig("gbdt", "lightgbm", path=path))


def test_xgboost_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.json"
    path.write_text("{}")
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes `import xgboost` fail
    with pytest.raises(ModelLoadError) as info:
        load_ranker(ModelConfig("gbdt", "xgboost", path=path))
    assert str(info.value) == "xgboost is not installed; pip install 'rankaudit[xgboost]'"


def test_default_feature_names_without_a_spec_are_refused(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    # Matching by position needs the workspace spec (tests/models/test_tree_outputs.py).
    x = frame[NUMERIC_LIST].to_numpy()
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, frame["label_favorite"]), num_boost_round=2)
    path = tmp_path / "m.txt"
    booster.save_model(str(path))
    with pytest.raises(ModelLoadError) as info:
        load_ranker(ModelConfig("gbdt", "lightgbm", path=path))
    assert str(info.value) == (
        f"{path}: the booster has default feature names (Column_0..Column_3) and no feature "
        "spec to match its 4 features to by position; train it from a DataFrame or pass "
        "feature_name=, or load it in a workspace whose spec lists its 4 features in "
        "training order"
    )
    dtrain = xgb.DMatrix(x, frame["label_favorite"])
    xgb.train({"objective": "binary:logistic", "nthread": 1}, dtrain, 2).save_model(
        str(tmp_path / "m.json")
    )
    with pytest.raises(ModelLoadError, match=r"default feature names \(f0..f3\).* its 4 features"):
        load_ranker(ModelConfig("gbdt", "xgboost", path=tmp_path / "m.json"))


def test_lightgbm_integer_coded_categorical(tmp_path: Path, frame: pd.DataFrame) -> None:
    # Trained from numpy with categorical_feature=: the log holds the integer codes themselves.
    codes = frame["client"].map({c: i for i, c in enumerate(CLIENTS)}).to_numpy()
    x = np.column_stack([frame[NUMERIC_LIST].to_numpy(), codes])
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    data = lgb.Dataset(x, frame["label_favorite"], feature_name=FEATURES, categorical_feature=[4])
    booster = lgb.train(params, data, num_boost_round=4)
    path = tmp_path / "m.txt"
    booster.save_model(str(path))
    ranker = load_ranker(ModelConfig("gbdt", "lightgbm", path=path))
    assert ranker.categorical_features == ("client",)
    scores = ranker.score(frame.assign(client=codes))
    np.testing.assert_allclose(scores, booster.predict(x), rtol=0, atol=1e-12)


def test_missing_feature_column_is_a_schema_error(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "m.txt"
    _train_lightgbm(frame, "label_favorite", path, FEATURES)
    ranker = load_ranker(ModelConfig("gbdt", "lightgbm", path=path))
    with pytest.raises(SchemaError, match=r"gbdt \(lightgbm\).*client"):
        ranker.score(frame.drop(columns=["client"]))
