"""One loader per format of the `torch` kind (builtin, entrypoint, torchscript, export), each
returning the module and its label. Split from `torch_ranker`."""

from __future__ import annotations

import contextlib
import logging
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from rankaudit.errors import ModelLoadError
from rankaudit.models.base import ModelConfig
from rankaudit.models.torch_entrypoint import load_entrypoint
from rankaudit.models.torch_errors import one_line
from rankaudit.models.torch_manifest import TorchManifest
from rankaudit.models.torch_nets import ARCHITECTURE_LABELS, build_builtin
from rankaudit.models.torch_weights import apply_weights

__all__ = ["LOADERS", "check_builtin_shapes", "set_eval"]


def _load_builtin(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
    architecture = manifest.raw["architecture"]
    hyperparameters = manifest.hyperparameters()
    check_builtin_shapes(manifest, hyperparameters)
    try:
        module = build_builtin(str(architecture), hyperparameters)
    except ValueError as exc:
        raise ModelLoadError(f"{manifest.path}: {exc}") from None
    apply_weights(module, manifest.file("weights"))
    label = ARCHITECTURE_LABELS.get(str(architecture), str(architecture))
    return module, f"torch {architecture} ({label})"


def check_builtin_shapes(manifest: TorchManifest, hyperparameters: Mapping[str, Any]) -> None:
    """The builtin constructors take their input shape from the hyperparameters; a manifest
    whose features disagree would silently feed columns to the wrong weights."""
    n_outputs = max(len(manifest.heads), 1)
    expected = {
        # 'numeric_features' is a required key of the builtin format.
        "n_numeric": len(manifest.numeric_features or ()),
        "vocab_sizes": [len(v) for v in manifest.vocabularies.values()],
        "n_outputs": n_outputs,
    }
    for key, value in expected.items():
        if key in hyperparameters and hyperparameters[key] != value:
            raise ModelLoadError(
                f"{manifest.path}: hyperparameters.{key} is {hyperparameters[key]!r} but the "
                f"features and heads of the manifest need {value!r}"
            )


def _load_torchscript(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
    file = manifest.file("file")
    try:
        # torch.jit is deprecated upstream but is still how many models are shipped.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(file), map_location="cpu")
    except Exception as exc:
        raise ModelLoadError(f"{file}: not a TorchScript archive ({one_line(exc)})") from None
    return module, f"torch TorchScript ({file.name})"


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Keep a library logger quiet while the block runs: torch.export logs a whole traceback
    as a warning before it raises, and the error already says what is wrong in one line."""
    logger = logging.getLogger(name)
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


def _load_export(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
    file = manifest.file("file")
    if not zipfile.is_zipfile(file):
        raise ModelLoadError(
            f"{file}: not a torch.export program (a .pt2 file is a zip archive and this is "
            "not one); write it with torch.export.save(program, 'model.pt2')"
        )
    try:
        with _quiet_logger("torch.export"):
            module = torch.export.load(str(file)).module()
    except Exception as exc:
        raise ModelLoadError(f"{file}: not a torch.export program ({one_line(exc)})") from None
    return module, f"torch.export program ({file.name})"


LOADERS: Mapping[str, Callable[[TorchManifest, ModelConfig], tuple[nn.Module, str]]] = {
    "builtin": _load_builtin,
    "entrypoint": load_entrypoint,
    "torchscript": _load_torchscript,
    "export": _load_export,
}


def set_eval(module: nn.Module) -> None:
    # Programs from torch.export refuse train/eval switching; they run in the mode they were
    # exported in.
    with contextlib.suppress(NotImplementedError):
        module.eval()
