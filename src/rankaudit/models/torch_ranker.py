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

This module holds the adapter (`TorchRanker`, `encode_features`, `resolve_device`); reading
weights is in `torch_weights`, the entrypoint format in `torch_entrypoint`, the loader of each
format in `torch_loaders`, writing a builtin model in `torch_saving` (re-exported here).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import torch
from torch import nn

from rankaudit.errors import ModelLoadError, ParameterError
from rankaudit.models.base import (
    ModelConfig,
    check_options,
    fingerprint_path,
    no_heads_error,
    option_int,
    read_json_object,
    require_columns,
    require_path,
)
from rankaudit.models.torch_errors import one_line, user_code_error
from rankaudit.models.torch_inputs import PlainInputs, forward_signature, resolve_inputs
from rankaudit.models.torch_loaders import LOADERS, set_eval
from rankaudit.models.torch_manifest import (
    MANIFEST_NAME,
    TWO_TENSOR,
    ModuleInputs,
    TorchFormat,
    parse_manifest,
    resolve_numeric_features,
)
from rankaudit.models.torch_saving import save_builtin_torch
from rankaudit.models.torch_weights import load_state_dict_file

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
            set_eval(moved)
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
            raise user_code_error(exc, f"{config.source}: loading {config.label} failed") from None

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
        module, label = LOADERS[manifest.format](manifest, config)
        set_eval(module)
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
            set_eval(module)
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
            raise user_code_error(exc, f"{self.name} ({self.kind}): forward failed") from None
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
                f"({type(exc).__name__}: {one_line(exc, 200)}){hint}"
            ) from None
