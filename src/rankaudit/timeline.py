"""Pick the request a view should show: the one asked for, or the one two rankers dispute most."""

from __future__ import annotations

from rankaudit.compare.orderings import most_disagreeing_request, side_by_side
from rankaudit.compare.request import RequestComparison, compare_request
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.workspace import Workspace

__all__ = ["load_side_by_side"]


def load_side_by_side(
    workspace: Workspace,
    *,
    user: str | None = None,
    request: str | None = None,
    models: tuple[str, str] = ("baseline", "deep"),
) -> RequestComparison:
    """Return one request compared under both `models` (see `compare_request`).

    With neither `user` nor `request`, the whole log is scored and the request where the two
    rankers disagree most (largest mean |displacement|, ties: smallest request id) is shown.
    """
    if user is None and request is None:
        for name in models:
            workspace.model(name)
        first, second = (workspace.ranker(name) for name in models)
        columns = list(
            dict.fromkeys(
                [
                    schema.REQUEST_ID,
                    schema.TWEET_ID,
                    *first.required_columns,
                    *second.required_columns,
                ]
            )
        )
        frame = read_timelines(workspace.logs, workspace.spec, columns=columns)
        request = most_disagreeing_request(
            side_by_side(frame, first.score(frame), second.score(frame))
        )
    return compare_request(workspace, user=user, request=request, models=models)
