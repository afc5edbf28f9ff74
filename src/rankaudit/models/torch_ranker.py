"""The `torch` kind: a neural ranker in a directory described by `rankaudit-model.json`.

Four formats load a module:

* ``builtin``: an architecture of `torch_nets` rebuilt from its hyperparameters, plus weights;
* ``entrypoint``: the user's own ``package.module:factory`` (called with the hyperparameters),
  plus weights; it runs the user's Python code, so only for a trusted model (``trust_code = true``
  in its table of rankaudit.toml, or ``rankaudit --trust-model-code``);
* ``torchscript``: a ``torch.jit.save`` archive;
* ``export``: a ``torch.export.save`` program.

The module follows one of two contracts (see `torch_inputs`): two-tensor,
``forward(x_num: float32 [N, n_numeric], x_cat: int64 [N, n_categorical])``, or plain,
``forward(x: float32 [N, n_numeric])``; a plain module is wrapped so that the rest of rankaudit
sees the two-tensor one. Either returns head probabilities [N, n_heads], or a raw score [N] /
[N, 1] for a single-score model. The manifest's keys live in `torch_manifest`.

Weights are a state dict in ``.safetensors`` or a ``.pt``/``.pth`` file read with
``torch.load(weights_only=True)``. Pickled modules are refused: unpickling runs arbitrary code.
Whatever user code raises while it is imported, called or probed (``SystemExit`` included)
becomes a ModelLoadError: a factory calling ``sys.exit(0)`` must not end a run as a success.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import json
import logging
import pickle
import re
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import safetensors.torch
import torch
from torch import nn

from rankaudit.errors import ModelLoadError, ParameterError
from rankaudit.models.base import (
    ModelConfig,
    check_options,
    code_trusted,
    fingerprint_path,
    no_heads_error,
    option_int,
    read_json_object,
    require_columns,
    require_path,
    write_atomic,
)
from rankaudit.models.torch_inputs import PlainInputs, forward_signature, resolve_inputs
from rankaudit.models.torch_manifest import (
    MANIFEST_NAME,
    TWO_TENSOR,
    ModuleInputs,
    TorchFormat,
    TorchManifest,
    parse_manifest,
    resolve_numeric_features,
)
from rankaudit.models.torch_nets import ARCHITECTURE_LABELS, build_builtin

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MANIFEST_NAME",
    "ModuleInputs",
    "TorchFormat",
    "TorchRanker",
    "encode_features",
    "load_state_dict_file",
    "resolve_device",
    "save_builtin_torch",
]

DEFAULT_BATCH_SIZE = 65536
_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")
_PLAIN_GLOBALS = ("numpy", "collections", "builtins", "torch._utils", "torch.storage")
_CONVERSION_HINT = (
    "save its state_dict instead (torch.save(model.state_dict(), 'weights.pt') or "
    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')) "
    "and load it through an 'entrypoint'"
)
#: Factories inside rankaudit itself that only build a module (the demo's ground truth): they run
#: no code from the workspace, so they need no trust, like the builtin architectures.
_RANKAUDIT_FACTORIES = frozenset({"rankaudit.synth.truth_model:build_truth_module"})


def resolve_device(name: str) -> torch.device:
    """Return the torch device for `name` (auto, cpu, cuda, mps): `auto` picks CUDA, then MPS,
    then the CPU; raises ParameterError when the named accelerator is not available."""
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cpu" or (name == "cuda" and cuda) or (name == "mps" and mps):
        return torch.device(name)
    if name in ("cuda", "mps"):
        raise ParameterError(
            f"--device {name}: no {name.upper()} device is available to torch on this machine; "
            "use --device cpu (or auto, which falls back to the CPU)"
        )
    raise ParameterError(
        f"The 'device' option must be one of auto, cpu, cuda, mps. Got {name!r} instead."
    )


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """Return an exception's message on one line, shortened; torch messages span many lines."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- weights --------------------------------------------------------------------------------


