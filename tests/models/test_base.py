"""ModelConfig, option checking and fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rankaudit.errors import UnknownKeyError, WorkspaceError
from rankaudit.models import ModelConfig
from rankaudit.models.base import (
    check_options,
    fingerprint_files,
    fingerprint_options,
    fingerprint_path,
    option_bool,
    option_int,
)


def test_model_config_options_are_read_only() -> None:
    options = {"column": "position"}
    config = ModelConfig(name="served", kind="logged", options=options)
    options["column"] = "changed"
    assert config.options["column"] == "position"
    with pytest.raises(TypeError):
        config.options["column"] = "x"  # type: ignore[index]
    same = ModelConfig(name="served", kind="logged", options={"column": "position"})
    assert config == same
    assert hash(config) == hash(same)
    assert config != ModelConfig(name="served", kind="logged", options={"column": "rank"})


def test_check_options_names_the_key_and_the_allowed_ones() -> None:
    config = ModelConfig("m", "lightgbm", options={"foo": 1}, source="/x/rankaudit.toml [models.m]")
    with pytest.raises(UnknownKeyError) as info:
        check_options(config, frozenset({"b", "a"}))
    assert str(info.value) == (
        "/x/rankaudit.toml [models.m]: unknown key 'foo' for kind 'lightgbm'; allowed: a, b"
    )


def test_option_type_errors_say_what_is_expected() -> None:
    config = ModelConfig("m", "logged", options={"ascending": "yes", "batch_size": 0}, source="S")
    message = "S: 'ascending' for kind 'logged' must be true or false"
    with pytest.raises(WorkspaceError, match=message):
        option_bool(config, "ascending", True)
    with pytest.raises(WorkspaceError, match="must be an integer >= 1; got 0"):
        option_int(config, "batch_size", 10)


def test_single_file_fingerprint_is_plain_sha256(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"a": 1}\n')
    assert fingerprint_path(path) == hashlib.sha256(b'{"a": 1}\n').hexdigest()


def test_directory_fingerprint_covers_names_and_contents_not_bytecode(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"12")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"3")
    first = fingerprint_path(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    assert fingerprint_path(tmp_path) == first
    # Moving a byte from one file to the other changes the digest.
    (tmp_path / "a.bin").write_bytes(b"1")
    (tmp_path / "sub" / "b.bin").write_bytes(b"23")
    assert fingerprint_path(tmp_path) != first
    assert fingerprint_files({"a.bin": tmp_path / "a.bin"}) != fingerprint_files(
        {"renamed.bin": tmp_path / "a.bin"}
    )


def test_options_fingerprint_ignores_key_order_but_not_values() -> None:
    a = fingerprint_options("logged", {"column": "position", "ascending": True})
    b = fingerprint_options("logged", {"ascending": True, "column": "position"})
    c = fingerprint_options("logged", {"ascending": False, "column": "position"})
    assert a == b != c
    assert len(a) == 64
