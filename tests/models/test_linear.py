"""The `linear` kind against the hand formula."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.errors import ModelLoadError, SchemaError
from rankaudit.models import ModelConfig, load_ranker, save_linear

FEATURES = ["real_graph_weight", "has_image", "tweet_age_minutes"]
COEF = [1.5, -0.25, -0.004]


@pytest.mark.parametrize("link", ["identity", "logistic"])
def test_linear_score_equals_the_hand_formula(
    tmp_path: Path, frame: pd.DataFrame, link: str
) -> None:
    path = tmp_path / "light.json"
    save_linear(path, FEATURES, COEF, intercept=0.3, link=link)  # type: ignore[arg-type]
    ranker = load_ranker(ModelConfig("light", "linear", path=path))
    z = (
        0.3
        + 1.5 * frame["real_graph_weight"]
        - 0.25 * frame["has_image"]
        - 0.004 * frame["tweet_age_minutes"]
    ).to_numpy()
    expected = 1.0 / (1.0 + np.exp(-z)) if link == "logistic" else z
    scores = ranker.score(frame)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=1e-12)
    assert ranker.feature_names == tuple(FEATURES)
    assert ranker.required_columns == tuple(FEATURES)
    assert ranker.categorical_features == ()


def test_save_linear_is_deterministic_and_sorted(tmp_path: Path) -> None:
    save_linear(tmp_path / "a.json", FEATURES, COEF, intercept=0.3, link="logistic")
    save_linear(tmp_path / "b.json", FEATURES, COEF, intercept=0.3, link="logistic")
    text = (tmp_path / "a.json").read_text()
    assert text == (tmp_path / "b.json").read_text()
    assert text.endswith("}\n")
    assert list(json.loads(text)) == ["coefficients", "features", "format", "intercept", "link"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_linear_refuses_mismatched_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3 features but 2 coefficients"):
        save_linear(tmp_path / "x.json", FEATURES, COEF[:2])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "linear model is not valid JSON"),
        ("[1, 2]", "linear model must be a JSON object"),
        (
            '{"format": "rankaudit-linear", "features": ["a", "b"], "coefficients": [1.0],'
            ' "intercept": 0, "link": "identity"}',
            "'coefficients' must be a list of 2 numbers",
        ),
        (
            '{"format": "rankaudit-linear", "features": ["a"], "coefficients": [1.0],'
            ' "intercept": NaN, "link": "identity"}',
            "'intercept' must be a finite number",
        ),
        (
            '{"format": "rankaudit-linear", "features": ["a"], "coefficients": [1.0],'
            ' "intercept": 0, "link": "probit"}',
            "'link' must be one of identity, logistic",
        ),
        (
            '{"format": "rankaudit-linear", "features": ["a"], "coefficients": [1.0],'
            ' "intercept": 0, "link": "identity", "bias": 2}',
            "unknown key 'bias'",
        ),
    ],
)
def test_malformed_linear_files_name_the_path(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ModelLoadError) as info:
        load_ranker(ModelConfig("light", "linear", path=path))
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_linear_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ModelLoadError, match=r"absent\.json: linear model not found"):
        load_ranker(ModelConfig("light", "linear", path=path))


def test_missing_feature_column(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "light.json"
    save_linear(path, [*FEATURES, "video_duration"], [*COEF, 1.0])
    ranker = load_ranker(ModelConfig("light", "linear", path=path))
    with pytest.raises(SchemaError, match=r"light \(linear\).*video_duration"):
        ranker.score(frame)


def test_linear_fingerprint_is_the_file_hash(tmp_path: Path) -> None:
    path = tmp_path / "light.json"
    save_linear(path, FEATURES, COEF)
    first = load_ranker(ModelConfig("light", "linear", path=path)).fingerprint
    assert load_ranker(ModelConfig("light", "linear", path=path)).fingerprint == first
    save_linear(path, FEATURES, [*COEF[:2], -0.005])
    assert load_ranker(ModelConfig("light", "linear", path=path)).fingerprint != first
