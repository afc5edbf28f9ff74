"""A third-party adapter registered with `register_adapter` in the registry tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd

from rankaudit.models.base import ModelConfig, check_options, fingerprint_options, no_heads_error


@dataclass(frozen=True)
class ConstantRanker:
    """Scores every row with the same configured value."""

    name: str
    kind: str
    value: float
    feature_names: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    required_columns: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    head_weights: dict[str, float] | None = None
    fingerprint: str = ""
    description: str = "constant"

    OPTIONS = frozenset({"value"})

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        check_options(config, cls.OPTIONS)
        value = float(config.options.get("value", 0.0))  # type: ignore[arg-type]
        return cls(
            name=config.name,
            kind=config.kind,
            value=value,
            fingerprint=fingerprint_options(config.kind, {"value": value}),
        )

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.value, dtype=np.float64)

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        raise no_heads_error(f"{self.name} ({self.kind})")


class NotARanker:
    """from_config returns an object lacking the Ranker members."""

    @classmethod
    def from_config(cls, config: ModelConfig) -> object:
        return object()
