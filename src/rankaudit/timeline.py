"""One timeline request ordered by two rankers: what `rankaudit demo` and later views show."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rankaudit.compare.orderings import most_disagreeing_request, side_by_side
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.errors import NotFoundError
from rankaudit.workspace import Workspace

__all__ = ["TimelineView", "load_side_by_side"]


@dataclass(frozen=True)
class TimelineView:
    """One request's candidates under two rankers (`rows` from `side_by_side`, sorted by the
    second ranker's position)."""

    request_id: str
    user_id: str
    served_at: pd.Timestamp
    models: tuple[str, str]
    heads: tuple[str, ...]
    rows: pd.DataFrame


def _scored(workspace: Workspace, frame: pd.DataFrame, models: tuple[str, str]) -> pd.DataFrame:
    first, second = (workspace.ranker(name) for name in models)
    return side_by_side(frame, first.score(frame), second.score(frame))


def load_side_by_side(
    workspace: Workspace,
    *,
    user: str | None = None,
    request: str | None = None,
    models: tuple[str, str] = ("baseline", "deep"),
) -> TimelineView:
    """Return one request ordered by both `models`.

    With `request`, that request; with `user` only, that viewer's request where the rankers
    disagree most; with neither, the log's most disagreeing request. Raises NotFoundError for
    an unknown viewer or request (or a request of another viewer).
    """
    for name in models:
        workspace.model(name)
    if request is not None:
        frame = read_timelines(workspace.logs, workspace.spec, where=(schema.REQUEST_ID, [request]))
        if frame.empty:
            raise NotFoundError(f"unknown request {request!r} in {_where(workspace)}")
        if user is not None and (frame[schema.USER_ID] != user).any():
            raise NotFoundError(f"request {request!r} was served to another viewer, not {user!r}")
    elif user is not None:
        frame = read_timelines(workspace.logs, workspace.spec, where=(schema.USER_ID, [user]))
        if frame.empty:
            raise NotFoundError(f"unknown user {user!r} in {_where(workspace)}")
    else:
        frame = read_timelines(workspace.logs, workspace.spec)
    ordered = _scored(workspace, frame, models)
    chosen = request if request is not None else most_disagreeing_request(ordered)
    rows = ordered.loc[ordered[schema.REQUEST_ID] == chosen].reset_index(drop=True)
    return TimelineView(
        request_id=chosen,
        user_id=str(rows[schema.USER_ID].iat[0]),
        served_at=pd.Timestamp(rows[schema.SERVED_AT].min()),
        models=models,
        heads=tuple(workspace.heads),
        rows=rows,
    )


def _where(workspace: Workspace) -> str:
    files = workspace.logs.files
    return str(files[0]) if len(files) == 1 else f"{len(files)} log files under {files[0].parent}"
