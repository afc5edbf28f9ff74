"""rankaudit: explainable-ranking debugging and model audits for timeline rankers.

The import stays light: the public names below load their modules on first use (PEP 562), so
`import rankaudit` (and the CLI's `--help`) reads no pandas, pyarrow, torch, LightGBM or web
stack; those load only when a reader, model or view needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rankaudit.errors import (
    InputFileError,
    ModelLoadError,
    NotFoundError,
    RankauditError,
    SchemaError,
    UnknownKeyError,
    ValidationFailed,
    WorkspaceError,
)

if TYPE_CHECKING:
    from rankaudit.data.readers import LogSource, read_timelines
    from rankaudit.data.spec import Feature, FeatureSpec, load_spec
    from rankaudit.models import ModelConfig, Ranker, available_kinds, load_ranker
    from rankaudit.workspace import Workspace, load_workspace

    __version__: str

# Public name -> the module that defines it, imported on first access.
_LAZY = {
    "LogSource": "rankaudit.data.readers",
    "read_timelines": "rankaudit.data.readers",
    "Feature": "rankaudit.data.spec",
    "FeatureSpec": "rankaudit.data.spec",
    "load_spec": "rankaudit.data.spec",
    "ModelConfig": "rankaudit.models",
    "Ranker": "rankaudit.models",
    "available_kinds": "rankaudit.models",
    "load_ranker": "rankaudit.models",
    "Workspace": "rankaudit.workspace",
    "load_workspace": "rankaudit.workspace",
}


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use and cache the name here."""
    value: Any
    if name == "__version__":
        # Reading the installed metadata scans sys.path: a sixth of the CLI's start-up.
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("rankaudit")
        except PackageNotFoundError:  # running from a source tree without installing
            value = "0.0.0"
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'rankaudit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "__version__"})


__all__ = [
    "Feature",
    "FeatureSpec",
    "InputFileError",
    "LogSource",
    "ModelConfig",
    "ModelLoadError",
    "NotFoundError",
    "RankauditError",
    "Ranker",
    "SchemaError",
    "UnknownKeyError",
    "ValidationFailed",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "available_kinds",
    "load_ranker",
    "load_spec",
    "load_workspace",
    "read_timelines",
]
