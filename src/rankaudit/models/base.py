"""The contract every model adapter follows, and the helpers the adapters share.

A ranker is anything that turns logged candidate rows into one float score per row (higher ranks
higher). Multi-task rankers also expose one probability per engagement head. The adapters in this
package are the only code that opens model files; everything downstream sees a `Ranker`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from rankaudit.errors import ModelLoadError, SchemaError, UnknownKeyError, WorkspaceError

if TYPE_CHECKING:
    from rankaudit.data.spec import FeatureSpec

__all__ = [
    "TRUST_ENV",
    "ModelConfig",
    "Ranker",
    "RankerAdapter",
    "check_keys",
    "check_options",
    "code_trusted",
    "fingerprint_files",
    "fingerprint_options",
    "fingerprint_path",
    "finite_float",
    "no_heads_error",
    "option_bool",
    "option_int",
    "option_str",
    "read_json_object",
    "refuse_path",
    "require_columns",
    "require_path",
    "string_list",
    "write_atomic",
]

_CHUNK = 1 << 20
#: Set to 1 by `rankaudit --trust-model-code`: every model may run its own Python code. An
#: environment variable so that the local engine's spawned workers inherit the decision.
TRUST_ENV = "RANKAUDIT_TRUST_MODEL_CODE"


@dataclass(frozen=True)
class ModelConfig:
    """One `[models.<name>]` table of rankaudit.toml, with its path already resolved.

    `options` holds the table's remaining keys; it is copied into a read-only mapping so that
    a loaded ranker can never see its configuration change underneath it. `spec` is the
    workspace's feature spec: adapters use its order for models that do not name their inputs
    (a booster trained on a numpy array, a torch module whose `forward(x)` takes one tensor).
    `trust_code` allows the model to run Python code it names (a torch `entrypoint`), like
    `trust_remote_code` in Hugging Face: `trust_code = true` in its table of rankaudit.toml.
    """

    name: str
    kind: str
    path: Path | None = None
    # Left out of the hash (a mapping is unhashable) but not out of equality.
    options: Mapping[str, object] = field(default_factory=dict, hash=False)
    source: str = "<memory>"
    spec: FeatureSpec | None = None
    trust_code: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __reduce__(self) -> tuple[type[ModelConfig], tuple[object, ...]]:
        # A mappingproxy cannot be pickled; configs travel to worker processes.
        return (
            type(self),
            (
                self.name,
                self.kind,
                self.path,
                dict(self.options),
                self.source,
                self.spec,
                self.trust_code,
            ),
        )

    @property
    def label(self) -> str:
        """Return "<name> (<kind>)", the way error messages name a model."""
        return f"{self.name} ({self.kind})"


@runtime_checkable
class Ranker(Protocol):
    """A loaded model that scores logged candidate rows.

    Members are declared as read-only properties so that adapters may implement them as plain
    attributes, frozen dataclass fields or properties.
    """

    @property
    def name(self) -> str:
        """The workspace's name for the model."""
        ...

    @property
    def kind(self) -> str:
        """The registry key the model was loaded with."""
        ...

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Feature columns the model reads, in its own order."""
        ...

    @property
    def categorical_features(self) -> tuple[str, ...]:
        """The subset of `feature_names` the model treats as categorical."""
        ...

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Every log column `score` reads (features plus, e.g., `position`)."""
        ...

    @property
    def heads(self) -> tuple[str, ...]:
        """Engagement heads of a multi-task model, in output order; () for single-score models."""
        ...

    @property
    def head_weights(self) -> Mapping[str, float]:
        """Weight of each head in the final score; empty for single-score models."""
        ...

    @property
    def fingerprint(self) -> str:
        """sha256 hex digest identifying the model files (or, without files, kind and options)."""
        ...

    @property
    def description(self) -> str:
        """One short line describing the model."""
        ...

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the final float64 score of every row; higher ranks higher."""
        ...

    def head_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return one float64 probability column per head, indexed like `frame`."""
        ...


class RankerAdapter(Protocol):
    """What the registry needs from an adapter class: a constructor from a ModelConfig."""

    def from_config(self, config: ModelConfig, /) -> Ranker:
        """Return the loaded ranker; raise rankaudit errors on bad configuration or files."""
        ...


# --- configuration checks -------------------------------------------------------------------


def code_trusted(config: ModelConfig) -> bool:
    """Return True when `config` may run Python code named by its model files: its own
    `trust_code`, or `rankaudit --trust-model-code` (the RANKAUDIT_TRUST_MODEL_CODE=1
    environment variable) for every model."""
    return config.trust_code or os.environ.get(TRUST_ENV, "") == "1"


def check_options(config: ModelConfig, allowed: frozenset[str]) -> None:
    """Raise UnknownKeyError for the first option (alphabetically) that `allowed` lacks."""
    unknown = sorted(set(config.options) - allowed)
    if unknown:
        listed = ", ".join(sorted(allowed)) if allowed else "none (this kind takes no options)"
        raise UnknownKeyError(
            f"{config.source}: unknown key {unknown[0]!r} for kind {config.kind!r}; "
            f"allowed: {listed}"
        )


def _bad_option(config: ModelConfig, key: str, expected: str, value: object) -> WorkspaceError:
    return WorkspaceError(
        f"{config.source}: {key!r} for kind {config.kind!r} must be {expected}; got {value!r}"
    )


