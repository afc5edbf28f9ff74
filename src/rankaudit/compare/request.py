"""One timeline request under two rankers: both orderings and how far they agree.

`compare_orderings` compares two given score arrays for one request (no workspace);
`compare_request` loads a viewer's or a request's rows from a workspace, scores them with two
of its rankers and compares them. Both return a frozen `RequestComparison` computed by the same
vectorised kernels as the population comparison, so a request's numbers are identical in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.compare.orderings import most_disagreeing_request, request_metrics
from rankaudit.compare.scoring import (
    JUDGEMENT_COLUMNS,
    ScoredRequests,
    describe_logs,
    log_columns,
    read_log,
    relevance_summary,
    score_requests,
    scored_from_scores,
)
from rankaudit.compare.settings import (
    DEFAULT_MODELS,
    CompareSettings,
    check_models,
    json_float,
)
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.data.relevance import GradedRelevance
from rankaudit.errors import NotFoundError, ParameterError
from rankaudit.workspace import Workspace

__all__ = [
    "RequestComparison",
    "TopKChange",
    "compare_orderings",
    "compare_request",
    "locate_tweet",
    "model_rows",
]

#: Version of the JSON documents `to_dict` writes; bumped only when a key changes meaning.
JSON_VERSION = 1
#: Per-tweet columns of `to_frame` / the JSON `tweets` list, before the label columns.
TWEET_COLUMNS = (
    schema.TWEET_ID,
    schema.AUTHOR_ID,
    "position_a",
    "position_b",
    "displacement",
    "score_a",
    "score_b",
    "relevance",
    "negative",
)
#: The two orderings' columns a comparison adds to the candidates (`model_rows` drops them).
ORDERING_COLUMNS = ("score_a", "score_b", "position_a", "position_b", "displacement")
#: Columns of the viewer's request table (`viewer_requests`), before the per-k ones.
_VIEWER_COLUMNS = (
    schema.REQUEST_ID,
    schema.SERVED_AT,
    "candidates",
    "engaged",
    "kendall_tau_b",
    "spearman",
    "rbo",
    "mean_abs_displacement",
)


@dataclass(frozen=True)
class TopKChange:
    """How the top k changed from ranker a to ranker b: tweets that `entered` b's top k (by b's
    position) and tweets that `exited` it (in a's top k, not in b's; by a's position)."""

    k: int
    entered: tuple[str, ...]
    exited: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "entered": list(self.entered), "exited": list(self.exited)}


@dataclass(frozen=True, eq=False)
class RequestComparison:
    """One request ordered by rankers a and b (`models`).

    `rows`: every candidate with the log columns read, `score_a`/`score_b`, 1-based
    `position_a`/`position_b` (score descending, ties by tweet id ascending), `displacement`
    (= position_a - position_b; positive: b moved the tweet up), `relevance` and `negative`
    (with `graded` also the grade and, with heads, the engagement-weighted relevance; see
    `ScoredRequests`); sorted by `position_b`. `probabilities`: each ranker's head probabilities aligned with
    `rows` (None for a ranker without heads). `metrics`: `candidates`, `engaged`,
    `kendall_tau_b`, `spearman`, `rbo`, `mean_abs_displacement`, and per k `overlap@k`,
    `ndcg@k_a`, `ndcg@k_b` (NaN where undefined). `viewer_requests`: the same metrics for
    every request of the viewer that was read (one row per request). `graded`: the graded
    judgements relevance comes from (None: engagement-weighted).
    """

    request_id: str
    user_id: str
    served_at: pd.Timestamp
    models: tuple[str, str]
    heads: Mapping[str, float]
    settings: CompareSettings
    metrics: Mapping[str, float]
    top_k: tuple[TopKChange, ...]
    rows: pd.DataFrame
    probabilities: tuple[pd.DataFrame | None, pd.DataFrame | None]
    viewer_requests: pd.DataFrame
    graded: GradedRelevance | None = None

    def tweet(self, tweet_id: str) -> pd.Series:
        """Return the row of candidate `tweet_id`; NotFoundError if it is not a candidate."""
        match = self.rows.loc[self.rows[schema.TWEET_ID] == str(tweet_id)]
        if match.empty:
            raise NotFoundError(
                f"tweet {str(tweet_id)!r} is not among the {len(self.rows)} candidates of "
                f"request {self.request_id!r}"
            )
        return match.iloc[0]

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate, sorted by position_b: TWEET_COLUMNS, with graded relevance
        `relevance_grade` (and `engagement_relevance` when there are heads), then
        `label_<head>`."""
        labels = [schema.label_column(h) for h in self.heads]
        judged = [c for c in JUDGEMENT_COLUMNS if c in self.rows]
        return self.rows.loc[:, [*TWEET_COLUMNS, *judged, *labels]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `rankaudit compare --request ... --format json` (keys in
        docs/compare.md); NaN becomes null."""
        tweets = []
        for record in self.to_frame().to_dict("records"):
            tweets.append(
                {
                    key: (
                        json_float(value)
                        if key in ("score_a", "score_b", "relevance", *JUDGEMENT_COLUMNS)
                        else bool(value)
                        if key == "negative"
                        else int(value)
                        if key in ("position_a", "position_b", "displacement")
                        or schema.is_label_column(str(key))
                        else str(value)
                    )
                    for key, value in record.items()
                }
            )
        viewer = []
        for record in self.viewer_requests.to_dict("records"):
            viewer.append(
                {
                    key: (
                        str(value)
                        if key == schema.REQUEST_ID
                        else pd.Timestamp(value).isoformat()
                        if key == schema.SERVED_AT
                        else int(value)
                        if key in ("candidates", "engaged")
                        else json_float(value)
                    )
                    for key, value in record.items()
                }
            )
        return {
            "kind": "request",
            "version": JSON_VERSION,
            "request_id": self.request_id,
            "user_id": self.user_id,
            "served_at": self.served_at.isoformat(),
            "models": {"a": self.models[0], "b": self.models[1]},
            "settings": {"k": list(self.settings.k), "p": self.settings.p},
            "metrics": {
                key: int(value) if key in ("candidates", "engaged") else json_float(value)
                for key, value in self.metrics.items()
            },
            "top_k": [change.to_dict() for change in self.top_k],
            "tweets": tweets,
            "viewer_requests": viewer,
            "relevance": relevance_summary(self.graded),
        }


