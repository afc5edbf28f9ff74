"""`rankaudit.toml` -> a frozen Workspace: logs, spec, heads and models, paths resolved once.

Example::

    name = "demo"
    logs = "logs"                    # a file or a directory of .parquet / .csv / .jsonl files
    spec = "features.yaml"
    ground_truth = "ground_truth.json"   # optional, written by `rankaudit fixtures build`
    attributions = ["stores/deep", "stores/baseline"]  # optional: stores written by
                                     # `rankaudit attribute --out` (long rows, one per model;
                                     # one string for one), read before computing explanations

    [heads]                          # engagement heads and their weights in the final score
    favorite = 0.5
    reply = 13.5

    [relevance]                      # optional: graded relevance for NDCG and surprises
    column = "relevance"             # a numeric log column of grades >= 0
    gain = "exponential"             # 2**grade - 1, or "linear"

    [evaluation]
    holdout_from = "2026-11-11T00:00:00Z"   # requests served from then on are held out

    [models.baseline]
    kind = "lightgbm"
    path = "models/baseline/heads.json"

    [models.deep]
    kind = "torch"
    path = "models/deep"
    trust_code = true                # torch only: let its 'entrypoint' run the folder's code

Paths are relative to the file. Unknown keys are errors that name the key.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rankaudit.data.readers import LogSource
from rankaudit.data.relevance import Gain, GradedRelevance
from rankaudit.data.spec import FeatureSpec, load_spec
from rankaudit.errors import UnknownKeyError, WorkspaceError
from rankaudit.models.base import ModelConfig, code_trusted
from rankaudit.models.registry import available_kinds
from rankaudit.store.layout import MANIFEST

__all__ = ["CONFIG_NAME", "Workspace", "load_workspace"]

CONFIG_NAME = "rankaudit.toml"
_TOP_KEYS = frozenset(
    {
        "name",
        "logs",
        "logs_format",
        "spec",
        "ground_truth",
        "attributions",
        "heads",
        "relevance",
        "evaluation",
        "models",
    }
)
_EVALUATION_KEYS = frozenset({"holdout_from"})
_RELEVANCE_KEYS = frozenset({"column", "gain"})


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace. `models` maps each configured name to its (not yet loaded) config."""

    root: Path
    config_path: Path
    name: str
    logs: LogSource
    spec: FeatureSpec
    spec_path: Path
    heads: Mapping[str, float]
    models: Mapping[str, ModelConfig]
    holdout_from: pd.Timestamp | None = None
    #: Graded relevance judgements in the log ([relevance]); None: engagement-weighted.
    relevance: GradedRelevance | None = None
    ground_truth_path: Path | None = None
    #: The attribution stores (`rankaudit attribute --out DIR`) the app and `explain` read.
    attribution_stores: tuple[Path, ...] = ()
    _rankers: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Results of `rankaudit.validation` on this workspace object (the logs are read once).
    checks: dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    def model(self, name: str) -> ModelConfig:
        """Return the config of a configured model; the error lists the configured names."""
        try:
            return self.models[name]
        except KeyError:
            raise WorkspaceError(
                f"{self.config_path}: no model named {name!r}; configured: {', '.join(self.models)}"
            ) from None

    def logs_fingerprint(self) -> str:
        """sha256 over the log files' names and bytes and the feature names: what a resumed
        batch run checks it reads the same input as the run it continues."""
        import hashlib
        import json
        import os

        from rankaudit.models.base import fingerprint_files

        base = Path(os.path.commonpath([p.parent for p in self.logs.files]))
        files = {p.relative_to(base).as_posix(): p for p in self.logs.files}
        digest = hashlib.sha256(fingerprint_files(files).encode())
        digest.update(json.dumps([f.name for f in self.spec]).encode())
        return digest.hexdigest()

    def ranker(self, name: str) -> Any:
        """Load (once per workspace object) and return the named Ranker."""
        if name not in self._rankers:
            from rankaudit.models.registry import load_ranker

            self._rankers[name] = load_ranker(self.model(name))
        return self._rankers[name]


def _check_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise UnknownKeyError(
                f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}"
            )


