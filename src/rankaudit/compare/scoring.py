"""Logged rows scored by two rankers: the shared input of every ordering comparison.

Positions are 1-based inside each request, score descending, ties broken by tweet id ascending
(`rank_within_groups`); `displacement = position_a - position_b` (positive: ranker b moved the
tweet up). For a multi-head ranker the score is derived from its head probabilities as
``sum_h weight_h * p_h`` (the contract's definition of a multi-head score), so each model runs
once even when its heads are needed too.

Relevance, what NDCG, the ideal ordering, "engaged" counts and surprises read, is one value per
row (`relevance`): the gain of the graded judgement (`graded_gain`, 2**g - 1 or g) when the
workspace configures `[relevance]` (`graded`), else the engagement-weighted
``max(0, sum_h w_h label_h)`` of the heads' labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from rankaudit.data.relevance import GradedRelevance, graded_gain
from rankaudit.errors import NotFoundError, ParameterError, SchemaError
from rankaudit.models.base import Ranker
from rankaudit.workspace import Workspace

__all__ = [
    "ENGAGEMENT",
    "GRADE",
    "ROW_WISE_BLOCK_ROWS",
    "SCORE_BLOCK_ROWS",
    "ScoredRequests",
    "judged_grades",
    "log_columns",
    "population_rows",
    "read_log",
    "relevance_label",
    "relevance_summary",
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
#: The judged grade of each row, kept beside its gain (`relevance`) with graded relevance: the
#: configured column may be called `relevance` itself, which scoring replaces by the gain.
GRADE = "relevance_grade"
#: The engagement-weighted relevance kept beside the graded one, when the workspace has both
#: graded judgements and heads (views show both; metrics read `relevance`).
ENGAGEMENT = "engagement_relevance"
#: Columns scoring adds only with graded relevance: the grade (GRADE) and ENGAGEMENT.
JUDGEMENT_COLUMNS = (GRADE, ENGAGEMENT)
#: The two rankers' sides, and how their head probabilities are named in `to_frame`
#: (`a_p_favorite`).
SIDES = ("a", "b")
PROBABILITY_INFIX = "_p_"
#: Rows per model call when scoring. Float32 kernels choose their blocking from the batch
#: size, so a row's score could move in the 7th digit with the rows scored beside it (the demo's
#: deep ranker's did, by up to 1.4e-7); calls of exactly this many rows (the last one padded
#: with copies of its final row) make each row's score independent of its neighbours and of
#: the thread count, so a partitioned run (`rankaudit.compare.batch`) scores every row exactly
#: as the in-memory comparison does, whatever its partitions. Measured on the demo (one thread):
#: one 23-row request padded to a block takes 3-4 ms per ranker (9-13 ms with 4,096-row
#: blocks); the whole 98,796-row log 0.34 s (deep) and 0.64 s (LightGBM), against 0.19 s and
#: 0.56 s with 4,096-row blocks.
SCORE_BLOCK_ROWS = 1024
#: Rows per model call for the rankers whose score of a row depends on that row alone, bit for
#: bit, whatever rows are scored beside it (`_row_wise`): no padding, and blocks only
#: to bound memory. Tree boosters pay a fixed cost per call (a LightGBM predict call sets up a
#: predictor): on the 20,000-viewer fixture's 287,488 held-out rows the 5-booster LightGBM
#: baseline took 14.6-16.0 s in padded 1,024-row blocks and 6.5-7.9 s in these, with identical
#: scores and head probabilities (2 cores shared with other work).
ROW_WISE_BLOCK_ROWS = 65536


@dataclass(frozen=True, eq=False)
class ScoredRequests:
    """Rows of one or more requests scored by rankers a and b.

    `rows` holds the input rows (order and index kept, reset to 0..n-1) plus `score_a`,
    `score_b`, `position_a`, `position_b`, `displacement`, `relevance` (the gain of the graded
    judgement with `graded`, else engagement-weighted ``max(0, sum_h w_h label_h)``) and
    `negative` (a head with a negative weight was engaged; never without heads). With `graded`
    it also holds GRADE (the grade) and, when there are heads, ENGAGEMENT (the
    engagement-weighted relevance, shown beside the graded one; metrics do not read it).
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
    graded: GradedRelevance | None = None

    @property
    def n_requests(self) -> int:
        return self.index.n_groups

    def to_frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The scored rows as one table: the input `columns` (default: all) that `rows` holds,
        the added columns (`score_a` ... `negative`, then GRADE and ENGAGEMENT where present),
        then each ranker's head probabilities as `a_p_<head>` and `b_p_<head>`. `from_frame`
        reads it back."""
        kept = [
            c for c in (columns if columns is not None else self.rows.columns) if c in self.rows
        ]
        inputs = [c for c in kept if c not in ADDED_COLUMNS and c not in JUDGEMENT_COLUMNS]
        judged = [c for c in JUDGEMENT_COLUMNS if c in self.rows]
        parts = [self.rows[[*inputs, *ADDED_COLUMNS, *judged]]]
        for side, probabilities in zip(SIDES, self.probabilities, strict=True):
            if probabilities is not None:
                parts.append(probabilities.add_prefix(f"{side}{PROBABILITY_INFIX}"))
        return pd.concat([p.reset_index(drop=True) for p in parts], axis=1)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        heads: Mapping[str, float],
        *,
        models: tuple[str, str],
        graded: GradedRelevance | None = None,
    ) -> ScoredRequests:
        """The ScoredRequests of a `to_frame` table (rows in the order given): scores and head
        probabilities are read, positions and the other added columns recomputed (the gain
        from the table's GRADE column with `graded`)."""
        probabilities: list[pd.DataFrame | None] = []
        prefixes = tuple(f"{side}{PROBABILITY_INFIX}" for side in SIDES)
        for prefix in prefixes:
            names = {c: c[len(prefix) :] for c in frame.columns if c.startswith(prefix)}
            table = frame[list(names)].rename(columns=names).reset_index(drop=True)
            probabilities.append(table if names else None)
        inputs = [c for c in frame.columns if c not in ADDED_COLUMNS and not c.startswith(prefixes)]
        return scored_from_scores(
            frame[inputs],
            (frame["score_a"].to_numpy(), frame["score_b"].to_numpy()),
            heads,
            graded=graded,
            models=models,
            probabilities=(probabilities[0], probabilities[1]),
        )


def _row_wise(ranker: Ranker) -> bool:
    """Whether `ranker` is one of the built-in adapters whose score of a row depends on that row
    alone (tree boosters walk each row's trees in float64 one row at a time; the logged and
    chronological orderings read one column). Subclasses and other kinds are not assumed to."""
    from rankaudit.models.served import ChronologicalRanker, LoggedRanker
    from rankaudit.models.trees import LightGBMRanker, XGBoostRanker

    return type(ranker) in (LightGBMRanker, XGBoostRanker, LoggedRanker, ChronologicalRanker)


def _blocks(frame: pd.DataFrame, ranker: Ranker) -> Iterator[tuple[pd.DataFrame, int]]:
    """`frame` in blocks, each with its count of real rows: ROW_WISE_BLOCK_ROWS rows for a
    row-wise ranker (`_row_wise`), else exactly SCORE_BLOCK_ROWS rows (the last block padded
    with copies of its final row)."""
    if _row_wise(ranker):
        for start in range(0, len(frame), ROW_WISE_BLOCK_ROWS):
            block = frame.iloc[start : start + ROW_WISE_BLOCK_ROWS]
            yield block, len(block)
        return
    for start in range(0, len(frame), SCORE_BLOCK_ROWS):
        block = frame.iloc[start : start + SCORE_BLOCK_ROWS]
        real = len(block)
        if real < SCORE_BLOCK_ROWS:
            padding = np.full(SCORE_BLOCK_ROWS - real, real - 1)
            block = block.iloc[np.concatenate([np.arange(real), padding])]
        yield block, real


def score_with_heads(ranker: Ranker, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Return (final score, head probabilities or None) of `ranker` on `frame`, aligned with
    its rows; scored in blocks of SCORE_BLOCK_ROWS rows (larger ones for a row-wise ranker, see
    `_blocks`), so a row's values do not depend on the other rows of `frame`.

    Multi-head rankers run once: the score is ``sum_h weight_h * p_h`` over their heads.
    """
    rows = frame.reset_index(drop=True)
    if ranker.heads and ranker.head_weights:
        parts = [ranker.head_scores(block).iloc[:real] for block, real in _blocks(rows, ranker)]
        probabilities = (
            pd.concat(parts, ignore_index=True) if parts else ranker.head_scores(rows)
        ).reset_index(drop=True)
        score = np.zeros(len(rows), dtype=np.float64)
        for head in ranker.heads:
            score += ranker.head_weights[head] * probabilities[head].to_numpy(dtype=np.float64)
        return score, probabilities
    if rows.empty:
        return np.asarray(ranker.score(rows), dtype=np.float64), None
    scores = [
        np.asarray(ranker.score(block), dtype=np.float64)[:real]
        for block, real in _blocks(rows, ranker)
    ]
    return np.concatenate(scores), None


def score_requests(
    frame: pd.DataFrame,
    rankers: tuple[Ranker, Ranker],
    heads: Mapping[str, float],
    *,
    graded: GradedRelevance | None = None,
    models: tuple[str, str] | None = None,
) -> ScoredRequests:
    """Score `frame` (prepared log rows) with both rankers and return the ScoredRequests
    (relevance from `graded` when given, else from the labels of `heads`).

    Does not modify `frame`. `models` names the rankers (default: their own names).
    """
    rows = frame.reset_index(drop=True)
    score_a, probabilities_a = score_with_heads(rankers[0], rows)
    score_b, probabilities_b = score_with_heads(rankers[1], rows)
    return scored_from_scores(
        rows,
        (score_a, score_b),
        heads,
        graded=graded,
        models=models or (rankers[0].name, rankers[1].name),
        probabilities=(probabilities_a, probabilities_b),
    )


def scored_from_scores(
    frame: pd.DataFrame,
    scores: tuple[ArrayLike, ArrayLike],
    heads: Mapping[str, float],
    *,
    graded: GradedRelevance | None = None,
    models: tuple[str, str] = ("a", "b"),
    probabilities: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None),
) -> ScoredRequests:
    """Return the ScoredRequests of `frame` under two given score arrays (aligned by row).

    `frame` needs `request_id`, `tweet_id`, the `label_<head>` columns of `heads` and, with
    `graded`, its grade column (or GRADE, in rows scored before); it is not modified. Each
    row's `relevance` is the gain of its grade with `graded`, else its engagement-weighted
    relevance. Raises SchemaError when the grades are missing, not finite or negative.
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
    if graded is not None:
        grades = judged_grades(rows, graded)
        if heads:
            added[ENGAGEMENT] = added["relevance"]
        added["relevance"] = graded_gain(grades, graded.gain)
        added.insert(len(ADDED_COLUMNS), GRADE, grades)
    replaced = (*ADDED_COLUMNS, *JUDGEMENT_COLUMNS)
    kept = rows.drop(columns=[c for c in replaced if c in rows.columns])
    return ScoredRequests(
        models=models,
        heads=dict(heads),
        rows=pd.concat([kept, added], axis=1),
        probabilities=probabilities,
        index=index,
        request_ids=np.asarray(request_ids, dtype=str),
        tweet_codes=tweet_codes,
        graded=graded,
    )


def judged_grades(rows: pd.DataFrame, graded: GradedRelevance) -> NDArray[np.float64]:
    """The float64 grades of `rows`: GRADE in rows scored before (where the configured column
    may already hold the gain), else the configured column. Raises SchemaError when they are
    missing, not numeric, not finite or negative."""
    source = GRADE if GRADE in rows else graded.column
    where = f"graded relevance column {graded.column!r} (rankaudit.toml [relevance] column)"
    if source not in rows:
        raise SchemaError(
            f"{where} is not among the log columns read; add the grades to the log or name "
            "their column in [relevance] column"
        )
    try:
        grades = rows[source].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise SchemaError(
            f"{where} has dtype {rows[source].dtype}; grades must be numbers >= 0"
        ) from None
    bad = ~(np.isfinite(grades) & (grades >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SchemaError(
            f"{where} has {int(bad.sum())} grade(s) that are missing or negative, e.g. "
            f"{float(grades[first])!r} for tweet {rows[schema.TWEET_ID].iat[first]!r} of request "
            f"{rows[schema.REQUEST_ID].iat[first]!r}; grades must be numbers >= 0 "
            "(check the log with `rankaudit validate`)"
        )
    return grades


def relevance_label(graded: GradedRelevance | None) -> str:
    """How tables and reports name the relevance NDCG and surprises use."""
    if graded is None:
        return "engagement-weighted relevance"
    return f"graded relevance (gain {'2^g−1' if graded.gain == 'exponential' else 'g'})"


def relevance_summary(graded: GradedRelevance | None) -> dict[str, str | None]:
    """The JSON `relevance` object: `kind` ("graded" or "engagement"), the grade `column`
    (null for engagement), the `gain` ("exponential", "linear"; engagement-weighted relevance
    is a linear gain) and the `label` tables show."""
    return {
        "kind": "engagement" if graded is None else "graded",
        "column": None if graded is None else graded.column,
        "gain": "linear" if graded is None else graded.gain,
        "label": relevance_label(graded),
    }


def log_columns(
    workspace: Workspace, rankers: Sequence[Ranker], *, text: bool = False
) -> list[str]:
    """Return the log columns a comparison reads: ids, time, position, labels, the graded
    relevance column (with `[relevance]`), every spec feature and whatever the rankers read;
    the tweet text only with `text`."""
    wanted: list[str] = [
        *schema.REQUIRED_COLUMNS,
        schema.POSITION,
        *(schema.label_column(h) for h in workspace.heads),
        *([] if workspace.relevance is None else [workspace.relevance.column]),
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


def population_rows(
    workspace: Workspace, models: tuple[str, str], scope: str, caller: str
) -> tuple[tuple[Ranker, Ranker], pd.DataFrame, Scope]:
    """`scoped_log` for a population comparison: (rankers, rows in scope, effective scope).
    Raises ParameterError when no request is in scope."""
    rankers, in_scope, _, effective = scoped_log(
        workspace, models, scope, caller, keep_earlier=False
    )
    if in_scope.empty:
        raise ParameterError(
            f"no request in scope {scope!r}: nothing was served from "
            f"{workspace.holdout_from} on; use scope 'all'"
        )
    return rankers, in_scope, effective
