"""The `entrypoint` format: the user's ``package.module:factory``, imported (from the model
directory when it is not on sys.path) and called only for trusted code. Split from
`torch_ranker`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from rankaudit.errors import ModelLoadError
from rankaudit.models.base import ModelConfig, code_trusted
from rankaudit.models.torch_errors import one_line, user_code_error
from rankaudit.models.torch_manifest import TorchManifest
from rankaudit.models.torch_weights import apply_weights, load_state_dict_file

__all__ = ["load_entrypoint"]

#: Factories inside rankaudit itself that only build a module (the demo's ground truth): they run
#: no code from the workspace, so they need no trust, like the builtin architectures.
_RANKAUDIT_FACTORIES = frozenset({"rankaudit.synth.truth_model:build_truth_module"})


def _check_entrypoint(spec: object, where: str) -> str:
    if not isinstance(spec, str):
        raise ModelLoadError(f"{where}: 'entrypoint' must be a string 'package.module:factory'")
    module_name, _, attribute = spec.partition(":")
    parts = [*module_name.split("."), *attribute.split(".")]
    if ":" not in spec or not all(p.isidentifier() for p in parts):
        raise ModelLoadError(
            f"{where}: 'entrypoint' must look like 'package.module:factory'; got {spec!r}"
        )
    return spec


def _untrusted(config: ModelConfig, where: str, spec: str) -> ModelLoadError:
    table = f"[models.{config.name}]"
    return ModelLoadError(
        f"{where}: model {config.name!r} has format 'entrypoint', which runs Python code "
        f"({spec}) named by its model folder, and rankaudit runs a model's code only when told "
        f"to: if you trust this folder, set trust_code = true in {table} of rankaudit.toml, or "
        "pass rankaudit --trust-model-code (ModelConfig(trust_code=True) from Python)"
    )


def _import_entrypoint(spec: str, directory: Path, where: str) -> Callable[..., Any]:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only retry when the entrypoint module itself is missing, not one of its imports.
        if exc.name is None or not (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        ):
            raise ModelLoadError(
                f"{where}: importing {module_name!r} failed: {one_line(exc)}"
            ) from None
        module = _import_from(directory, module_name, where)
    except ModelLoadError:
        raise
    except BaseException as exc:
        raise user_code_error(exc, f"{where}: importing {module_name!r} failed") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ModelLoadError(
                f"{where}: entrypoint {spec!r}: module {module_name!r} has no attribute "
                f"{attribute!r}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise ModelLoadError(f"{where}: entrypoint {spec!r} is not callable")
    return target  # type: ignore[no-any-return]


def _import_from(directory: Path, module_name: str, where: str) -> Any:
    """Import `module_name` with the model directory first on sys.path, then restore sys.path,
    so a model shipped with its own code loads without the user editing PYTHONPATH."""
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ModelLoadError(
            f"{where}: cannot import {module_name!r}: not on sys.path and not in {directory} "
            f"({one_line(exc)})"
        ) from None
    except BaseException as exc:
        raise user_code_error(exc, f"{where}: importing {module_name!r} failed") from None
    finally:
        sys.path.remove(entry)


def load_entrypoint(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
    where = str(manifest.path)
    spec = _check_entrypoint(manifest.raw["entrypoint"], where)
    hyperparameters = manifest.hyperparameters()
    if spec not in _RANKAUDIT_FACTORIES and not code_trusted(config):
        # Reading the weights runs no code (weights_only): a problem with them (a pickled
        # module) is reported first, as it needs fixing whether or not the code is trusted.
        load_state_dict_file(manifest.file("weights"))
        raise _untrusted(config, where, spec)
    factory = _import_entrypoint(spec, manifest.directory, where)
    try:
        module = factory(**hyperparameters)
    except BaseException as exc:
        raise user_code_error(exc, f"{where}: calling {spec}(**hyperparameters) failed") from None
    if not isinstance(module, nn.Module):
        raise ModelLoadError(
            f"{where}: {spec} returned {type(module).__name__}, not a torch.nn.Module"
        )
    apply_weights(module, manifest.file("weights"))
    return module, f"torch entrypoint ({spec})"