def _top_k_changes(rows: pd.DataFrame, ks: tuple[int, ...]) -> tuple[TopKChange, ...]:
    changes = []
    by_b = rows.sort_values("position_b", kind="stable")
    by_a = rows.sort_values("position_a", kind="stable")
    for k in ks:
        entered = by_b.loc[(by_b["position_b"] <= k) & (by_b["position_a"] > k), schema.TWEET_ID]
        exited = by_a.loc[(by_a["position_a"] <= k) & (by_a["position_b"] > k), schema.TWEET_ID]
        changes.append(
            TopKChange(k=k, entered=tuple(map(str, entered)), exited=tuple(map(str, exited)))
        )
    return tuple(changes)


def _viewer_table(table: pd.DataFrame, ks: tuple[int, ...]) -> pd.DataFrame:
    per_k = [c for k in ks for c in (f"overlap@{k}", f"ndcg@{k}_a", f"ndcg@{k}_b")]
    return (
        table.loc[:, [*_VIEWER_COLUMNS, *per_k]]
        .sort_values([schema.SERVED_AT, schema.REQUEST_ID], kind="stable")
        .reset_index(drop=True)
    )


def _comparison(
    scored: ScoredRequests, request_id: str, settings: CompareSettings
) -> RequestComparison:
    """Build the comparison of `request_id` out of scored rows (possibly of several requests)."""
    table = request_metrics(scored, k=settings.k, p=settings.p)
    chosen = table.loc[table[schema.REQUEST_ID] == request_id]
    metric_columns = [
        c for c in table.columns if c not in (schema.REQUEST_ID, schema.USER_ID, schema.SERVED_AT)
    ]
    metrics = {str(c): float(chosen[c].to_numpy()[0]) for c in metric_columns}
    mask = (scored.rows[schema.REQUEST_ID] == request_id).to_numpy()
    order = np.flatnonzero(mask)[
        np.argsort(scored.rows["position_b"].to_numpy()[mask], kind="stable")
    ]
    rows = scored.rows.iloc[order].reset_index(drop=True)
    probabilities = tuple(
        None if p is None else p.iloc[order].reset_index(drop=True) for p in scored.probabilities
    )
    return RequestComparison(
        request_id=request_id,
        user_id=str(rows[schema.USER_ID].iat[0]),
        served_at=pd.Timestamp(rows[schema.SERVED_AT].min()),
        models=scored.models,
        heads=MappingProxyType(dict(scored.heads)),
        settings=settings,
        metrics=MappingProxyType(metrics),
        top_k=_top_k_changes(rows, settings.k),
        rows=rows,
        probabilities=(probabilities[0], probabilities[1]),
        viewer_requests=_viewer_table(table, settings.k),
        graded=scored.graded,
    )


