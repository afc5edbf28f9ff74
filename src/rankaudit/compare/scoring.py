"""Logged rows scored by two rankers: the shared input of every ordering comparison.

Positions are 1-based inside each request, score descending, ties broken by tweet id ascending
(`rank_within_groups`); `displacement = position_a - position_b` (positive: ranker b moved the
tweet up). For a multi-head ranker the score is derived from its head probabilities as
``sum_h weight_h * p_h`` (the contract's definition of a multi-head score), so each model runs
once even when its heads are needed too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rankaudit.compare.metrics import (
    engagement_relevance,
    negative_engagement,
    rank_within_groups,
)
from rankaudit.compare.ranking import GroupIndex
from rankaudit.compare.settings import Scope
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.errors import NotFoundError, ParameterError
from rankaudit.models.base import Ranker
from rankaudit.workspace import Workspace

__all__ = [
    "ScoredRequests",
    "log_columns",
    "read_log",
    "score_requests",
    "score_with_heads",
    "scored_from_scores",
    "split_scope",
]

#: Columns `score_requests` adds to the rows it is given.
ADDED_COLUMNS = (
    "score_a",
    "score_b",
    "position_a",
    "position_b",
    "displacement",
    "relevance",
    "negative",
)


@dataclass(frozen=True, eq=False)
class ScoredRequests:
    """Rows of one or more requests scored by rankers a and b.

    `rows` holds the input rows (order and index kept, reset to 0..n-1) plus `score_a`,
    `score_b`, `position_a`, `position_b`, `displacement`, `relevance` (engagement-weighted,
    ``max(0, sum_h w_h label_h)``) and `negative` (a head with a negative weight was engaged).
    `probabilities[i]` holds ranker i's head probabilities aligned with `rows`, or None for a
    ranker without heads. `index` groups the rows by request; `request_ids[code]` is the id;
    `tweet_codes` orders tweet ids (the tie-break key of every position).
    """

    models: tuple[str, str]
    heads: Mapping[str, float]
    rows: pd.DataFrame
    probabilities: tuple[pd.DataFrame | None, pd.DataFrame | None]
    index: GroupIndex
    request_ids: NDArray[np.str_]
    tweet_codes: NDArray[np.int64]

    @property
    def n_requests(self) -> int:
        return self.index.n_groups


def score_with_heads(ranker: Ranker, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Return (final score, head probabilities or None) of `ranker` on `frame`.

    Multi-head rankers run once: the score is ``sum_h weight_h * p_h`` over their heads.
    """
    if ranker.heads and ranker.head_weights:
        probabilities = ranker.head_scores(frame)
        score = np.zeros(len(frame), dtype=np.float64)
        for head in ranker.heads:
            score += ranker.head_weights[head] * probabilities[head].to_numpy(dtype=np.float64)
        return score, probabilities.reset_index(drop=True)
    return np.asarray(ranker.score(frame), dtype=np.float64), None


def score_requests(
    frame: pd.DataFrame,
    rankers: tuple[Ranker, Ranker],
    heads: Mapping[str, float],
    *,
    models: tuple[str, str] | None = None,
) -> ScoredRequests:
    """Score `frame` (prepared log rows) with both rankers and return the ScoredRequests.

    Does not modify `frame`. `models` names the rankers (default: their own names).
    """
    rows = frame.reset_index(drop=True)
    score_a, probabilities_a = score_with_heads(rankers[0], rows)
    score_b, probabilities_b = score_with_heads(rankers[1], rows)
    return scored_from_scores(
        rows,
        (score_a, score_b),
        heads,
        models=models or (rankers[0].name, rankers[1].name),
        probabilities=(probabilities_a, probabilities_b),
    )


