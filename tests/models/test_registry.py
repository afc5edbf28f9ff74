"""The kind registry: lookup, errors listing valid keys, third-party adapters, light import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.errors import ModelLoadError, UnknownKeyError, WorkspaceError
from rankaudit.models import (
    ModelConfig,
    Ranker,
    available_kinds,
    load_ranker,
    register_adapter,
    registry,
)

BUILTIN_KINDS = ("chronological", "lightgbm", "linear", "logged", "torch", "xgboost")


def test_available_kinds_lists_the_builtin_kinds_sorted() -> None:
    assert available_kinds() == BUILTIN_KINDS


def test_unknown_kind_lists_the_valid_kinds() -> None:
    config = ModelConfig("deep", "tensorflow", source="/x/rankaudit.toml [models.deep]")
    with pytest.raises(UnknownKeyError) as info:
        load_ranker(config)
    assert isinstance(info.value, WorkspaceError)
    assert str(info.value) == (
        "/x/rankaudit.toml [models.deep]: unknown model kind 'tensorflow'; valid kinds: "
        + ", ".join(BUILTIN_KINDS)
    )


# One row per kind: a bad option is reported before any file is opened.
OPTION_CASES = [
    ("torch", Path("/nonexistent/model"), "batch_size"),
    ("lightgbm", Path("/nonexistent/m.txt"), "output"),
    ("xgboost", Path("/nonexistent/m.json"), "output"),
    ("linear", Path("/nonexistent/m.json"), "none (this kind takes no options)"),
    ("logged", None, "ascending, column"),
    ("chronological", None, "age_column"),
]


@pytest.mark.parametrize(("kind", "path", "allowed"), OPTION_CASES)
def test_unknown_option_names_the_key_for_every_kind(
    kind: str, path: Path | None, allowed: str
) -> None:
    config = ModelConfig("m", kind, path=path, options={"foo": 1}, source="T [models.m]")
    with pytest.raises(UnknownKeyError) as info:
        load_ranker(config)
    expected = f"T [models.m]: unknown key 'foo' for kind '{kind}'; allowed: {allowed}"
    assert str(info.value) == expected


@pytest.mark.parametrize("kind", ["torch", "lightgbm", "xgboost", "linear"])
def test_file_kinds_need_a_path(kind: str) -> None:
    with pytest.raises(WorkspaceError, match=f"S: kind '{kind}' needs a 'path'"):
        load_ranker(ModelConfig("m", kind, source="S"))


def test_register_adapter_loads_a_user_class_lazily(
    monkeypatch: pytest.MonkeyPatch, user_models_on_path: None
) -> None:
    monkeypatch.setattr(registry, "_ADAPTERS", dict(registry._ADAPTERS))
    register_adapter("constant", "user_models.adapters:ConstantRanker")
    assert "constant" in available_kinds()
    ranker = load_ranker(ModelConfig("c", "constant", options={"value": 2.5}))
    assert isinstance(ranker, Ranker)
    np.testing.assert_array_equal(ranker.score(pd.DataFrame(index=range(3))), [2.5, 2.5, 2.5])
    with pytest.raises(ValueError, match="already registered"):
        register_adapter("constant", "user_models.adapters:ConstantRanker")
    register_adapter("constant", "user_models.adapters:NotARanker", replace=True)
    with pytest.raises(ModelLoadError, match="lacks Ranker member"):
        load_ranker(ModelConfig("c", "constant"))


def test_register_adapter_reports_bad_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_ADAPTERS", dict(registry._ADAPTERS))
    with pytest.raises(ValueError, match=r"'package\.module:Class'"):
        register_adapter("x", "no_colon_here")
    register_adapter("missing_module", "no_such_package_xyz.mod:Adapter")
    with pytest.raises(ModelLoadError, match="cannot import the adapter for kind 'missing_module'"):
        load_ranker(ModelConfig("m", "missing_module"))
    register_adapter("missing_attr", "rankaudit.models.served:NoSuchAdapter")
    with pytest.raises(ModelLoadError, match="has no attribute 'NoSuchAdapter'"):
        load_ranker(ModelConfig("m", "missing_attr"))


def test_importing_the_package_does_not_import_model_libraries() -> None:
    code = (
        "import rankaudit.models, sys; "
        "heavy = [m for m in ('torch', 'lightgbm', 'xgboost') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
