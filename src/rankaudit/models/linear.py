"""The `linear` kind: a (logistic) linear model stored as a small JSON file.

This is the shape of a classic light ranker: intercept + features @ coefficients, optionally
through a sigmoid. The file format is::

    {"format": "rankaudit-linear", "features": ["f1", ...], "coefficients": [0.5, ...],
     "intercept": 0.0, "link": "identity" | "logistic"}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal, Self, get_args

import numpy as np
import pandas as pd

from rankaudit.errors import ModelLoadError
from rankaudit.models.base import (
    ModelConfig,
    check_keys,
    check_options,
    fingerprint_path,
    finite_float,
    no_heads_error,
    read_json_object,
    require_columns,
    require_path,
    string_list,
    write_atomic,
)

__all__ = ["LINEAR_FORMAT", "LinearRanker", "Link", "save_linear"]

LINEAR_FORMAT = "rankaudit-linear"
Link = Literal["identity", "logistic"]
_KEYS = ("format", "features", "coefficients", "intercept", "link")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-logaddexp(0, -z)) == 1 / (1 + exp(-z)) without overflow warnings for large |z|.
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class LinearRanker:
    """A single-score linear ranker: intercept + X @ coefficients, then the link function."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset()

    name: str
    kind: str
    feature_names: tuple[str, ...]
    coefficients: np.ndarray = field(repr=False)
    intercept: float
    link: Link
    fingerprint: str
    categorical_features: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    head_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        """Return the ranker stored in the JSON file at `config.path`."""
        check_options(config, cls.OPTIONS)
        path = require_path(config)
        raw = read_json_object(path, "linear model")
        where = str(path)
        check_keys(raw, where, required=_KEYS)
        if raw["format"] != LINEAR_FORMAT:
            raise ModelLoadError(
                f"{where}: 'format' must be {LINEAR_FORMAT!r}; got {raw['format']!r}"
            )
        features = string_list(raw["features"], where, "features")
        coefficients = raw["coefficients"]
        if not isinstance(coefficients, list) or len(coefficients) != len(features):
            raise ModelLoadError(
                f"{where}: 'coefficients' must be a list of {len(features)} numbers, "
                "one per feature"
            )
        coef = np.array(
            [finite_float(c, where, f"coefficients[{i}]") for i, c in enumerate(coefficients)],
            dtype=np.float64,
        )
        coef.setflags(write=False)
        link = raw["link"]
        if link != "identity" and link != "logistic":
            raise ModelLoadError(
                f"{where}: 'link' must be one of {', '.join(get_args(Link))}; got {link!r}"
            )
        return cls(
            name=config.name,
            kind=config.kind,
            feature_names=features,
            coefficients=coef,
            intercept=finite_float(raw["intercept"], where, "intercept"),
            link=link,
            fingerprint=fingerprint_path(path),
        )

    @property
    def required_columns(self) -> tuple[str, ...]:
        return self.feature_names

    @property
    def description(self) -> str:
        model = "logistic regression" if self.link == "logistic" else "linear model"
        return f"{model}, {len(self.feature_names)} features"

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return float64 scores: intercept + X @ coefficients, through a sigmoid for the
        logistic link (then a probability in [0, 1])."""
        require_columns(frame, f"{self.name} ({self.kind})", self.feature_names)
        x = frame.loc[:, list(self.feature_names)].to_numpy(dtype=np.float64)
        z = self.intercept + x @ self.coefficients
        return _sigmoid(z) if self.link == "logistic" else np.asarray(z, dtype=np.float64)

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Always raises ModelLoadError: a linear model has no heads."""
        raise no_heads_error(f"{self.name} ({self.kind})")


def save_linear(
    path: Path,
    features: Sequence[str],
    coefficients: Sequence[float],
    intercept: float = 0.0,
    link: Link = "identity",
) -> None:
    """Write a `linear` model file (sorted keys, indent 2, trailing newline); returns None.

    Raises ValueError when lengths differ, names repeat, values are not finite or the link is
    unknown, so that an unloadable file is never written.
    """
    names = list(features)
    coefs = [float(c) for c in coefficients]
    if len(names) != len(coefs):
        raise ValueError(
            f"save_linear got {len(names)} features but {len(coefs)} coefficients; "
            "they must match one to one"
        )
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError("save_linear needs unique, non-empty feature names")
    if not all(math.isfinite(v) for v in [*coefs, float(intercept)]):
        raise ValueError("save_linear needs finite coefficients and intercept")
    if link not in get_args(Link):
        raise ValueError(
            f"The 'link' parameter of save_linear must be one of "
            f"{', '.join(get_args(Link))}. Got {link!r} instead."
        )
    payload = {
        "coefficients": coefs,
        "features": names,
        "format": LINEAR_FORMAT,
        "intercept": float(intercept),
        "link": link,
    }
    write_atomic(path, (json.dumps(payload, sort_keys=True, indent=2) + "\n").encode("utf-8"))
