"""Models: the Ranker protocol, the registry of model kinds, and the save helpers.

Importing this package is light: torch, lightgbm and xgboost are imported only when a model
of their kind is loaded (through `load_ranker`) or a torch save helper is first called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rankaudit.models.base import ModelConfig, Ranker
from rankaudit.models.linear import save_linear
from rankaudit.models.registry import (
    available_kinds,
    cached_ranker,
    load_ranker,
    register_adapter,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "ModelConfig",
    "Ranker",
    "available_kinds",
    "cached_ranker",
    "load_ranker",
    "register_adapter",
    "save_builtin_torch",
    "save_linear",
]


def save_builtin_torch(
    directory: Path,
    module: nn.Module,
    *,
    architecture: str,
    hyperparameters: Mapping[str, object],
    numeric_features: Sequence[str],
    vocabularies: Mapping[str, Sequence[str | int]],
    heads: Mapping[str, float],
) -> None:
    """Write a `builtin` torch model directory; returns None.

    See `rankaudit.models.torch_ranker.save_builtin_torch`; this wrapper only defers the torch
    import until a model is actually saved.
    """
    from rankaudit.models import torch_ranker

    torch_ranker.save_builtin_torch(
        directory,
        module,
        architecture=architecture,
        hyperparameters=hyperparameters,
        numeric_features=numeric_features,
        vocabularies=vocabularies,
        heads=heads,
    )