def _refusal(path: Path, exc: pickle.UnpicklingError) -> ModelLoadError:
    match = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if match is None:
        return ModelLoadError(
            f"{path}: not a torch state_dict file (torch.load(weights_only=True) failed: "
            f"{_one_line(exc, 160)})"
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
                f"{path}: not a readable safetensors file ({_one_line(exc)})"
            ) from None
    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise _refusal(path, exc) from None
    except Exception as exc:  # truncated zip, not a torch file, ...
        raise ModelLoadError(f"{path}: cannot read torch weights ({_one_line(exc)})") from None
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


def _apply_weights(module: nn.Module, path: Path) -> None:
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
        raise ModelLoadError(f"{path}: weights do not match the module: {_one_line(exc)}") from None


# --- one loader per format ------------------------------------------------------------------


def _load_builtin(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
    architecture = manifest.raw["architecture"]
    hyperparameters = manifest.hyperparameters()
    _check_builtin_shapes(manifest, hyperparameters)
    try:
        module = build_builtin(str(architecture), hyperparameters)
    except ValueError as exc:
        raise ModelLoadError(f"{manifest.path}: {exc}") from None
    _apply_weights(module, manifest.file("weights"))
    label = ARCHITECTURE_LABELS.get(str(architecture), str(architecture))
    return module, f"torch {architecture} ({label})"


def _check_builtin_shapes(manifest: TorchManifest, hyperparameters: Mapping[str, Any]) -> None:
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


def _user_code_error(exc: BaseException, what: str) -> BaseException:
    """Return the ModelLoadError for `exc`, raised by user code while `what`; a
    KeyboardInterrupt is returned as it is (the user stopped the run). SystemExit and the other
    BaseExceptions become errors too: a factory calling sys.exit(0) must not pass as success."""
    if isinstance(exc, KeyboardInterrupt):
        return exc
    return ModelLoadError(f"{what}: {type(exc).__name__}: {_one_line(exc)}")


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
                f"{where}: importing {module_name!r} failed: {_one_line(exc)}"
            ) from None
        module = _import_from(directory, module_name, where)
    except ModelLoadError:
        raise
    except BaseException as exc:
        raise _user_code_error(exc, f"{where}: importing {module_name!r} failed") from None
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
            f"({_one_line(exc)})"
        ) from None
    except BaseException as exc:
        raise _user_code_error(exc, f"{where}: importing {module_name!r} failed") from None
    finally:
        sys.path.remove(entry)


