"""Writing a `builtin` torch model (manifest and safetensors weights). Split from
`torch_ranker`, which re-exports `save_builtin_torch`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import safetensors.torch
from torch import nn

from rankaudit.errors import ModelLoadError
from rankaudit.models.base import write_atomic
from rankaudit.models.torch_errors import one_line
from rankaudit.models.torch_loaders import check_builtin_shapes
from rankaudit.models.torch_manifest import MANIFEST_NAME, parse_manifest
from rankaudit.models.torch_nets import build_builtin

__all__ = ["save_builtin_torch"]


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
    """Write a `builtin` torch model: rankaudit-model.json and model.safetensors; returns None.

    Output is deterministic: top-level and hyperparameter keys sorted, indent 2, trailing
    newline; `categorical_features` and `heads` keep their given order, which is the module's
    input and output order. Each file is written to a temporary name and renamed, weights
    first, so a reader never sees a manifest naming missing weights. Raises ValueError when the
    module does not match the architecture and hyperparameters, or the features and heads do
    not match the hyperparameters.
    """
    try:
        hyper = json.loads(json.dumps(dict(hyperparameters), sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"hyperparameters must be JSON-serialisable: {exc}") from None
    reference = build_builtin(architecture, hyper)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}
    try:
        reference.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"module does not match architecture {architecture!r} with these hyperparameters: "
            f"{one_line(exc)}"
        ) from None
    weights_name = "model.safetensors"
    payload: dict[str, object] = {
        "architecture": architecture,
        "categorical_features": {f: list(v) for f, v in vocabularies.items()},
        "format": "builtin",
        "heads": {h: float(w) for h, w in heads.items()},
        "hyperparameters": hyper,
        "numeric_features": list(numeric_features),
    }
    if not heads:
        payload["output"] = "score"
    payload["weights"] = weights_name
    manifest_path = directory / MANIFEST_NAME
    try:
        check_builtin_shapes(parse_manifest(payload, manifest_path), hyper)
    except ModelLoadError as exc:
        raise ValueError(str(exc)) from None
    write_atomic(directory / weights_name, safetensors.torch.save(state))
    write_atomic(manifest_path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
