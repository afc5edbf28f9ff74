"""The `lightgbm` and `xgboost` kinds: gradient-boosted trees, one booster or one per head.

`path` is either one booster file (a single-score ranker whose score is the booster's output)
or a multi-head manifest::

    {"format": "rankaudit-multihead",
     "heads": {"favorite": {"file": "favorite.txt", "weight": 0.5}, ...}}

with files relative to the manifest, in head (output) order.

The option `output` picks the score space of every booster, and so of the final score
sum_h weight_h * head_h: "raw" (the margin, what a learning-to-rank objective orders by) or
"probability" (the objective's logistic link applied, binary objectives only). By default
binary classifiers give probabilities and every other objective (rankers, regressors) its raw
margin.

Boosters trained on a numpy array carry default feature names (LightGBM `Column_0`, XGBoost
none or `f0`); they are matched to the workspace spec's features by position when the counts
agree, with a note on the ranker.

Both libraries share everything but loading a booster and reading its metadata, which each
`Backend` supplies; the libraries are imported only when a model of their kind is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from rankaudit.errors import ModelLoadError, WorkspaceError
from rankaudit.models.base import (
    ModelConfig,
    check_keys,
    check_options,
    fingerprint_files,
    fingerprint_path,
    finite_float,
    no_heads_error,
    option_str,
    require_columns,
    require_path,
)
from rankaudit.models.tree_boosters import (
    OUTPUTS,
    Backend,
    LightGBMBackend,
    Output,
    TreeModel,
    XGBoostBackend,
)

__all__ = ["MULTIHEAD_FORMAT", "OUTPUTS", "LightGBMRanker", "Output", "XGBoostRanker"]

MULTIHEAD_FORMAT = "rankaudit-multihead"

_SPACE_WORDS: dict[Output, str] = {"raw": "raw margin", "probability": "probability"}


# --- the adapter ----------------------------------------------------------------------------


def _read_manifest(path: Path, raw: dict[str, Any]) -> dict[str, tuple[Path, str, float]]:
    """Return head -> (file, file as written, weight) from a multi-head manifest."""
    where = str(path)
    if raw["format"] != MULTIHEAD_FORMAT:
        raise ModelLoadError(
            f"{where}: 'format' must be {MULTIHEAD_FORMAT!r}; got {raw['format']!r}"
        )
    check_keys(raw, where, required=("format", "heads"))
    heads = raw["heads"]
    if not isinstance(heads, dict) or not heads:
        raise ModelLoadError(
            f"{where}: 'heads' must be a non-empty object: head -> {{'file': ..., 'weight': ...}}"
        )
    out: dict[str, tuple[Path, str, float]] = {}
    for head, entry in heads.items():
        at = f"{where}: heads.{head}"
        if not head or not isinstance(entry, dict):
            raise ModelLoadError(f"{at} must be an object with 'file' and 'weight'")
        check_keys(entry, at, required=("file", "weight"))
        file = entry["file"]
        if not isinstance(file, str) or not file:
            raise ModelLoadError(f"{at}: 'file' must be a path relative to the manifest")
        out[head] = (path.parent / file, file, finite_float(entry["weight"], at, "weight"))
    return out


def _check_same_features(models: Mapping[str, TreeModel], where: str) -> None:
    (first_head, first), *rest = models.items()
    for head, model in rest:
        if model.feature_names == first.feature_names:
            continue
        extra = sorted(set(model.feature_names) - set(first.feature_names))
        missing = sorted(set(first.feature_names) - set(model.feature_names))
        detail = (
            f"extra {extra}, missing {missing}" if extra or missing else "same names, other order"
        )
        raise ModelLoadError(
            f"{where}: head {head!r} ({model.path.name}) reads other features than head "
            f"{first_head!r} ({first.path.name}): {detail}; all heads must read the same features"
        )
    for head, model in rest:
        if set(model.categorical_features) != set(first.categorical_features):
            raise ModelLoadError(
                f"{where}: head {head!r} treats {sorted(model.categorical_features)} as "
                f"categorical but head {first_head!r} treats {sorted(first.categorical_features)}"
            )


def _name_by_spec(model: TreeModel, config: ModelConfig, hint: str) -> tuple[TreeModel, str | None]:
    """Return `model` with its default feature names replaced by the spec's, in spec order, and
    the note saying so; a model with real names comes back as it is, without a note.

    Raises ModelLoadError saying the counts when the names cannot be matched: without a spec,
    or when the spec lists another number of features.
    """
    names = model.feature_names
    spec = config.spec
    if not model.default_names or (spec is not None and set(names) <= set(spec.names)):
        return model, None
    n = len(names)
    shown = f"{names[0]}..{names[-1]}" if n else "none"
    if spec is None:
        raise ModelLoadError(
            f"{model.path}: the booster has default feature names ({shown}) and no feature "
            f"spec to match its {n} features to by position; {hint}, or load it in a "
            f"workspace whose spec lists its {n} features in training order"
        )
    if len(spec) != n:
        raise ModelLoadError(
            f"{model.path}: the booster has {n} unnamed features ({shown}) but the spec "
            f"{spec.source} lists {len(spec)}; unnamed features are matched by position only "
            f"when the counts are equal: {hint}, or list exactly its {n} features, in training "
            "order, in the spec"
        )
    rename = dict(zip(names, spec.names, strict=True))
    renamed = dataclasses.replace(
        model,
        feature_names=spec.names,
        categorical_features=tuple(rename[c] for c in model.categorical_features),
        categories=MappingProxyType({rename[k]: v for k, v in model.categories.items()}),
        default_names=False,
    )
    note = (
        f"matched the booster's {n} unnamed features ({shown}) to the spec by position; "
        "check that the spec lists them in training order"
    )
    return renamed, note


def _read_output(config: ModelConfig) -> Output | None:
    """Return the `output` option, or None when it is not set."""
    if "output" not in config.options:
        return None
    value = option_str(config, "output", "raw")
    for output in OUTPUTS:
        if value == output:
            return output
    raise WorkspaceError(
        f"{config.source}: 'output' for kind {config.kind!r} must be 'raw' or 'probability'; "
        f"got {value!r}"
    )


def _resolve_output(
    config: ModelConfig, requested: Output | None, models: tuple[TreeModel, ...]
) -> tuple[Output, Output]:
    """Return (the chosen output, the default output) for `models`: probability by default
    when every booster has a binary objective, raw otherwise; raises ModelLoadError when
    probabilities are `requested` of a booster whose objective gives none."""
    default: Output = "probability" if all(m.gives_probability for m in models) else "raw"
    chosen = requested or default
    if chosen == "probability":
        for model in models:
            if not model.gives_probability:
                raise ModelLoadError(
                    f"{config.source}: output = 'probability' but {model.path} has objective "
                    f"{model.objective!r}, whose scores are raw margins, not probabilities; "
                    "set output = 'raw' or remove 'output'"
                )
    return chosen, default


def _probe(model: TreeModel) -> None:
    # A one-row prediction catches multi-output boosters at load time, not mid-audit.
    out = model.predict(np.zeros((1, len(model.feature_names)), dtype=np.float64))
    if out.shape != (1,):
        raise ModelLoadError(
            f"{model.path}: the booster returns shape {out.shape[1:]} per row; "
            "rankaudit needs one score per row, or one booster per head"
        )


@dataclass(frozen=True, eq=False)
class _TreeRanker:
    """Shared implementation of the tree kinds; subclasses name their backend."""

    BACKEND: ClassVar[Backend]
    LIBRARY: ClassVar[str]
    OPTIONS: ClassVar[frozenset[str]] = frozenset({"output"})

    name: str
    kind: str
    models: tuple[TreeModel, ...] = field(repr=False)
    heads: tuple[str, ...]
    head_weights: Mapping[str, float]
    fingerprint: str
    #: The score space of every head and of the final score.
    output: Output
    #: What loading assumed and the user should check (e.g. features matched by position).
    notes: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        """Return the ranker for a booster file or a multi-head manifest at `config.path`."""
        check_options(config, cls.OPTIONS)
        path = require_path(config)
        requested = _read_output(config)  # reported before any file is read
        manifest = _read_if_manifest(path)
        if manifest is None:
            entries = None
            loaded = {"": cls._load(path, config)}
        else:
            entries = _read_manifest(path, manifest)
            loaded = {}
            for head, (file, _, _) in entries.items():
                if not file.is_file():
                    raise ModelLoadError(f"{path}: heads.{head}: model file {file} not found")
                loaded[head] = cls._load(file, config)
        notes = tuple(dict.fromkeys(n for _, n in loaded.values() if n is not None))
        output, default = _resolve_output(config, requested, tuple(m for m, _ in loaded.values()))
        models = {h: dataclasses.replace(m, output=output) for h, (m, _) in loaded.items()}
        for model in models.values():
            _probe(model)
        if entries is None:
            return cls(
                name=config.name,
                kind=config.kind,
                models=tuple(models.values()),
                heads=(),
                head_weights=MappingProxyType({}),
                fingerprint=_output_fingerprint(fingerprint_path(path), output, default),
                output=output,
                notes=notes,
            )
        _check_same_features(models, str(path))
        files = {path.name: path} | {written: file for file, written, _ in entries.values()}
        return cls(
            name=config.name,
            kind=config.kind,
            models=tuple(models.values()),
            heads=tuple(entries),
            head_weights=MappingProxyType({h: w for h, (_, _, w) in entries.items()}),
            fingerprint=_output_fingerprint(fingerprint_files(files), output, default),
            output=output,
            notes=notes,
        )

    @classmethod
    def _load(cls, path: Path, config: ModelConfig) -> tuple[TreeModel, str | None]:
        return _name_by_spec(cls.BACKEND.load(path), config, cls.BACKEND.NAME_HINT)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.models[0].feature_names

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return self.models[0].categorical_features

    @property
    def required_columns(self) -> tuple[str, ...]:
        return self.feature_names

    @property
    def description(self) -> str:
        n = len(self.feature_names)
        objectives = ", ".join(dict.fromkeys(m.objective for m in self.models))
        space = _SPACE_WORDS[self.output]
        if not self.heads:
            return f"{self.LIBRARY} booster ({objectives}), {n} features, {space} scores"
        return (
            f"{self.LIBRARY} multi-head ({len(self.heads)} boosters, {objectives}), "
            f"{n} features, {space} scores"
        )

    def _predict_heads(self, frame: pd.DataFrame) -> list[np.ndarray]:
        require_columns(frame, f"{self.name} ({self.kind})", self.required_columns)
        matrices: dict[tuple[object, ...], np.ndarray] = {}
        out = []
        for model in self.models:
            key = model.encoding_key
            if key not in matrices:
                matrices[key] = model.encode(frame)
            out.append(model.predict(matrices[key]))
        return out

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return float64 scores in the `output` space: the booster's output, or
        sum_h weight_h * head_h."""
        predictions = self._predict_heads(frame)
        if not self.heads:
            return predictions[0]
        total = np.zeros(len(frame), dtype=np.float64)
        for head, p in zip(self.heads, predictions, strict=True):
            total += self.head_weights[head] * p
        return total

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return one float64 column per head (each booster's output, in the `output` space),
        indexed like `frame`; raises ModelLoadError for a single-booster ranker."""
        if not self.heads:
            raise no_heads_error(f"{self.name} ({self.kind})")
        predictions = self._predict_heads(frame)
        return pd.DataFrame(dict(zip(self.heads, predictions, strict=True)), index=frame.index)


def _output_fingerprint(files_digest: str, output: Output, default: Output) -> str:
    """Return `files_digest` for the default output; otherwise a digest that also covers the
    output, so that results computed in one score space are never reused for the other."""
    if output == default:
        return files_digest
    return hashlib.sha256(f"{files_digest}:output={output}".encode()).hexdigest()


def _read_if_manifest(path: Path) -> dict[str, Any] | None:
    """Return the manifest object when `path` is a rankaudit multi-head manifest, else None.

    An XGBoost JSON model is also a JSON object; a manifest is told apart by its 'format' key.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelLoadError(
            f"{path}: is a directory; give the booster file or the multi-head manifest"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror})") from None
    if data.lstrip()[:1] != b"{":
        return None
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # let the library report what is wrong with its own format
    if isinstance(raw, dict) and "format" in raw:
        return raw
    return None


class LightGBMRanker(_TreeRanker):
    """The `lightgbm` kind: LightGBM text models (Booster.save_model)."""

    BACKEND: ClassVar[Backend] = LightGBMBackend()
    LIBRARY: ClassVar[str] = "lightgbm"


class XGBoostRanker(_TreeRanker):
    """The `xgboost` kind: XGBoost JSON (or UBJSON) models (Booster.save_model)."""

    BACKEND: ClassVar[Backend] = XGBoostBackend()
    LIBRARY: ClassVar[str] = "xgboost"