def scored_from_scores(
    frame: pd.DataFrame,
    scores: tuple[ArrayLike, ArrayLike],
    heads: Mapping[str, float],
    *,
    models: tuple[str, str] = ("a", "b"),
    probabilities: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None),
) -> ScoredRequests:
    """Return the ScoredRequests of `frame` under two given score arrays (aligned by row).

    `frame` needs `request_id`, `tweet_id` and the `label_<head>` columns of `heads`; it is not
    modified.
    """
    rows = frame.reset_index(drop=True)
    score_a = np.asarray(scores[0], dtype=np.float64)
    score_b = np.asarray(scores[1], dtype=np.float64)
    request_codes, request_ids = pd.factorize(rows[schema.REQUEST_ID].to_numpy(), sort=True)
    index = GroupIndex.of(request_codes)
    tweet_codes = pd.factorize(rows[schema.TWEET_ID].to_numpy(), sort=True)[0].astype(np.int64)
    position_a = rank_within_groups(index.codes, score_a, tweet_codes)
    position_b = rank_within_groups(index.codes, score_b, tweet_codes)
    added = pd.DataFrame(
        {
            "score_a": score_a,
            "score_b": score_b,
            "position_a": position_a,
            "position_b": position_b,
            "displacement": position_a - position_b,
            "relevance": engagement_relevance(rows, heads),
            "negative": negative_engagement(rows, heads),
        }
    )
    kept = rows.drop(columns=[c for c in ADDED_COLUMNS if c in rows.columns])
    return ScoredRequests(
        models=models,
        heads=dict(heads),
        rows=pd.concat([kept, added], axis=1),
        probabilities=probabilities,
        index=index,
        request_ids=np.asarray(request_ids, dtype=str),
        tweet_codes=tweet_codes,
    )


def log_columns(
    workspace: Workspace, rankers: Sequence[Ranker], *, text: bool = False
) -> list[str]:
    """Return the log columns a comparison reads: ids, time, position, labels, every spec
    feature and whatever the rankers read; the tweet text only with `text`."""
    wanted: list[str] = [
        *schema.REQUIRED_COLUMNS,
        schema.POSITION,
        *(schema.label_column(h) for h in workspace.heads),
        *workspace.spec.names,
    ]
    for ranker in rankers:
        wanted.extend(ranker.required_columns)
    if text:
        wanted.append(schema.TWEET_TEXT)
    return list(dict.fromkeys(wanted))


def read_log(
    workspace: Workspace,
    columns: Sequence[str],
    *,
    where: tuple[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Read the workspace log (or the rows whose id column is in `where`) restricted to the
    `columns` the log has. Raises NotFoundError when a `where` filter matches nothing."""
    frame = read_timelines(workspace.logs, workspace.spec, columns=columns, where=where)
    if where is not None and frame.empty:
        column, values = where
        what = {schema.USER_ID: "user", schema.REQUEST_ID: "request", schema.TWEET_ID: "tweet"}
        listed = ", ".join(repr(v) for v in values)
        raise NotFoundError(
            f"unknown {what.get(column, column)} {listed} in {describe_logs(workspace)}"
        )
    return frame


def describe_logs(workspace: Workspace) -> str:
    """Name the workspace's logs the way error messages do."""
    files = workspace.logs.files
    return str(files[0]) if len(files) == 1 else f"{len(files)} log files under {files[0].parent}"


def split_scope(
    frame: pd.DataFrame,
    holdout_from: pd.Timestamp | None,
    scope: Scope,
    *,
    keep_earlier: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame | None, Scope]:
    """Return (rows in scope, rows served before `holdout_from` or None, effective scope).

    "holdout" keeps requests served from `holdout_from` on; without a `holdout_from` it falls
    back to every request and the effective scope is "all". The earlier rows (what the rankers
    were trained on) are None without `holdout_from` or when `keep_earlier` is false.
    """
    if holdout_from is None:
        return frame, None, "all"
    before = (frame[schema.SERVED_AT] < holdout_from).to_numpy()
    earlier = frame.loc[before].reset_index(drop=True) if keep_earlier else None
    if scope == "all":
        return frame, earlier, "all"
    return frame.loc[~before].reset_index(drop=True), earlier, "holdout"


def scoped_log(
    workspace: Workspace,
    models: tuple[str, str],
    scope: str,
    caller: str,
    *,
    keep_earlier: bool = True,
) -> tuple[tuple[Ranker, Ranker], pd.DataFrame, pd.DataFrame | None, Scope]:
    """Check `scope` and the two model names, load both rankers, read what they need and split
    it by `scope` (see `split_scope`). Returns (rankers, rows in scope, earlier rows, scope)."""
    if scope not in ("holdout", "all"):
        raise ParameterError(
            f"The 'scope' parameter of {caller} must be 'holdout' or 'all'. Got {scope!r} instead."
        )
    for name in models:
        workspace.model(name)
    rankers = (workspace.ranker(models[0]), workspace.ranker(models[1]))
    frame = read_log(workspace, log_columns(workspace, rankers))
    checked: Scope = "all" if scope == "all" else "holdout"
    in_scope, earlier, effective = split_scope(
        frame, workspace.holdout_from, checked, keep_earlier=keep_earlier
    )
    return rankers, in_scope, earlier, effective
