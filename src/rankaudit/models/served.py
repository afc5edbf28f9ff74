"""Rankers that read no model file: the order as served, and newest-first.

They give every comparison a fixed reference point: "what did production actually show" and
"what would a plain reverse-chronological timeline have shown".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from rankaudit.data import schema
from rankaudit.errors import SchemaError
from rankaudit.models.base import (
    ModelConfig,
    check_options,
    fingerprint_options,
    no_heads_error,
    option_bool,
    option_str,
    refuse_path,
    require_columns,
)

__all__ = ["DEFAULT_AGE_COLUMN", "ChronologicalRanker", "LoggedRanker"]

#: Tweet age at request time, in minutes; the demo spec's recency feature.
DEFAULT_AGE_COLUMN = "tweet_age_minutes"


def _read_column(frame: pd.DataFrame, label: str, column: str) -> np.ndarray:
    """Return a float64 copy of `column`, missing values as NaN."""
    require_columns(frame, label, (column,))
    series = frame[column]
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise SchemaError(f"{label}: column {column!r} must be numeric; got dtype {series.dtype}")
    return np.array(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class LoggedRanker:
    """The order production served, read from a log column (by default `position`)."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"column", "ascending"})

    name: str
    kind: str
    column: str
    ascending: bool
    fingerprint: str
    feature_names: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    head_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        """Return the ranker; options `column` (default "position") and `ascending`
        (default true: a smaller value ranks higher)."""
        check_options(config, cls.OPTIONS)
        refuse_path(config)
        column = option_str(config, "column", schema.POSITION)
        ascending = option_bool(config, "ascending", True)
        return cls(
            name=config.name,
            kind=config.kind,
            column=column,
            ascending=ascending,
            fingerprint=fingerprint_options(
                config.kind, {"column": column, "ascending": ascending}
            ),
        )

    @property
    def required_columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def description(self) -> str:
        order = "smaller first" if self.ascending else "larger first"
        return f"logged order by {self.column} ({order})"

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return float64 scores reproducing the logged order: -value when ascending, else value.

        Rows without a value (e.g. candidates that were never served) score -inf, so they rank
        after every served row instead of making the order undefined.
        """
        values = _read_column(frame, f"{self.name} ({self.kind})", self.column)
        scores = -values if self.ascending else values
        scores[np.isnan(scores)] = -np.inf
        return scores

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Always raises ModelLoadError: the logged order has no heads."""
        raise no_heads_error(f"{self.name} ({self.kind})")


@dataclass(frozen=True, eq=False)
class ChronologicalRanker:
    """Newest first: the score is minus the tweet's age."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"age_column"})

    name: str
    kind: str
    age_column: str
    fingerprint: str
    feature_names: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    head_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        """Return the ranker; option `age_column` (default "tweet_age_minutes")."""
        check_options(config, cls.OPTIONS)
        refuse_path(config)
        age_column = option_str(config, "age_column", DEFAULT_AGE_COLUMN)
        return cls(
            name=config.name,
            kind=config.kind,
            age_column=age_column,
            fingerprint=fingerprint_options(config.kind, {"age_column": age_column}),
        )

    @property
    def required_columns(self) -> tuple[str, ...]:
        return (self.age_column,)

    @property
    def description(self) -> str:
        return f"chronological (newest first by {self.age_column})"

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return float64 scores = -age (in the age column's units); missing ages score -inf."""
        scores = -_read_column(frame, f"{self.name} ({self.kind})", self.age_column)
        scores[np.isnan(scores)] = -np.inf
        return scores

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Always raises ModelLoadError: the chronological order has no heads."""
        raise no_heads_error(f"{self.name} ({self.kind})")
