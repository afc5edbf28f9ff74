"""One booster of the `lightgbm` and `xgboost` kinds: `TreeModel` (the loaded booster, its
features and category codes) and one `Backend` per library that loads a file into it. Split
from `trees`, which holds the adapter and re-exports `Output` and `OUTPUTS`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from rankaudit.errors import ModelLoadError
from rankaudit.libraries import import_model_library
from rankaudit.models.booster_files import (
    check_lightgbm_text,
    check_xgboost_file,
    quiet_native_output,
)

__all__ = ["OUTPUTS", "Backend", "LightGBMBackend", "Output", "TreeModel", "XGBoostBackend"]

#: The score space of a tree ranker: the booster's raw margin, or its probability.
Output = Literal["raw", "probability"]
OUTPUTS: tuple[Output, ...] = ("raw", "probability")


@dataclass(frozen=True, eq=False)
class TreeModel:
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


class Backend(Protocol):
    """What differs between LightGBM and XGBoost: loading one booster file."""

    #: How to give a booster trained on a numpy array its feature names.
    NAME_HINT: str

    def load(self, path: Path) -> TreeModel:
        """Return the loaded booster (output "raw"); raise ModelLoadError naming `path` when it
        cannot be loaded."""
        ...


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


class LightGBMBackend:
    NAME_HINT = "train it from a DataFrame or pass feature_name="
    # Objectives whose prediction is sigmoid(margin); cross_entropy_lambda's is not a probability.
    PROBABILITY_OBJECTIVES = frozenset({"binary", "cross_entropy"})

    def load(self, path: Path) -> TreeModel:
        lgb = import_model_library("lightgbm", "pip install lightgbm")
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

        return TreeModel(
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


class XGBoostBackend:
    NAME_HINT = "train it from a DataFrame or set booster.feature_names before save_model"
    # Objectives whose prediction is sigmoid(margin).
    PROBABILITY_OBJECTIVES = frozenset({"binary:logistic", "reg:logistic"})

    def load(self, path: Path) -> TreeModel:
        xgb = import_model_library("xgboost", "pip install 'rankaudit[xgboost]'")
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

        return TreeModel(
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
