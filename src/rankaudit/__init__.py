"""rankaudit: explainable-ranking debugging and model audits for timeline rankers.

The import stays light: torch, LightGBM and the web stack load only when a model or view needs
them.
"""

from importlib.metadata import PackageNotFoundError, version

from rankaudit.data.readers import LogSource, read_timelines
from rankaudit.data.spec import Feature, FeatureSpec, load_spec
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
from rankaudit.models import ModelConfig, Ranker, available_kinds, load_ranker
from rankaudit.workspace import Workspace, load_workspace

try:
    __version__ = version("rankaudit")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

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
