"""The file-less kinds: the logged order and newest-first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.errors import ModelLoadError, SchemaError, UnknownKeyError
from rankaudit.models import ModelConfig, load_ranker


def _order(scores: np.ndarray, frame: pd.DataFrame) -> list[str]:
    # Stable sort so equal scores keep frame order, as the comparison code will.
    return list(frame["tweet_id"].to_numpy()[np.argsort(-scores, kind="stable")])


@pytest.fixture
def timeline() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tweet_id": ["a", "b", "c", "d"],
            "position": [3, 1, 4, 2],
            "tweet_age_minutes": [5.0, 120.0, 1.5, 60.0],
        },
        index=[10, 11, 12, 13],
    )


def test_logged_reproduces_the_served_order(timeline: pd.DataFrame) -> None:
    ranker = load_ranker(ModelConfig("served", "logged"))
    scores = ranker.score(timeline)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(scores, [-3.0, -1.0, -4.0, -2.0])
    assert _order(scores, timeline) == ["b", "d", "a", "c"]
    assert ranker.required_columns == ("position",)
    assert ranker.feature_names == ()
    assert ranker.heads == ()


def test_logged_descending_on_another_column(timeline: pd.DataFrame) -> None:
    config = ModelConfig(
        "oldest", "logged", options={"column": "tweet_age_minutes", "ascending": False}
    )
    ranker = load_ranker(config)
    assert _order(ranker.score(timeline), timeline) == ["b", "d", "a", "c"]
    assert ranker.description == "logged order by tweet_age_minutes (larger first)"


def test_logged_rows_without_position_rank_last(timeline: pd.DataFrame) -> None:
    frame = timeline.assign(position=pd.array([3, None, 1, 2], dtype="Int64"))
    scores = load_ranker(ModelConfig("served", "logged")).score(frame)
    assert scores[1] == -np.inf
    assert _order(scores, frame) == ["c", "d", "a", "b"]


def test_chronological_is_newest_first(timeline: pd.DataFrame) -> None:
    ranker = load_ranker(ModelConfig("chrono", "chronological"))
    np.testing.assert_array_equal(ranker.score(timeline), [-5.0, -120.0, -1.5, -60.0])
    assert _order(ranker.score(timeline), timeline) == ["c", "a", "d", "b"]
    assert ranker.required_columns == ("tweet_age_minutes",)


def test_served_kinds_take_no_path() -> None:
    config = ModelConfig("served", "logged", path=Path("/x/model.json"), source="S")
    with pytest.raises(UnknownKeyError, match="S: unknown key 'path' for kind 'logged'"):
        load_ranker(config)


def test_missing_column_names_model_and_column(timeline: pd.DataFrame) -> None:
    ranker = load_ranker(ModelConfig("chrono", "chronological", options={"age_column": "age"}))
    with pytest.raises(SchemaError, match=r"chrono \(chronological\): .*: age"):
        ranker.score(timeline)


def test_served_kinds_have_no_heads(timeline: pd.DataFrame) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_ranker(ModelConfig("served", "logged")).head_scores(timeline)
    assert str(info.value) == "served (logged) is a single-score ranker; it has no heads"


def test_fingerprint_depends_on_resolved_options_only() -> None:
    default = load_ranker(ModelConfig("a", "logged")).fingerprint
    explicit = load_ranker(ModelConfig("b", "logged", options={"column": "position"})).fingerprint
    flipped = load_ranker(ModelConfig("c", "logged", options={"ascending": False})).fingerprint
    assert default == explicit != flipped


def test_input_frame_is_not_mutated(timeline: pd.DataFrame) -> None:
    before = timeline.copy()
    load_ranker(ModelConfig("served", "logged")).score(timeline)
    load_ranker(ModelConfig("chrono", "chronological")).score(timeline)
    pd.testing.assert_frame_equal(timeline, before)
