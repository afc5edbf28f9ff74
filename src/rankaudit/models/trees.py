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
`_Backend` supplies; the libraries are imported only when a model of their kind is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, ClassVar, Literal, Protocol, Self

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
from rankaudit.models.booster_files import (
    check_lightgbm_text,
    check_xgboost_file,
    quiet_native_output,
)

__all__ = ["MULTIHEAD_FORMAT", "OUTPUTS", "LightGBMRanker", "Output", "XGBoostRanker"]

MULTIHEAD_FORMAT = "rankaudit-multihead"

#: The score space of a tree ranker: the booster's raw margin, or its probability.
Output = Literal["raw", "probability"]
OUTPUTS: tuple[Output, ...] = ("raw", "probability")

_SPACE_WORDS: dict[Output, str] = {"raw": "raw margin", "probability": "probability"}


# --- one booster ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _TreeModel:
    """One loaded booster with what is needed to feed it: its features and category codes.

    `categories` maps a categorical feature to the category list the booster was trained
    with (a value's code is its position); a categorical feature without a list is assumed to
    hold the integer codes already. `objective` is the library's name for the training
    objective ("lambdarank", "binary", "rank:ndcg", ...); `gives_probability` says whether it
    maps the margin to a probability. `predict` returns the `output` space. `default_names`
    marks feature names the library made up (the booster was trained on a numpy array).
    """

    path: Path
    booster: Any = field(repr=False)
    feature_names: tuple[str, ...]
    categorical_features: tuple[str, ...]
    categories: Mapping[str, pd.Index]
    objective: str
    gives_probability: bool
    predict_output: Callable[[np.ndarray, Output], object] = field(repr=False)
    output: Output = "raw"
    default_names: bool = False

    @property
    def encoding_key(self) -> tuple[object, ...]:
        """Equal keys mean equal matrices for the same frame, so heads can share one."""
        return (
            self.feature_names,
            self.categorical_features,
            tuple((k, tuple(v)) for k, v in sorted(self.categories.items())),
        )

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the float64 matrix the booster reads, columns in its feature order."""
        x = np.empty((len(frame), len(self.feature_names)), dtype=np.float64)
        categorical = set(self.categorical_features)
        for j, name in enumerate(self.feature_names):
            column = frame[name]
            if name not in categorical:
                x[:, j] = column.to_numpy(dtype=np.float64)
            elif name in self.categories:
                # Vectorised lookup, compared as strings; unseen values become NaN, which both
                # libraries route down the missing-value branch, as they would at training.
                codes = self.categories[name].get_indexer(pd.Index(column.astype(str)))
                x[:, j] = np.where(codes >= 0, codes, np.nan)
            else:
                x[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the booster's float64 output for each row of `x`, in the `output` space."""
        return np.asarray(self.predict_output(x, self.output), dtype=np.float64)


class _Backend(Protocol):
    """What differs between LightGBM and XGBoost: loading one booster file."""

    #: How to give a booster trained on a numpy array its feature names.
    NAME_HINT: str

    def load(self, path: Path) -> _TreeModel:
        """Return the loaded booster (output "raw"); raise ModelLoadError naming `path` when it
        cannot be loaded."""
        ...