def _load_entrypoint(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
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
        raise _user_code_error(exc, f"{where}: calling {spec}(**hyperparameters) failed") from None
    if not isinstance(module, nn.Module):
        raise ModelLoadError(
            f"{where}: {spec} returned {type(module).__name__}, not a torch.nn.Module"
        )
    _apply_weights(module, manifest.file("weights"))
    return module, f"torch entrypoint ({spec})"


def _load_torchscript(manifest: TorchManifest, config: ModelConfig) -> tuple[nn.Module, str]:
    file = manifest.file("file")
    try:
        # torch.jit is deprecated upstream but is still how many models are shipped.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(file), map_location="cpu")
    except Exception as exc:
        raise ModelLoadError(f"{file}: not a TorchScript archive ({_one_line(exc)})") from None
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
        raise ModelLoadError(f"{file}: not a torch.export program ({_one_line(exc)})") from None
    return module, f"torch.export program ({file.name})"


_LOADERS: Mapping[str, Callable[[TorchManifest, ModelConfig], tuple[nn.Module, str]]] = {
    "builtin": _load_builtin,
    "entrypoint": _load_entrypoint,
    "torchscript": _load_torchscript,
    "export": _load_export,
}


def _set_eval(module: nn.Module) -> None:
    # Programs from torch.export refuse train/eval switching; they run in the mode they were
    # exported in.
    with contextlib.suppress(NotImplementedError):
        module.eval()


def _two_tensor_hint(module: nn.Module) -> str:
    """What to say when a module taken for the two-tensor contract fails its probe although its
    forward can be called with one tensor (forward(x, scale=1.0))."""
    signature = forward_signature(module)
    if signature is None or signature.required != 1:
        return ""
    return (
        f"; {signature.text} was fed (x_num, x_cat): if it takes the numeric features alone, "
        'declare "inputs": "numeric"'
    )


# --- the adapter ----------------------------------------------------------------------------


def _encode_categorical(series: pd.Series, vocabulary: pd.Index) -> np.ndarray:
    """Return int64 indices: vocab[i] -> i + 1, unseen or missing -> 0. Vectorised."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Look up each category once instead of every row.
        lookup = vocabulary.get_indexer(series.cat.categories.astype(str)) + 1
        codes = series.cat.codes.to_numpy()
        if len(lookup) == 0:
            return np.zeros(len(series), dtype=np.int64)
        return np.where(codes >= 0, lookup[codes], 0).astype(np.int64)
    return (vocabulary.get_indexer(pd.Index(series.astype(str))) + 1).astype(np.int64)


def encode_features(
    frame: pd.DataFrame,
    numeric_features: Sequence[str],
    vocabularies: Mapping[str, Sequence[str | int] | pd.Index],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the module inputs for `frame`: float32 raw numeric values [N, n_numeric] and int64
    vocabulary indices [N, n_categorical] (vocab[i] -> i + 1, unseen -> 0).

    Shared by scoring and by training, so a trained model sees exactly what it will be fed.
    """
    numeric = frame.loc[:, list(numeric_features)].to_numpy(dtype=np.float32)
    if not (numeric.flags.writeable and numeric.flags.c_contiguous):
        # pandas may hand out a read-only view of the frame's own block; the tensor must
        # neither alias the caller's frame nor wrap non-writable memory.
        numeric = np.array(numeric, dtype=np.float32, order="C")
    x_cat = np.zeros((len(frame), len(vocabularies)), dtype=np.int64)
    for j, (feature, vocabulary) in enumerate(vocabularies.items()):
        index = (
            vocabulary
            if isinstance(vocabulary, pd.Index)
            else pd.Index([str(v) for v in vocabulary])
        )
        x_cat[:, j] = _encode_categorical(frame[feature], index)
    return torch.from_numpy(numeric), torch.from_numpy(x_cat)


@dataclass(frozen=True, eq=False)
class TorchRanker:
    """A torch module behind the `torch` kind's contract, ready to score log rows.

    `module` always takes (x_num, x_cat): a plain forward(x) module is held in a `PlainInputs`.
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"batch_size"})

    name: str
    kind: str
    module: nn.Module = field(repr=False)
    format: TorchFormat
    numeric_features: tuple[str, ...]
    vocabularies: Mapping[str, tuple[str, ...]]
    heads: tuple[str, ...]
    head_weights: Mapping[str, float]
    fingerprint: str
    description: str
    batch_size: int = DEFAULT_BATCH_SIZE
    #: The module contract: 'numeric' for a plain forward(x), which `module` wraps.
    inputs: ModuleInputs = TWO_TENSOR
    #: Lines for `validate`: how the inputs were decided, where the feature list came from.
    notes: tuple[str, ...] = ()
    _indexes: Mapping[str, pd.Index] = field(init=False, repr=False)
    _on_device: dict[str, nn.Module] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        indexes = {f: pd.Index(list(v), dtype=object) for f, v in self.vocabularies.items()}
        object.__setattr__(self, "_indexes", MappingProxyType(indexes))
        object.__setattr__(self, "_on_device", {})

    def module_on(self, device: torch.device | str) -> nn.Module:
        """Return the module on `device`: the ranker's own on the CPU, else a copy made once
        (scoring keeps using the CPU module, so the two never mix tensors)."""
        device = torch.device(device)
        if device.type == "cpu":
            return self.module
        key = str(device)
        if key not in self._on_device:
            moved = copy.deepcopy(self.module).to(device)
            _set_eval(moved)
            self._on_device[key] = moved
        return self._on_device[key]

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        """Return the ranker in the model directory `config.path`; option `batch_size`
        (rows per forward pass, default 65536)."""
        try:
            return cls._load(config)
        except (Exception, KeyboardInterrupt):
            raise
        except BaseException as exc:  # SystemExit from a trusted module's eval(), state_dict()...
            raise _user_code_error(exc, f"{config.source}: loading {config.label} failed") from None

    @classmethod
    def _load(cls, config: ModelConfig) -> Self:
        check_options(config, cls.OPTIONS)
        batch_size = option_int(config, "batch_size", DEFAULT_BATCH_SIZE)
        directory = require_path(config)
        if directory.name == MANIFEST_NAME and directory.is_file():
            # Pointing at the manifest instead of its directory is an easy slip; accept it.
            directory = directory.parent
        manifest_path = directory / MANIFEST_NAME
        if not directory.is_dir():
            raise ModelLoadError(
                f"{directory}: a torch model must be a directory holding {MANIFEST_NAME}"
            )
        manifest = parse_manifest(read_json_object(manifest_path, "model manifest"), manifest_path)
        module, label = _LOADERS[manifest.format](manifest, config)
        _set_eval(module)
        inputs: ModuleInputs = TWO_TENSOR
        notes: tuple[str, ...] = ()
        if manifest.format != "builtin":  # builtin architectures all take two tensors
            inputs, notes = resolve_inputs(manifest.inputs, module, str(manifest_path))
        numeric, feature_notes = resolve_numeric_features(manifest, inputs, config.spec)
        fingerprint = fingerprint_path(directory)
        if manifest.numeric_features is None:
            # The input order came from the spec, so it is part of what the model computes.
            listed = json.dumps(list(numeric))
            fingerprint = hashlib.sha256(f"{fingerprint}\n{listed}".encode()).hexdigest()
        shape = f"{len(manifest.heads)} heads" if manifest.heads else "single score"
        if inputs == TWO_TENSOR:
            description = f"{label}, {len(numeric) + len(manifest.vocabularies)} features, {shape}"
            hint = _two_tensor_hint(module) if manifest.format != "builtin" else ""
        else:
            module = PlainInputs(module)
            _set_eval(module)
            description = f"{label}, forward(x) on {len(numeric)} numeric features, {shape}"
            source = (
                "listed in 'numeric_features'"
                if manifest.numeric_features is not None
                else "of the feature spec; list the module's own in 'numeric_features'"
            )
            hint = f"; forward(x) was fed {len(numeric)} numeric feature(s) {source}"
        ranker = cls(
            name=config.name,
            kind=config.kind,
            module=module,
            format=manifest.format,
            numeric_features=numeric,
            vocabularies=manifest.vocabularies,
            heads=tuple(manifest.heads),
            head_weights=manifest.heads,
            fingerprint=fingerprint,
            description=description,
            batch_size=batch_size,
            inputs=inputs,
            notes=notes + feature_notes,
        )
        ranker._probe(manifest_path, hint)
        return ranker

    # The Ranker members -----------------------------------------------------------------

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return tuple(self.vocabularies)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.numeric_features + self.categorical_features

    @property
    def required_columns(self) -> tuple[str, ...]:
        return self.feature_names

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return float64 scores: sum_h weight_h * p_h for multi-head models, else the raw
        model output."""
        out = self._forward(frame)
        if not self.heads:
            return out
        weights = np.array([self.head_weights[h] for h in self.heads], dtype=np.float64)
        return np.asarray(out @ weights, dtype=np.float64)

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the float64 probability of every head, one column each, indexed like
        `frame`; raises ModelLoadError for a single-score model."""
        if not self.heads:
            raise no_heads_error(f"{self.name} ({self.kind})")
        return pd.DataFrame(self._forward(frame), index=frame.index, columns=list(self.heads))

    # For the attribution engine ------------------------------------------------------------

    def encode(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the module inputs for `frame`: float32 raw numeric values [N, n_numeric] and
        int64 vocabulary indices [N, n_categorical] (unseen values -> 0)."""
        require_columns(frame, f"{self.name} ({self.kind})", self.feature_names)
        return self._encode(frame)

    def _encode(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_features(frame, self.numeric_features, self._indexes)

    def _run(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> np.ndarray:
        """Run the module and return float64 [N, n_heads] (or [N] for a single score)."""
        try:
            with torch.inference_mode():
                out = self.module(x_num, x_cat)
        except (Exception, KeyboardInterrupt):
            raise
        except BaseException as exc:  # SystemExit from user code must not end the run as success
            raise _user_code_error(exc, f"{self.name} ({self.kind}): forward failed") from None
        n = x_num.shape[0]
        if not isinstance(out, torch.Tensor):
            raise ModelLoadError(
                f"{self.name} ({self.kind}): forward returned {type(out).__name__}, not a Tensor"
            )
        if self.heads:
            if tuple(out.shape) != (n, len(self.heads)):
                raise ModelLoadError(
                    f"{self.name} ({self.kind}): forward returned shape {tuple(out.shape)} for "
                    f"{n} rows; expected ({n}, {len(self.heads)}), one column per head"
                )
        elif tuple(out.shape) in ((n,), (n, 1)):
            out = out.reshape(n)
        else:
            raise ModelLoadError(
                f"{self.name} ({self.kind}): forward returned shape {tuple(out.shape)} for "
                f"{n} rows; a single-score model must return ({n},) or ({n}, 1)"
            )
        return out.detach().to(torch.float64).numpy()

    def _forward(self, frame: pd.DataFrame) -> np.ndarray:
        require_columns(frame, f"{self.name} ({self.kind})", self.feature_names)
        shape: tuple[int, ...] = (0, len(self.heads)) if self.heads else (0,)
        chunks = [np.empty(shape, dtype=np.float64)]
        for start in range(0, len(frame), self.batch_size):
            chunk = frame.iloc[start : start + self.batch_size]
            chunks.append(self._run(*self._encode(chunk)))
        return np.concatenate(chunks)

    def _probe(self, manifest_path: Path, hint: str = "") -> None:
        """Run two rows (zeros/index 0 and ones/the last vocabulary index) through the module,
        so that shape and vocabulary mismatches surface at load time, not mid-audit; `hint` is
        appended to the message of a failing module."""
        x_num = torch.stack(
            [torch.zeros(len(self.numeric_features)), torch.ones(len(self.numeric_features))]
        )
        last = torch.tensor([len(v) for v in self.vocabularies.values()], dtype=torch.int64)
        x_cat = torch.stack([torch.zeros_like(last), last])
        try:
            self._run(x_num, x_cat)
        except ModelLoadError as exc:
            raise ModelLoadError(f"{manifest_path}: {exc}{hint}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            if self.format == "export":
                hint += "; export it with torch.export.Dim for the batch dimension"
            raise ModelLoadError(
                f"{manifest_path}: the module fails on a 2-row probe batch "
                f"({type(exc).__name__}: {_one_line(exc, 200)}){hint}"
            ) from None


# --- saving ---------------------------------------------------------------------------------


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
            f"{_one_line(exc)}"
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
        _check_builtin_shapes(parse_manifest(payload, manifest_path), hyper)
    except ModelLoadError as exc:
        raise ValueError(str(exc)) from None
    write_atomic(directory / weights_name, safetensors.torch.save(state))
    write_atomic(manifest_path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
