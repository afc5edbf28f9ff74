"""Exceptions raised by rankaudit.

Library code raises these; only the CLI turns them into exit codes. Every message says what was
wrong, where (file, column, key) and, where there is one, how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AttributionError",
    "InputFileError",
    "ModelLoadError",
    "NotFoundError",
    "ParameterError",
    "RankauditError",
    "SchemaError",
    "UnknownKeyError",
    "ValidationFailed",
    "WorkspaceError",
]


class RankauditError(Exception):
    """Base class of every error rankaudit raises on bad user input."""


class WorkspaceError(RankauditError, ValueError):
    """`rankaudit.toml` is missing, malformed, or names something that does not exist."""


class UnknownKeyError(WorkspaceError):
    """A configuration table holds a key rankaudit does not know."""


class SchemaError(RankauditError, ValueError):
    """A feature spec or a log does not follow the logged-timeline contract."""


class InputFileError(RankauditError, OSError):
    """An input file cannot be read or parsed."""


class ModelLoadError(RankauditError, ValueError):
    """A model file cannot be loaded safely, or does not match its configuration."""


class ValidationFailed(RankauditError):
    """`validate` found problems; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) found")


class NotFoundError(RankauditError, LookupError):
    """A viewer, request or tweet named by the user is not in the logs."""


class AttributionError(RankauditError, ValueError):
    """An attribution request that cannot be served (method, reference, head or pair)."""


class ParameterError(RankauditError, ValueError):
    """A parameter is out of its range (k < 1, p outside (0, 1), ...)."""