def compare_orderings(
    frame: pd.DataFrame,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    heads: Mapping[str, float],
    graded: GradedRelevance | None = None,
    models: tuple[str, str] = ("a", "b"),
    settings: CompareSettings | None = None,
) -> RequestComparison:
    """Return the comparison of one request's candidates (`frame`, prepared log rows) ordered
    by `score_a` and `score_b` (aligned with the rows; higher ranks higher).

    `frame` needs `request_id`, `user_id`, `tweet_id`, `author_id`, `served_at`, the label
    columns of `heads` and, with `graded`, the grade column (relevance is then the grade's
    gain; `heads` may be empty). Raises ParameterError when `frame` holds no row or several
    requests, when the scores do not match its length, or when a setting is out of range;
    SchemaError for missing or negative grades.
    """
    caller = "compare_orderings"
    settings = (settings or CompareSettings()).validated(caller)
    models = check_models(models, caller)
    requests: list[str] = sorted(set(frame[schema.REQUEST_ID].astype(str)))
    if len(requests) != 1:
        shown = ", ".join(map(repr, requests[:3]))
        raise ParameterError(
            f"The 'frame' parameter of {caller} must hold the candidates of exactly one request. "
            f"Got {len(requests)} request(s) instead{': ' + shown if shown else ''}."
        )
    for name, score in (("score_a", score_a), ("score_b", score_b)):
        if np.shape(score) != (len(frame),):
            raise ParameterError(
                f"The {name!r} parameter of {caller} must hold one score per row "
                f"({len(frame)}). Got shape {np.shape(score)} instead."
            )
    scored = scored_from_scores(frame, (score_a, score_b), heads, graded=graded, models=models)
    return _comparison(scored, str(requests[0]), settings)


def compare_request(
    workspace: Workspace,
    *,
    user: str | None = None,
    request: str | None = None,
    models: tuple[str, str] = DEFAULT_MODELS,
    settings: CompareSettings | None = None,
) -> RequestComparison:
    """Return one request of `workspace` ordered and compared by two of its rankers.

    With `request`: that request (with `user` too, it must be that viewer's). With `user`
    only: the viewer's request where the rankers disagree most (largest mean |displacement|;
    ties: smallest request id). Every request of the viewer is scored, so `viewer_requests`
    lists them all. Raises NotFoundError for an unknown viewer or request, ParameterError for
    bad settings or when neither is given, WorkspaceError for an unknown model.
    """
    caller = "compare_request"
    settings = (settings or CompareSettings()).validated(caller)
    models = check_models(models, caller)
    if user is None and request is None:
        raise ParameterError(
            f"{caller} needs a user or a request; the population comparison is compare_population"
        )
    for name in models:
        workspace.model(name)
    # Find the rows before loading any model: an unknown id fails fast.
    ids = [schema.REQUEST_ID, schema.USER_ID]
    if request is not None:
        found = read_log(workspace, ids, where=(schema.REQUEST_ID, [request]))
        viewer = str(found[schema.USER_ID].iat[0])
        if user is not None and viewer != user:
            raise NotFoundError(
                f"request {request!r} was served to viewer {viewer!r}, not {user!r}"
            )
    else:
        viewer = str(user)
        read_log(workspace, ids, where=(schema.USER_ID, [viewer]))
    rankers = (workspace.ranker(models[0]), workspace.ranker(models[1]))
    columns = log_columns(workspace, rankers, text=True)
    frame = read_log(workspace, columns, where=(schema.USER_ID, [viewer]))
    scored = score_requests(
        frame, rankers, workspace.heads, graded=workspace.relevance, models=models
    )
    chosen = request if request is not None else most_disagreeing_request(scored.rows)
    return _comparison(scored, chosen, settings)


def locate_tweet(workspace: Workspace, comparison: RequestComparison, tweet_id: str) -> pd.Series:
    """Return the row of `tweet_id` in `comparison`; raise NotFoundError saying whether the
    tweet is unknown to the log or a candidate of other requests (up to three are named)."""
    tweet_id = str(tweet_id)
    if (comparison.rows[schema.TWEET_ID] == tweet_id).any():
        return comparison.tweet(tweet_id)
    elsewhere = _requests_of_tweet(workspace, tweet_id)
    if not elsewhere:
        raise NotFoundError(f"unknown tweet {tweet_id!r} in {describe_logs(workspace)}")
    shown = ", ".join(repr(r) for r in elsewhere[:3])
    more = f" and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else ""
    raise NotFoundError(
        f"tweet {tweet_id!r} is not a candidate of request {comparison.request_id!r}; "
        f"it was a candidate of request {shown}{more}"
    )


def _requests_of_tweet(workspace: Workspace, tweet_id: str) -> list[str]:
    """Return the sorted ids of the requests in which `tweet_id` was a candidate."""
    frame = read_timelines(
        workspace.logs,
        workspace.spec,
        columns=[schema.REQUEST_ID, schema.TWEET_ID],
        where=(schema.TWEET_ID, [tweet_id]),
    )
    return sorted(set(frame[schema.REQUEST_ID].astype(str))) if len(frame) else []


def model_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """A comparison's candidate rows without the orderings' columns (`ORDERING_COLUMNS`): the
    rows as the rankers and attributors are given them, so an explanation of a compared
    request equals one of the same log rows."""
    return rows.drop(columns=list(ORDERING_COLUMNS), errors="ignore")
