"""Reading torch weights: a state dict from ``.safetensors`` or ``.pt``/``.pth`` (never an
unpickled module), and loading it strictly into a module. Split from `torch_ranker`."""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from rankaudit.errors import ModelLoadError
from rankaudit.models.torch_errors import one_line

__all__ = ["apply_weights", "load_state_dict_file"]

_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")
_PLAIN_GLOBALS = ("numpy", "collections", "builtins", "torch._utils", "torch.storage")
_CONVERSION_HINT = (
    "save its state_dict instead (torch.save(model.state_dict(), 'weights.pt') or "
    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')) "
    "and load it through an 'entrypoint'"
)


def _refusal(path: Path, exc: pickle.UnpicklingError) -> ModelLoadError:
    match = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if match is None:
        return ModelLoadError(
            f"{path}: not a torch state_dict file (torch.load(weights_only=True) failed: "
            f"{one_line(exc, 160)})"
        )
    name = match.group(1)
    if name.startswith(_PLAIN_GLOBALS):
        return ModelLoadError(
            f"{path}: holds pickled objects other than tensors ({name}), which rankaudit will "
            f"not unpickle; {_CONVERSION_HINT}"
        )
    return ModelLoadError(
        f"{path}: is a pickled whole nn.Module, which rankaudit will not unpickle; "
        f"{_CONVERSION_HINT} (the file refers to {name})"
    )


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Return the state dict stored in a `.safetensors` or `.pt`/`.pth` file, on the CPU.

    Never unpickles objects: `.pt` files are read with `torch.load(weights_only=True)`, and a
    pickled whole module is refused with a ModelLoadError saying how to convert it.
    """
    if path.suffix not in _WEIGHT_SUFFIXES:
        raise ModelLoadError(
            f"{path}: weights must be a {', '.join(_WEIGHT_SUFFIXES)} file; got {path.suffix!r}"
        )
    if not path.is_file():
        raise ModelLoadError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        try:
            return safetensors.torch.load_file(str(path), device="cpu")
        except Exception as exc:  # SafetensorError and OSError both mean "not readable"
            raise ModelLoadError(
                f"{path}: not a readable safetensors file ({one_line(exc)})"
            ) from None
    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise _refusal(path, exc) from None
    except Exception as exc:  # truncated zip, not a torch file, ...
        raise ModelLoadError(f"{path}: cannot read torch weights ({one_line(exc)})") from None
    if not isinstance(loaded, Mapping):
        raise ModelLoadError(
            f"{path}: holds a {type(loaded).__name__}, not a state_dict (a dict of tensors); "
            "save model.state_dict()"
        )
    not_tensors = [str(k) for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ModelLoadError(
            f"{path}: is not a state_dict: key(s) {', '.join(not_tensors[:5])} do not hold "
            "tensors (a training checkpoint?); save model.state_dict() itself"
        )
    return {str(k): v for k, v in loaded.items()}


def apply_weights(module: nn.Module, path: Path) -> None:
    state = load_state_dict_file(path)
    expected = set(module.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing key {missing[0]!r} ({len(missing)} missing in all)")
        if unexpected:
            parts.append(f"unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected in all)")
        raise ModelLoadError(f"{path}: weights do not match the module: {'; '.join(parts)}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # same keys, other shapes
        raise ModelLoadError(f"{path}: weights do not match the module: {one_line(exc)}") from None