def option_str(config: ModelConfig, key: str, default: str) -> str:
    """Return option `key` as a non-empty string, or `default` when it is not set."""
    value = config.options.get(key, default)
    if not isinstance(value, str) or not value:
        raise _bad_option(config, key, "a non-empty string", value)
    return value


def option_bool(config: ModelConfig, key: str, default: bool) -> bool:
    """Return option `key` as a bool (TOML true/false), or `default` when it is not set."""
    value = config.options.get(key, default)
    if not isinstance(value, bool):
        raise _bad_option(config, key, "true or false", value)
    return value


def option_int(config: ModelConfig, key: str, default: int, *, minimum: int = 1) -> int:
    """Return option `key` as an int >= `minimum`, or `default` when it is not set."""
    value = config.options.get(key, default)
    # bool is an int subclass; `batch_size = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad_option(config, key, f"an integer >= {minimum}", value)
    return value


def require_path(config: ModelConfig) -> Path:
    """Return the model path of a file-backed kind; raise WorkspaceError when it is missing."""
    if config.path is None:
        raise WorkspaceError(
            f"{config.source}: kind {config.kind!r} needs a 'path' to its model file or directory"
        )
    return config.path


def refuse_path(config: ModelConfig) -> None:
    """Raise UnknownKeyError when a kind that reads no model file was given a path."""
    if config.path is not None:
        raise UnknownKeyError(
            f"{config.source}: unknown key 'path' for kind {config.kind!r}; "
            "this kind reads no model file, remove 'path'"
        )


# --- frames ---------------------------------------------------------------------------------


def require_columns(frame: pd.DataFrame, label: str, columns: Iterable[str]) -> None:
    """Raise SchemaError naming the model (`label`) and every column of `columns` that
    `frame` lacks."""
    present = set(frame.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise SchemaError(
            f"{label}: the frame lacks column(s) the model reads: {', '.join(missing)}"
        )


def no_heads_error(label: str) -> ModelLoadError:
    """Return the error `head_scores` raises on a single-score ranker."""
    return ModelLoadError(f"{label} is a single-score ranker; it has no heads")


# --- files ----------------------------------------------------------------------------------


def read_json_object(path: Path, what: str) -> dict[str, object]:
    """Return the top-level JSON object of `path`; raise ModelLoadError saying what is wrong.

    `what` names the file's role in messages, e.g. "model manifest".
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ModelLoadError(f"{path}: cannot read {what} ({reason})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: {what} is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path}: {what} must be a JSON object; got {type(raw).__name__}")
    return raw


def check_keys(
    raw: Mapping[str, object],
    where: str,
    *,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> None:
    """Raise ModelLoadError when `raw` lacks a required key or holds an unknown one."""
    required = tuple(required)
    allowed = set(required) | set(optional)
    for key in required:
        if key not in raw:
            raise ModelLoadError(f"{where}: missing required key {key!r}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ModelLoadError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(allowed))}"
        )


def string_list(value: object, where: str, key: str) -> tuple[str, ...]:
    """Return `value` as a tuple of unique non-empty strings; raise ModelLoadError otherwise."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ModelLoadError(f"{where}: {key!r} must be a list of non-empty strings")
    names = tuple(value)
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ModelLoadError(f"{where}: {key!r} lists {duplicate!r} twice")
    return names


def finite_float(value: object, where: str, key: str) -> float:
    """Return `value` as a finite float; raise ModelLoadError for non-numbers, NaN and inf."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelLoadError(f"{where}: {key!r} must be a finite number; got {value!r}")
    return float(value)


def _hash_file(digest: hashlib._Hash, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror})") from None


def fingerprint_files(files: Mapping[str, Path]) -> str:
    """Return the sha256 hex digest over named files: each name (a relative path) and content.

    Names are taken in sorted order and each name and content is length-prefixed, so that
    renaming a file or moving bytes between files changes the digest.
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        path = files[name]
        encoded = name.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror})") from None
        digest.update(size.to_bytes(8, "big"))
        _hash_file(digest, path)
    return digest.hexdigest()


def _is_cache(path: Path, root: Path) -> bool:
    # Importing an entrypoint module that lives inside the model directory writes
    # __pycache__ there; it must not change the model's identity.
    return "__pycache__" in path.relative_to(root).parts or path.suffix == ".pyc"


def fingerprint_path(path: Path) -> str:
    """Return the sha256 hex digest of a model file, or of a model directory's files.

    A single file hashes to the plain sha256 of its bytes (what `sha256sum` prints); a directory
    hashes with `fingerprint_files` over every file below it except Python bytecode caches.
    """
    if path.is_dir():
        files = {
            p.relative_to(path).as_posix(): p
            for p in path.rglob("*")
            if p.is_file() and not _is_cache(p, path)
        }
        return fingerprint_files(files)
    digest = hashlib.sha256()
    _hash_file(digest, path)
    return digest.hexdigest()


def fingerprint_options(kind: str, options: Mapping[str, object]) -> str:
    """Return the sha256 hex digest of a file-less ranker: its kind and sorted options JSON."""
    payload = json.dumps({"kind": kind, "options": dict(options)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename,
    so that a reader never sees a half-written model file; creates missing parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # open(..., "xb") rather than mkstemp: mkstemp creates mode 0600 files, and a model file
    # should get the usual umask-derived permissions.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temp.open("xb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
