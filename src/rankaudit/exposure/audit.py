"""The exposure audit: which groups of tweets (authors, kinds of content) the audited ranker
amplifies against a reference ordering, with paired-bootstrap intervals over viewers.

What it measures: amplification *at the ranking stage, on a fixed candidate pool*. Both
orderings rank the same logged candidates of every request; candidate generation, what viewers
would have done differently, and feedback loops are outside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.compare.scoring import (
    ScoredRequests,
    log_columns,
    read_log,
    score_requests,
    split_scope,
)
from rankaudit.compare.settings import check_models
from rankaudit.data import schema
from rankaudit.errors import ParameterError
from rankaudit.exposure.attention import Attention, estimate_survival, parse_attention
from rankaudit.exposure.groups import Grouping, group_rows, read_author_attributes
from rankaudit.exposure.metrics import request_cells, viewer_totals
from rankaudit.exposure.stats import bootstrap_ratios, permutation_tests
from rankaudit.models.threads import torch_threads
from rankaudit.workspace import Workspace

__all__ = [
    "MEASURES",
    "ExposureAudit",
    "ExposureSettings",
    "audit_exposure",
    "audit_scored",
]

MEASURES = (
    "measures amplification at the ranking stage on a fixed candidate pool: both orderings rank "
    "the same logged candidates of each request; candidate generation and viewers' reactions "
    "to a different timeline are outside it"
)
#: Groupings with more groups than this get no pairwise permutation tests.
MAX_TESTED_GROUPS = 8
#: torch intra-op threads while the audit scores the log (see `audit_exposure`).
SCORING_TORCH_THREADS = 1


@dataclass(frozen=True)
class ExposureSettings:
    """How the audit runs: the position model (`attention`: "log", "geometric:P",
    "empirical"), bootstrap resamples, permutation draws, interval confidence and seed."""

    attention: str = "log"
    n_bootstrap: int = 1000
    n_permutations: int = 2000
    confidence: float = 0.95
    seed: int = 0

    def validated(self, caller: str) -> ExposureSettings:
        for name in ("n_bootstrap", "n_permutations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"The '{name}' parameter of {caller} must be an int >= 1. Got {value!r} "
                    "instead."
                )
        if not 0.0 < self.confidence < 1.0:
            raise ParameterError(
                f"The 'confidence' parameter of {caller} must be in (0, 1). Got "
                f"{self.confidence!r} instead."
            )
        parse_attention(self.attention)
        return self


@dataclass(frozen=True, eq=False)
class ExposureAudit:
    """The audit of rankers `models` (reference a, audited b).

    `groups`: one row per (grouping, group) with `tweets` (candidate rows), `reach_a`,
    `reach_b` (expected share of viewers reached), `share_a`, `share_b` (exposure shares),
    `amplification` and `exposure_ratio` (b over a minus 1) each with `_low` / `_high`
    interval bounds. `disparity`: per grouping, max - min amplification with its interval.
    `tests`: pairwise permutation p-values between the groups of each grouping. `cells`: per
    (request, grouping, group) reach and exposure under both orderings (the drill-down).
    """

    models: tuple[str, str]
    attention: Attention
    scope: str
    n_viewers: int
    n_requests: int
    confidence: float
    groups: pd.DataFrame
    disparity: pd.DataFrame
    tests: pd.DataFrame
    cells: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The per-group table (a copy of `groups`)."""
        return self.groups.copy()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document: settings, groups, disparity and tests (NaN as null)."""
        return {
            "models": {"reference": self.models[0], "audited": self.models[1]},
            "measures": MEASURES,
            "attention": self.attention.to_dict(),
            "scope": self.scope,
            "viewers": self.n_viewers,
            "requests": self.n_requests,
            "confidence": self.confidence,
            "groups": _records(self.groups),
            "disparity": _records(self.disparity),
            "tests": _records(self.tests),
        }

    def beyond(self, threshold: float) -> pd.DataFrame:
        """The groups whose amplification interval lies wholly beyond +-`threshold` (a
        fraction: 0.1 is 10%): low > threshold or high < -threshold."""
        low = self.groups["amplification_low"]
        high = self.groups["amplification_high"]
        return self.groups.loc[(low > threshold) | (high < -threshold)].reset_index(drop=True)

    def top_requests(self, grouping: str, group: str, n: int = 10) -> pd.DataFrame:
        """The `n` requests where the audited ordering changed `group`'s reach the most
        (|reach_b - reach_a|, ties by request id), with their viewer and both reaches."""
        rows = self.cells.loc[
            (self.cells["grouping"] == grouping) & (self.cells["group"] == group)
        ].copy()
        rows["change"] = rows["reach_b"] - rows["reach_a"]
        rows["size"] = rows["change"].abs()
        rows = rows.sort_values(["size", schema.REQUEST_ID], ascending=[False, True], kind="stable")
        return rows.drop(columns=["size"]).head(n).reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict(orient="records"):
        out.append(
            {
                str(k): (
                    None
                    if isinstance(v, float) and not math.isfinite(v)
                    else v.item()
                    if isinstance(v, np.generic)
                    else v
                )
                for k, v in record.items()
            }
        )
    return out


def _attention(text: str, scored: ScoredRequests) -> Attention:
    attention = parse_attention(text)
    if attention.kind != "empirical":
        return attention
    rows = scored.rows
    if schema.POSITION not in rows:
        raise ParameterError(
            f"the empirical attention model reads the served {schema.POSITION!r} column, which "
            "the log lacks; use --attention log or geometric:P"
        )
    table = estimate_survival(
        scored.index.codes,
        rows[schema.POSITION].to_numpy(dtype=np.int64),
        rows["relevance"].to_numpy(dtype=np.float64) > 0,
    )
    return replace(attention, table=tuple(float(v) for v in table))


def audit_scored(
    scored: ScoredRequests,
    groupings: Sequence[Grouping],
    *,
    settings: ExposureSettings | None = None,
    scope: str = "all",
) -> ExposureAudit:
    """Return the ExposureAudit of rows already scored by both rankers (`groupings` aligned with
    `scored.rows`)."""
    settings = (settings or ExposureSettings()).validated("audit_scored")
    attention = _attention(settings.attention, scored)
    rows = scored.rows
    request_codes = scored.index.codes
    viewer_codes, _ = pd.factorize(rows[schema.USER_ID].to_numpy(), sort=True)
    n_viewers = int(viewer_codes.max()) + 1 if len(viewer_codes) else 0
    viewer_of_request = np.zeros(scored.n_requests, dtype=np.int64)
    viewer_of_request[request_codes] = viewer_codes
    seen_a = attention.survival(rows["position_a"].to_numpy())
    seen_b = attention.survival(rows["position_b"].to_numpy())
    group_rows_out: list[dict[str, Any]] = []
    disparity_rows: list[dict[str, Any]] = []
    test_rows: list[dict[str, Any]] = []
    cell_frames: list[pd.DataFrame] = []
    for grouping in groupings:
        n_groups = grouping.n_groups
        cells = request_cells(request_codes, grouping.codes, n_groups, seen_a, seen_b)
        totals = viewer_totals(cells, viewer_of_request, n_viewers, n_groups)
        intervals = bootstrap_ratios(
            totals.values,
            n_groups,
            n_resamples=settings.n_bootstrap,
            confidence=settings.confidence,
            seed=settings.seed,
        )
        sums = totals.values.sum(axis=0)
        tweets = np.bincount(grouping.codes, minlength=n_groups)
        for g, label in enumerate(grouping.labels):
            record: dict[str, Any] = {
                "grouping": grouping.name,
                "group": label,
                "tweets": int(tweets[g]),
                "reach_a": float(sums[g] / max(n_viewers, 1)),
                "reach_b": float(sums[n_groups + g] / max(n_viewers, 1)),
            }
            for name in ("share_a", "share_b", "amplification", "exposure_ratio"):
                record[name] = float(intervals.point[name][g])
                if name in ("amplification", "exposure_ratio"):
                    record[f"{name}_low"] = float(intervals.low[name][g])
                    record[f"{name}_high"] = float(intervals.high[name][g])
            group_rows_out.append(record)
        disparity_rows.append(
            {
                "grouping": grouping.name,
                "disparity": float(intervals.point["disparity"]),
                "disparity_low": float(intervals.low["disparity"]),
                "disparity_high": float(intervals.high["disparity"]),
            }
        )
        if 2 <= n_groups <= MAX_TESTED_GROUPS:
            amplification = intervals.point["amplification"]
            pairs = [(g, h) for g in range(n_groups) for h in range(g + 1, n_groups)]
            p_values = permutation_tests(
                totals.values,
                n_groups,
                pairs,
                n_permutations=settings.n_permutations,
                seed=settings.seed,
            )
            for (g, h), p_value in zip(pairs, p_values, strict=True):
                test_rows.append(
                    {
                        "grouping": grouping.name,
                        "group": grouping.labels[g],
                        "other": grouping.labels[h],
                        "difference": float(amplification[g] - amplification[h]),
                        "p_value": p_value,
                    }
                )
        cell_frames.append(
            pd.DataFrame(
                {
                    schema.REQUEST_ID: scored.request_ids[cells.request],
                    schema.USER_ID: rows[schema.USER_ID].to_numpy()[
                        scored.index.order[scored.index.starts[cells.request]]
                    ],
                    "grouping": grouping.name,
                    "group": np.asarray(grouping.labels, dtype=object)[cells.group],
                    "reach_a": cells.reach_a,
                    "reach_b": cells.reach_b,
                    "exposure_a": cells.exposure_a,
                    "exposure_b": cells.exposure_b,
                }
            )
        )
    return ExposureAudit(
        models=scored.models,
        attention=attention,
        scope=scope,
        n_viewers=n_viewers,
        n_requests=scored.n_requests,
        confidence=settings.confidence,
        groups=pd.DataFrame(group_rows_out),
        disparity=pd.DataFrame(disparity_rows),
        tests=pd.DataFrame(
            test_rows, columns=["grouping", "group", "other", "difference", "p_value"]
        ),
        cells=pd.concat(cell_frames, ignore_index=True) if cell_frames else pd.DataFrame(),
    )


def audit_exposure(
    workspace: Workspace,
    *,
    groups: Sequence[str] = (),
    attributes: Path | None = None,
    models: tuple[str, str] = ("baseline", "deep"),
    settings: ExposureSettings | None = None,
    scope: str = "holdout",
) -> ExposureAudit:
    """Return the exposure audit of rankers `models` (reference, audited) of `workspace` over
    the requests in `scope` ("holdout" or "all"), for the group specs `groups` (log columns,
    or attribute columns of the author file `attributes`; see `rankaudit.exposure.groups`).

    Raises ParameterError for bad settings, groups or scope, WorkspaceError for an unknown
    model, InputFileError / SchemaError for an unusable attribute file.
    """
    caller = "audit_exposure"
    settings = (settings or ExposureSettings()).validated(caller)
    models = check_models(models, caller)
    if scope not in ("holdout", "all"):
        raise ParameterError(
            f"The 'scope' parameter of {caller} must be 'holdout' or 'all'. Got {scope!r} instead."
        )
    table = read_author_attributes(attributes) if attributes is not None else None
    for name in models:
        workspace.model(name)
    rankers = (workspace.ranker(models[0]), workspace.ranker(models[1]))
    columns = log_columns(workspace, rankers)
    if table is None:
        columns = [*columns, *(spec.partition(":")[0] for spec in groups)]
    frame = read_log(workspace, list(dict.fromkeys(columns)))
    in_scope, _, effective = split_scope(
        frame, workspace.holdout_from, "all" if scope == "all" else "holdout", keep_earlier=False
    )
    if in_scope.empty:
        raise ParameterError(f"no request in scope {scope!r}; use scope 'all'")
    source = str(attributes) if attributes is not None else "the log"
    groupings = group_rows(in_scope.reset_index(drop=True), groups, attributes=table, source=source)
    # One torch thread: the scoring blocks are small (SCORE_BLOCK_ROWS rows), where a second
    # intra-op thread costs more than it gives, and on a busy machine far more; the scores are
    # the same whatever the thread count (the blocks fix the reduction order).
    with torch_threads(SCORING_TORCH_THREADS):
        scored = score_requests(
            in_scope, rankers, workspace.heads, graded=workspace.relevance, models=models
        )
    return audit_scored(scored, groupings, settings=settings, scope=effective)