def _string(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise WorkspaceError(f"{where}: {key!r} must be a non-empty string")
    return value


def _resolve(root: Path, value: str, where: str, *, must_exist: bool = True) -> Path:
    try:
        path = (root / value).resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError on a symlink loop
        raise WorkspaceError(
            f"{where}: {value!r} is a symbolic link loop (a link that points back to itself); "
            "point it at a real file or folder"
        ) from None
    if must_exist and not path.exists():
        raise WorkspaceError(f"{where}: {value!r} does not exist (looked at {path})")
    return path


def _stores(root: Path, value: object, where: str) -> tuple[Path, ...]:
    """The `attributions` key: one store folder or a list of them."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise WorkspaceError(
            f"{where}: 'attributions' must be a folder or a list of folders (strings)"
        )
    paths = []
    for item in values:
        path = _resolve(root, item, where)
        if not (path / MANIFEST).is_file():
            raise WorkspaceError(
                f"{where}: 'attributions' must name store folders written by "
                f"`rankaudit attribute --out DIR`; {path} holds no {MANIFEST}"
            )
        paths.append(path)
    return tuple(paths)


def _parse_heads(raw: object, where: str, *, graded: bool) -> dict[str, float]:
    # A learning-to-rank log judged by graded relevance may have no engagement labels at all.
    if raw is None and graded:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        raise WorkspaceError(
            f"{where} [heads]: list at least one head with its weight "
            "(or configure [relevance] for a log judged by graded relevance)"
        )
    heads: dict[str, float] = {}
    for head, weight in raw.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
        ):
            raise WorkspaceError(
                f"{where} [heads]: weight of {head!r} must be a number; got {weight!r}"
            )
        heads[head] = float(weight)
    return heads


def _parse_relevance(raw: object, where: str) -> GradedRelevance | None:
    if raw is None:
        return None
    where = f"{where} [relevance]"
    if not isinstance(raw, Mapping):
        raise WorkspaceError(f"{where}: must be a table with 'column' (and optionally 'gain')")
    _check_keys(raw, _RELEVANCE_KEYS, where)
    column = _string(raw, "column", where)
    gain = raw.get("gain", "exponential")
    if gain not in ("exponential", "linear"):
        raise WorkspaceError(f"{where}: 'gain' must be exponential or linear; got {gain!r}")
    gain_name: Gain = "exponential" if gain == "exponential" else "linear"
    return GradedRelevance(column=column, gain=gain_name)


def _parse_trust(table: Mapping[str, Any], kind: str, source: str) -> bool:
    """The `trust_code` key of a model table: only torch models name code to run."""
    if "trust_code" not in table:
        return False
    if kind != "torch":
        raise UnknownKeyError(
            f"{source}: unknown key 'trust_code' for kind {kind!r}; only torch models run "
            "their own code (format 'entrypoint'), remove it"
        )
    value = table["trust_code"]
    if not isinstance(value, bool):
        raise WorkspaceError(f"{source}: 'trust_code' must be true or false; got {value!r}")
    return value


def _parse_models(raw: object, root: Path, where: str, spec: FeatureSpec) -> dict[str, ModelConfig]:
    if not isinstance(raw, Mapping) or not raw:
        raise WorkspaceError(f"{where}: configure at least one model as a [models.<name>] table")
    kinds = available_kinds()
    models: dict[str, ModelConfig] = {}
    for name, table in raw.items():
        source = f"{where} [models.{name}]"
        if not isinstance(table, Mapping):
            raise WorkspaceError(f"{source}: must be a table with 'kind' (and usually 'path')")
        kind = _string(table, "kind", source)
        if kind not in kinds:
            raise WorkspaceError(
                f"{source}: unknown kind {kind!r}; valid kinds: {', '.join(kinds)}"
            )
        path = _resolve(root, _string(table, "path", source), source) if "path" in table else None
        options = {k: v for k, v in table.items() if k not in ("kind", "path", "trust_code")}
        config = ModelConfig(
            name=name, kind=kind, path=path, options=options, source=source, spec=spec
        )
        # `rankaudit --trust-model-code` is folded into each config here, so that it travels
        # with the config to every worker (Ray ones do not inherit this process's environment).
        trust = _parse_trust(table, kind, source) or code_trusted(config)
        models[name] = ModelConfig(
            name=name,
            kind=kind,
            path=path,
            options=options,
            source=source,
            spec=spec,
            trust_code=trust,
        )
    return models


def load_workspace(directory: Path | str = ".") -> Workspace:
    """Read `<directory>/rankaudit.toml` (or the file itself) and return the Workspace.

    Raises WorkspaceError (or UnknownKeyError) naming the file and key when the config is wrong,
    and SchemaError when the feature spec is malformed.
    """
    location = Path(directory)
    config_path = location if location.is_file() else location / CONFIG_NAME
    if not config_path.is_file():
        raise WorkspaceError(
            f"{config_path}: no workspace here (rankaudit.toml not found); pass --workspace DIR"
        )
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{config_path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise WorkspaceError(
            f"{config_path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}); "
            "save rankaudit.toml as UTF-8"
        ) from None
    except OSError as exc:
        raise WorkspaceError(f"{config_path}: cannot read ({exc.strerror})") from None
    where = str(config_path)
    root = config_path.parent.resolve()
    _check_keys(raw, _TOP_KEYS, where)
    logs_format = raw.get("logs_format")
    if logs_format is not None and not isinstance(logs_format, str):
        raise WorkspaceError(f"{where}: 'logs_format' must be a string")
    logs = LogSource.from_path(_resolve(root, _string(raw, "logs", where), where), logs_format)
    spec_path = _resolve(root, _string(raw, "spec", where), where)
    evaluation = raw.get("evaluation", {})
    if not isinstance(evaluation, Mapping):
        raise WorkspaceError(f"{where}: [evaluation] must be a table")
    _check_keys(evaluation, _EVALUATION_KEYS, f"{where} [evaluation]")
    holdout_from = None
    if "holdout_from" in evaluation:
        try:
            holdout_from = pd.Timestamp(evaluation["holdout_from"])
        except (ValueError, TypeError):
            raise WorkspaceError(
                f"{where} [evaluation]: 'holdout_from' must be an ISO timestamp; "
                f"got {evaluation['holdout_from']!r}"
            ) from None
        holdout_from = (
            holdout_from.tz_localize("UTC") if holdout_from.tzinfo is None else holdout_from
        )
    ground_truth = raw.get("ground_truth")
    spec = load_spec(spec_path)
    relevance = _parse_relevance(raw.get("relevance"), where)
    return Workspace(
        root=root,
        config_path=config_path.resolve(),
        name=str(raw.get("name", root.name)),
        logs=logs,
        spec=spec,
        spec_path=spec_path,
        heads=_parse_heads(raw.get("heads"), where, graded=relevance is not None),
        models=_parse_models(raw.get("models"), root, where, spec),
        holdout_from=holdout_from,
        relevance=relevance,
        ground_truth_path=_resolve(root, ground_truth, where)
        if isinstance(ground_truth, str)
        else None,
        attribution_stores=_stores(root, raw["attributions"], where)
        if "attributions" in raw
        else (),
    )
