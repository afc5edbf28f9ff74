"""The manifest's facts about the inputs: the workspace configuration, sha256 of the logs,
spec and model files, and the versions of the packages that computed the numbers.

Paths are written relative to the workspace root (posix separators), never as paths of the
machine that built the report.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rankaudit.workspace import Workspace

__all__ = [
    "PACKAGES",
    "package_versions",
    "relative_path",
    "sha256_file",
    "thread_settings",
    "workspace_manifest",
]

#: Packages whose versions decide the report's numbers or its rendering.
PACKAGES = (
    "rankaudit",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "torch",
    "lightgbm",
    "shap",
    "captum",
    "plotly",
    "jinja2",
)
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file's bytes (what `sha256sum` prints)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def relative_path(path: Path, root: Path) -> str:
    """`path` relative to `root` in posix form; a file outside the root is named by its file
    name under `<outside workspace>/`, so no machine path leaks into the report."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return f"<outside workspace>/{path.name}"


def _file_entry(path: Path, root: Path) -> dict[str, Any]:
    return {
        "path": relative_path(path, root),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _model_files(path: Path) -> list[Path]:
    """The files a model reads: every file below a model folder (bytecode caches left out),
    the file itself, and for a multi-head manifest the head files it names."""
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    files = [path]
    if path.suffix == ".json":
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return files
        heads = manifest.get("heads") if isinstance(manifest, dict) else None
        if isinstance(heads, dict):
            for entry in heads.values():
                name = entry.get("file") if isinstance(entry, dict) else None
                if isinstance(name, str) and (path.parent / name).is_file():
                    files.append(path.parent / name)
    return sorted(set(files))


def workspace_manifest(workspace: Workspace, models: tuple[str, str]) -> dict[str, Any]:
    """The workspace as configured, with sha256 of its config, logs and spec, and of every
    file of the two compared models (plus each model's fingerprint, as `rankaudit validate`
    prints it). Other configured models are listed without hashes: the report does not use
    them."""
    root = workspace.root
    configured = []
    for name, config in workspace.models.items():
        entry: dict[str, Any] = {
            "name": name,
            "kind": config.kind,
            "path": None if config.path is None else relative_path(config.path, root),
            "options": {str(k): v for k, v in sorted(config.options.items())},
            "compared": name in models,
        }
        if name in models:
            ranker = workspace.ranker(name)
            entry["fingerprint"] = ranker.fingerprint
            entry["description"] = ranker.description
            entry["files"] = (
                []
                if config.path is None
                else [_file_entry(p, root) for p in _model_files(config.path)]
            )
        configured.append(entry)
    return {
        "name": workspace.name,
        "config": _file_entry(workspace.config_path, root),
        "logs": {
            "format": workspace.logs.format,
            "files": [_file_entry(p, root) for p in workspace.logs.files],
        },
        "spec": {**_file_entry(workspace.spec_path, root), "features": len(workspace.spec)},
        "ground_truth": None
        if workspace.ground_truth_path is None
        else _file_entry(workspace.ground_truth_path, root),
        "heads": dict(workspace.heads),
        "holdout_from": None
        if workspace.holdout_from is None
        else workspace.holdout_from.isoformat(),
        "models": configured,
    }


def package_versions() -> dict[str, str | None]:
    """Python's and each package's installed version (None when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def thread_settings() -> dict[str, int | str | None]:
    """The threads the numbers were computed with: float32 sums of the torch models depend on
    them in their last bits (torch's intra-op threads when torch is loaded, OMP_NUM_THREADS)."""
    torch = sys.modules.get("torch")
    return {
        "torch": int(torch.get_num_threads()) if torch is not None else None,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