def _import_library(name: str, hint: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ModelLoadError(f"{name} is not installed; {hint}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_model_file(path: Path) -> bytes:
    """Return the bytes of a booster file: they are checked, then handed to the library as
    they are, so that the file cannot change between the check and the parse."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror or exc})") from None


class _LightGBMBackend:
    NAME_HINT = "train it from a DataFrame or pass feature_name="
    # Objectives whose prediction is sigmoid(margin); cross_entropy_lambda's is not a probability.
    PROBABILITY_OBJECTIVES = frozenset({"binary", "cross_entropy"})

    def load(self, path: Path) -> _TreeModel:
        lgb = _import_library("lightgbm", "pip install lightgbm")
        data = _read_model_file(path)
        check_lightgbm_text(path, data)  # the native parser crashes on damaged files
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelLoadError(f"{path}: not a LightGBM text model (not UTF-8 text)") from None
        try:
            with quiet_native_output():
                booster = lgb.Booster(model_str=text)
        except Exception as exc:  # LightGBMError for malformed files; OSError-like otherwise
            raise ModelLoadError(
                f"{path}: not a LightGBM text model ({_first_line(exc)})"
            ) from None
        if booster.num_model_per_iteration() != 1:
            raise ModelLoadError(
                f"{path}: the booster predicts {booster.num_model_per_iteration()} values per row "
                "(multiclass); rankaudit needs one score per row, or one booster per head"
            )
        names = tuple(str(n) for n in booster.feature_name())
        # The header's feature_infos lists the values of categorical features and a range for
        # numeric ones; dumping a single tree reads it without dumping the whole forest. The
        # header's objective reads e.g. "binary sigmoid:1": the name, then its parameters.
        header = booster.dump_model(num_iteration=1)
        infos = header.get("feature_infos", {})
        objective = (str(header.get("objective") or "").split() or ["custom"])[0]
        categorical = tuple(n for n in names if infos.get(n, {}).get("values"))
        categories: dict[str, pd.Index] = {}
        stored = booster.pandas_categorical
        if stored:
            if len(stored) != len(categorical):
                raise ModelLoadError(
                    f"{path}: the model stores {len(stored)} pandas category lists but has "
                    f"{len(categorical)} categorical features"
                )
            for feature, values in zip(categorical, stored, strict=True):
                categories[feature] = pd.Index([str(v) for v in values], dtype=object)

        def predict(x: np.ndarray, output: Output) -> object:
            return booster.predict(x, raw_score=output == "raw")

        return _TreeModel(
            path=path,
            booster=booster,
            feature_names=names,
            categorical_features=categorical,
            categories=MappingProxyType(categories),
            objective=objective,
            gives_probability=objective in self.PROBABILITY_OBJECTIVES,
            predict_output=predict,
            default_names=bool(names) and all(n == f"Column_{i}" for i, n in enumerate(names)),
        )


class _XGBoostBackend:
    NAME_HINT = "train it from a DataFrame or set booster.feature_names before save_model"
    # Objectives whose prediction is sigmoid(margin).
    PROBABILITY_OBJECTIVES = frozenset({"binary:logistic", "reg:logistic"})

    def load(self, path: Path) -> _TreeModel:
        xgb = _import_library("xgboost", "pip install 'rankaudit[xgboost]'")
        data = _read_model_file(path)
        check_xgboost_file(path, data)  # a damaged UBJSON file can crash the native parser
        booster = xgb.Booster()
        try:
            with quiet_native_output():
                booster.load_model(bytearray(data))
        except Exception as exc:  # XGBoostError for malformed files
            raise ModelLoadError(f"{path}: not an XGBoost model ({_first_line(exc)})") from None
        if booster.feature_names is None:
            # XGBoost's own name for column i of an unnamed matrix.
            names = tuple(f"f{i}" for i in range(booster.num_features()))
            default_names = True
        else:
            names = tuple(str(n) for n in booster.feature_names)
            default_names = bool(names) and all(n == f"f{i}" for i, n in enumerate(names))
        types = booster.feature_types or ["float"] * len(names)
        categorical = tuple(n for n, t in zip(names, types, strict=True) if t == "c")
        objective = self._objective(booster, path)

        def predict(x: np.ndarray, output: Output) -> object:
            return booster.inplace_predict(x, predict_type="margin" if output == "raw" else "value")

        return _TreeModel(
            path=path,
            booster=booster,
            feature_names=names,
            categorical_features=categorical,
            categories=MappingProxyType(self._categories(booster, categorical, path)),
            objective=objective,
            gives_probability=objective in self.PROBABILITY_OBJECTIVES,
            predict_output=predict,
            default_names=default_names,
        )

    @staticmethod
    def _objective(booster: Any, path: Path) -> str:
        try:
            name = json.loads(booster.save_config())["learner"]["objective"]["name"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(
                f"{path}: cannot read the booster's objective from its configuration ({exc!r})"
            ) from None
        return str(name)

    @staticmethod
    def _categories(booster: Any, categorical: tuple[str, ...], path: Path) -> dict[str, pd.Index]:
        """Return the category lists XGBoost (>= 3.1) stores for models trained on pandas
        categoricals; older models store none and are fed the integer codes as they are."""
        if not categorical or not hasattr(booster, "get_categories"):
            return {}
        try:
            stored = booster.get_categories(export_to_arrow=True)
            if stored.empty():
                return {}
            pairs = stored.to_arrow()
        except Exception as exc:  # pyarrow missing, or an API change in a newer xgboost
            raise ModelLoadError(
                f"{path}: cannot read the categories stored in the model ({_first_line(exc)})"
            ) from None
        return {
            str(name): pd.Index([str(v) for v in values.to_pylist()], dtype=object)
            for name, values in pairs
            if values is not None
        }


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


def _check_same_features(models: Mapping[str, _TreeModel], where: str) -> None:
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


def _name_by_spec(
    model: _TreeModel, config: ModelConfig, hint: str
) -> tuple[_TreeModel, str | None]:
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
    config: ModelConfig, requested: Output | None, models: tuple[_TreeModel, ...]
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


def _probe(model: _TreeModel) -> None:
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

    BACKEND: ClassVar[_Backend]
    LIBRARY: ClassVar[str]
    OPTIONS: ClassVar[frozenset[str]] = frozenset({"output"})

    name: str
    kind: str
    models: tuple[_TreeModel, ...] = field(repr=False)
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
    def _load(cls, path: Path, config: ModelConfig) -> tuple[_TreeModel, str | None]:
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

    BACKEND: ClassVar[_Backend] = _LightGBMBackend()
    LIBRARY: ClassVar[str] = "lightgbm"


class XGBoostRanker(_TreeRanker):
    """The `xgboost` kind: XGBoost JSON (or UBJSON) models (Booster.save_model)."""

    BACKEND: ClassVar[_Backend] = _XGBoostBackend()
    LIBRARY: ClassVar[str] = "xgboost"
