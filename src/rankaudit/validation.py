"""`rankaudit validate`: check a workspace's logs against the spec and every configured model."""

from __future__ import annotations

from dataclasses import dataclass

from rankaudit.data.validate import LogSummary, validate_logs
from rankaudit.errors import RankauditError, ValidationFailed
from rankaudit.workspace import Workspace

__all__ = ["ModelSummary", "WorkspaceSummary", "validate_workspace"]


@dataclass(frozen=True)
class ModelSummary:
    name: str
    kind: str
    description: str
    fingerprint: str


@dataclass(frozen=True)
class WorkspaceSummary:
    """What a clean workspace holds."""

    logs: LogSummary
    features: int
    heads: tuple[str, ...]
    models: tuple[ModelSummary, ...]


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
        name=name, kind=ranker.kind, description=ranker.description, fingerprint=ranker.fingerprint
    )
    return problems, summary


def validate_workspace(workspace: Workspace) -> WorkspaceSummary:
    """Check logs and models; return the summary, or raise ValidationFailed with every problem."""
    problems, log_summary = validate_logs(workspace.logs, workspace.spec, workspace.heads)
    columns: set[str] = set()
    for names in workspace.logs.columns().values():
        columns.update(names)
    models = []
    for name in workspace.models:
        model_problems, summary = _check_model(workspace, name, columns)
        problems.extend(model_problems)
        if summary is not None:
            models.append(summary)
    if problems:
        raise ValidationFailed(problems)
    return WorkspaceSummary(
        logs=log_summary,
        features=len(workspace.spec),
        heads=tuple(workspace.heads),
        models=tuple(models),
    )
