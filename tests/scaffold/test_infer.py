"""Spec, heads and relevance guessed from a log sample; model kinds guessed from their files."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from rankaudit.data.readers import LogSource
from rankaudit.data.relevance import GradedRelevance
from rankaudit.errors import ModelLoadError, ParameterError, SchemaError
from rankaudit.models.linear import save_linear
from rankaudit.scaffold.infer import guess_model, infer_features, infer_log, parse_model_option


def _contract(rows: int) -> dict[str, object]:
    return {
        "request_id": [f"r{i // 4}" for i in range(rows)],
        "user_id": [f"u{i // 8}" for i in range(rows)],
        "tweet_id": [f"t{i}" for i in range(rows)],
        "author_id": ["a"] * rows,
        "served_at": pd.date_range("2026-01-01", periods=rows, freq="min", tz="UTC"),
        "position": [i % 4 + 1 for i in range(rows)],
    }


# name -> (values, kind, group, missing, fill_value, flagged as a check)
FEATURE_CASES: dict[str, tuple[list[object], str, str, str, object, bool]] = {
    "doc_score": (
        [0.5, 1.25, -3.0, 2.0, 0.0, 7.5, 1.0, 2.5],
        "continuous",
        "doc",
        "forbid",
        None,
        False,
    ),
    "doc_clicked": ([0, 1, 1, 0, 0, 1, 0, 1], "binary", "doc", "forbid", None, False),
    "doc_flag": ([True, False] * 4, "binary", "doc", "forbid", None, False),
    "lang": (
        ["en", "fr", "en", None, "de", "fr", "en", "de"],
        "categorical",
        "features",
        "fill",
        "en",
        True,
    ),
    "ctr": (
        [0.1, np.nan, 0.3, 0.2, np.inf, 0.5, 0.6, 0.7],
        "continuous",
        "features",
        "fill",
        0.0,
        True,
    ),
    "seen": ([1.0, np.nan, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], "binary", "features", "fill", 0.0, True),
    "hashtags": ([0, 3, 2, 1, 0, 2, 3, 1], "continuous", "features", "forbid", None, True),
    "tie": (
        ["b", "a", None, "a", "b", "c", "c", "d"],
        "categorical",
        "features",
        "fill",
        "a",
        True,
    ),
}


def test_infer_features_guesses_kind_group_and_missing() -> None:
    sample = pd.DataFrame({name: case[0] for name, case in FEATURE_CASES.items()})
    spec, checks = infer_features(sample, list(FEATURE_CASES), "log.parquet")
    for name, (_, kind, group, missing, fill, flagged) in FEATURE_CASES.items():
        feature = spec[name]
        assert (feature.kind, feature.group, feature.missing, feature.fill_value) == (
            kind,
            group,
            missing,
            fill,
        ), name
        assert feature.description.startswith("TODO")
        assert feature.unit.startswith("TODO")
        assert any(c.startswith(f"{name}:") for c in checks) == flagged, name
    assert spec.names == tuple(FEATURE_CASES)
    assert any("ctr: 2 missing value(s)" in c for c in checks)


def test_infer_log_reads_heads_relevance_and_a_bounded_sample(tmp_path: Path) -> None:
    rows = 40
    frame = pd.DataFrame(
        {
            **_contract(rows),
            "grade": np.arange(rows) % 5,
            "label_click": np.arange(rows) % 2,
            "label_reply": (np.arange(rows) % 3 == 0).astype(int),
            "query_len": np.linspace(1.0, 3.0, rows),
            "doc_len": np.linspace(5.0, 9.0, rows),
            "doc_age": np.linspace(0.5, 1.5, rows),
            "label": np.linspace(0.0, 1.0, rows),
        }
    )
    path = tmp_path / "log.parquet"
    frame.to_parquet(path, index=False)
    guess = infer_log(LogSource.from_path(path), sample_rows=25)
    assert guess.sample_rows == 25
    assert not guess.complete
    assert guess.heads == {"click": 1.0, "reply": 1.0}
    assert guess.relevance == GradedRelevance("grade", "exponential")
    # `label` also looks like a judgement: kept as a feature, and flagged.
    assert guess.spec.names == ("query_len", "doc_len", "doc_age", "label")
    assert [f.group for f in guess.spec] == ["features", "doc", "doc", "features"]
    assert any(c.startswith("label: also looks like a judgement") for c in guess.checks)
    assert infer_log(LogSource.from_path(path)).complete


def test_a_log_without_labels_or_grades_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    pd.DataFrame({**_contract(8), "score": np.arange(8.0)}).to_csv(path, index=False)
    with pytest.raises(SchemaError, match="no label_<head> columns and no numeric"):
        infer_log(LogSource.from_path(path))


def _lightgbm(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    params = {"objective": "lambdarank", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 2}
    booster = lgb.train(params, lgb.Dataset(x, rng.integers(0, 3, 40), group=[10] * 4), 2)
    booster.save_model(str(path))
    return path


def _xgboost(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    booster = xgb.train({"nthread": 1}, xgb.DMatrix(x, rng.normal(size=40)), 2)
    booster.save_model(str(path))
    return path


def _manifest(root: Path) -> Path:
    _lightgbm(root / "click.txt")
    _lightgbm(root / "like.txt")
    heads = {
        "click": {"file": "click.txt", "weight": 1.0},
        "like": {"file": "like.txt", "weight": 2.0},
    }
    path = root / "heads.json"
    path.write_text(json.dumps({"format": "rankaudit-multihead", "heads": heads}))
    return path


def _torch_dir(root: Path) -> Path:
    (root / "deep").mkdir()
    (root / "deep" / "rankaudit-model.json").write_text("{}")
    return root / "deep"


MODEL_CASES = {
    "lightgbm text": (lambda root: _lightgbm(root / "m.txt"), "lightgbm"),
    "xgboost json": (lambda root: _xgboost(root / "m.json"), "xgboost"),
    "xgboost ubj": (lambda root: _xgboost(root / "m.ubj"), "xgboost"),
    "linear": (
        lambda root: (
            save_linear(root / "lin.json", ("a",), (1.0,), 0.0, "identity") or root / "lin.json"
        ),
        "linear",
    ),
    "multi-head manifest": (_manifest, "lightgbm"),
    "torch directory": (_torch_dir, "torch"),
    "torch manifest file": (lambda root: _torch_dir(root) / "rankaudit-model.json", "torch"),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_guess_model_kind(tmp_path: Path, case: str) -> None:
    make, kind = MODEL_CASES[case]
    path = make(tmp_path)
    guess = guess_model("m", path)
    assert guess.kind == kind
    expected = path.resolve().parent if path.name == "rankaudit-model.json" else path.resolve()
    assert guess.path == expected


BAD_MODELS = {
    "missing": (lambda root: root / "nope.txt", "does not exist"),
    "unknown content": (
        lambda root: (root / "m.bin").write_bytes(b"\x00\x01") and root / "m.bin",
        "cannot tell the model kind",
    ),
    "json without learner": (
        lambda root: (root / "m.json").write_text('{"a": 1}') and root / "m.json",
        "cannot tell the model kind",
    ),
    "directory without manifest": (
        lambda root: (root / "d").mkdir() or root / "d",
        "a directory without rankaudit-model.json",
    ),
}


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_guess_model_refuses_what_it_cannot_tell(tmp_path: Path, case: str) -> None:
    make, expected = BAD_MODELS[case]
    with pytest.raises(ModelLoadError, match=expected):
        guess_model("m", make(tmp_path))


def test_parse_model_option() -> None:
    assert parse_model_option("base=models/m.txt") == ("base", Path("models/m.txt"))
    assert parse_model_option("a=b=c") == ("a", Path("b=c"))
    for bad in ("m.txt", "=m.txt", "base=", "bad name=m.txt"):
        with pytest.raises(ParameterError):
            parse_model_option(bad)
