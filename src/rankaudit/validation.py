"""The one check of a workspace's inputs: logs against the contract and the spec, models against
the spec and the logs.

`rankaudit validate` runs it on every model; every other command that reads the logs runs it on
the models it uses (`check_workspace`) before computing anything, so that bad input stops with
the same lines `validate` prints instead of a traceback or a silently wrong number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rankaudit.data.validate import LogSummary, validate_logs
from rankaudit.errors import RankauditError, ValidationFailed
from rankaudit.workspace import Workspace

__all__ = ["ModelSummary", "WorkspaceSummary", "check_workspace", "validate_workspace"]


@dataclass(frozen=True)
class ModelSummary:
    name: str
    kind: str
    description: str
    fingerprint: str
    #: What the loader decided for the user (e.g. features matched to the spec by position).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkspaceSummary:
    """What a clean workspace holds."""

    logs: LogSummary
    features: int
    heads: tuple[str, ...]
    models: tuple[ModelSummary, ...]

    @property
    def notes(self) -> tuple[str, ...]:
        """Every note of the logs and the models, models prefixed by their name."""
        return (
            *self.logs.notes,
            *(f"model {m.name}: {note}" for m in self.models for note in m.notes),
        )


def _check_model(
    workspace: Workspace, name: str, columns: set[str]
) -> tuple[list[str], ModelSummary | None]:
    config = workspace.model(name)
    try:
        ranker = workspace.ranker(name)
    except RankauditError as exc:
        return [str(exc)], None
    problems = []
    spec = workspace.spec
    unknown = [f for f in ranker.feature_names if f not in spec]
    if unknown:
        problems.append(
            f"{config.source}: model expects features missing from the spec: {', '.join(unknown)}"
        )
    for feature in ranker.feature_names:
        if feature not in spec:
            continue
        model_categorical = feature in ranker.categorical_features
        if model_categorical != spec[feature].is_categorical:
            problems.append(
                f"{config.source}: model treats {feature!r} as "
                f"{'categorical' if model_categorical else 'numeric'}, the spec says {spec[feature].kind}"
            )
    # Spec features missing from the logs are reported by the log checks already.
    absent = [
        c
        for c in ranker.required_columns
        if c not in columns and c not in spec and c not in unknown
    ]
    if absent:
        problems.append(
            f"{config.source}: model reads columns missing from the logs: {', '.join(absent)}"
        )
    extra_heads = [h for h in ranker.heads if h not in workspace.heads]
    if extra_heads:
        problems.append(
            f"{config.source}: model heads not listed in [heads] (no labels to check them): {', '.join(extra_heads)}"
        )
    summary = ModelSummary(
        name=name,
        kind=ranker.kind,
        description=ranker.description,
        fingerprint=ranker.fingerprint,
        notes=tuple(getattr(ranker, "notes", ())),
    )
    return problems, summary


def validate_workspace(
    workspace: Workspace, models: Iterable[str] | None = None
) -> WorkspaceSummary:
    """Check the logs and `models` (default: every configured model); return the summary, or
    raise ValidationFailed with every problem, one line each.

    The result is kept on the workspace object: a second call with the same models costs
    nothing (the log files are read once per workspace)."""
    names = tuple(workspace.models if models is None else dict.fromkeys(models))
    for name in names:
        workspace.model(name)  # an unknown name is one line listing the configured ones
    cached = workspace.checks.get(names)
    if isinstance(cached, WorkspaceSummary):
        return cached
    logs = workspace.checks.get("logs")
    if not isinstance(logs, tuple):
        logs = validate_logs(
            workspace.logs, workspace.spec, workspace.heads, relevance=workspace.relevance
        )
        workspace.checks["logs"] = logs
    problems, log_summary = list(logs[0]), logs[1]
    columns: set[str] = set()
    for found in workspace.logs.columns().values():
        columns.update(found)
    summaries = []
    for name in names:
        model_problems, summary = _check_model(workspace, name, columns)
        problems.extend(model_problems)
        if summary is not None:
            summaries.append(summary)
    if problems:
        raise ValidationFailed(problems)
    result = WorkspaceSummary(
        logs=log_summary,
        features=len(workspace.spec),
        heads=tuple(workspace.heads),
        models=tuple(summaries),
    )
    workspace.checks[names] = result
    return result


def check_workspace(workspace: Workspace, models: Iterable[str]) -> Workspace:
    """Return `workspace` once its logs and the named models pass `validate_workspace`'s
    checks; raise ValidationFailed (one line per problem) otherwise. What every command that
    reads the logs calls first."""
    validate_workspace(workspace, models)
    return workspace
