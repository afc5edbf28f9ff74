"""Scaffold a workspace from a team's own files: `rankaudit init`.

`init_from_logs` guesses the feature spec, heads and relevance from a log sample and each
model's kind from its file; `init_from_svmlight` imports a LETOR/svmlight file as a log first.
Both write rankaudit.toml and features.yaml atomically and validate the result.
"""

from __future__ import annotations

from rankaudit.scaffold.api import InitReport, init_from_logs, init_from_svmlight
from rankaudit.scaffold.infer import (
    DEFAULT_SAMPLE_ROWS,
    LogGuess,
    ModelGuess,
    guess_model,
    infer_log,
    parse_model_option,
)
from rankaudit.scaffold.svmlight import SvmlightLog, read_svmlight

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "InitReport",
    "LogGuess",
    "ModelGuess",
    "SvmlightLog",
    "guess_model",
    "infer_log",
    "init_from_logs",
    "init_from_svmlight",
    "parse_model_option",
    "read_svmlight",
]
