"""Surprising timelines: a score that ranks requests worth a look, found without knowing where
to look.

Ranker a is the reference, ranker b the one under audit. Per request, four components in
[0, 1] (k = `SurpriseSettings.k`, positions tie-broken as everywhere):

- `disagreement` = 1 - RBO(a, b): top-weighted disagreement of the two orderings.
- `demoted_engagement`: the share of a's discounted engagement gain that b lost by moving
  engaged tweets down, sum_i rel_i * max(0, D(pos_a) - D(pos_b)) / sum_i rel_i * D(pos_a), with
  D(pos) = 1 / log2(pos + 1) and rel the row's relevance: the gain of its graded judgement
  with `[relevance]`, else the engagement-weighted relevance (0 without engagement).
- `promoted_unengaged`: tweets b brought into its top k (not in a's top k) with relevance 0
  (not engaged with, or judged grade 0), a tweet with negative engagement (a negative-weight
  head) counting twice, divided by min(k, candidates) and capped at 1.
- `out_of_range`: mean over b's top k of min(1, largest excess of a continuous feature beyond
  the range seen in training), excess = distance outside [min, max] / (max - min). The range is
  taken over the requests served before the workspace's `holdout_from` (what the rankers were
  trained on). A workspace without `holdout_from` has no known training period: the component
  is left out and the other weights renormalised.

surprise = sum_c w_c * component_c / sum_c w_c (default weights equal). Requests are listed by
surprise descending, ties by request id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.compare.metrics import position_discount
from rankaudit.compare.ranking import rank_biased_overlap
from rankaudit.compare.scoring import (
    ScoredRequests,
    relevance_summary,
    scoped_log,
    score_requests,
)
from rankaudit.compare.settings import (
    DEFAULT_MODELS,
    Scope,
    SurpriseSettings,
    check_models,
    json_float,
)
from rankaudit.data import schema
from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import ParameterError
from rankaudit.workspace import Workspace

__all__ = [
    "COMPONENTS",
    "GRADED_COMPONENT_NAMES",
    "FeatureRanges",
    "SurpriseList",
    "find_surprises",
    "score_surprises",
    "training_ranges",
]

JSON_VERSION = 1
COMPONENTS = ("disagreement", "demoted_engagement", "promoted_unengaged", "out_of_range")
#: What views call the components when relevance is graded judgements, not engagement.
GRADED_COMPONENT_NAMES = {
    "demoted_engagement": "demoted_relevance",
    "promoted_unengaged": "promoted_irrelevant",
}
#: Columns of `SurpriseList.table`, in order.
TABLE_COLUMNS = (
    "rank",
    schema.REQUEST_ID,
    schema.USER_ID,
    schema.SERVED_AT,
    "surprise",
    *COMPONENTS,
    "feature",
    "feature_value",
    "train_min",
    "train_max",
)


@dataclass(frozen=True)
class FeatureRanges:
    """The [min, max] of each continuous feature over `rows` reference rows (served before
    `until`)."""

    low: Mapping[str, float]
    high: Mapping[str, float]
    rows: int
    until: pd.Timestamp | None = None

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, features: Sequence[str], *, until: pd.Timestamp | None = None
    ) -> FeatureRanges:
        """Return the ranges of `features` (those present in `frame`) over its rows."""
        if len(frame) == 0:
            raise ParameterError("feature ranges need at least one reference row; got none")
        present = [f for f in features if f in frame]
        values = frame[present].to_numpy(dtype=np.float64)
        return cls(
            low={f: float(v) for f, v in zip(present, np.nanmin(values, axis=0), strict=True)},
            high={f: float(v) for f, v in zip(present, np.nanmax(values, axis=0), strict=True)},
            rows=len(frame),
            until=until,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "until": None if self.until is None else self.until.isoformat(),
            "features": {f: [json_float(self.low[f]), json_float(self.high[f])] for f in self.low},
        }


@dataclass(frozen=True, eq=False)
class SurpriseList:
    """Every scored request with its surprise score and components, most surprising first.

    `table` has TABLE_COLUMNS (rank 1 = most surprising); `feature`, `feature_value`,
    `train_min`, `train_max` name the continuous feature of b's top k furthest outside its
    training range (empty when none is outside). `weights` are the normalised weights used;
    `ranges` is None when no training period is known; `graded` the graded judgements the
    relevance components used (None: engagement-weighted relevance).
    """

    models: tuple[str, str]
    scope: Scope
    settings: SurpriseSettings
    weights: Mapping[str, float]
    ranges: FeatureRanges | None
    table: pd.DataFrame
    graded: GradedRelevance | None = None

    @property
    def requests(self) -> int:
        return len(self.table)

    def top(self, n: int) -> pd.DataFrame:
        """The `n` most surprising requests (rows of `table`)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(
                f"The 'top' parameter of SurpriseList.top must be an int >= 1. Got {n!r} instead."
            )
        return self.table.head(n).reset_index(drop=True)

    def to_frame(self, top: int | None = None) -> pd.DataFrame:
        return self.table.copy() if top is None else self.top(top)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """The JSON document of `rankaudit surprises --format json` (keys in
        docs/compare.md); NaN becomes null."""
        listed = []
        for record in self.to_frame(top).to_dict("records"):
            entry: dict[str, Any] = {}
            for column, value in record.items():
                key = str(column)
                if key == "rank":
                    entry[key] = int(value)
                elif key in (schema.REQUEST_ID, schema.USER_ID):
                    entry[key] = str(value)
                elif key == schema.SERVED_AT:
                    entry[key] = pd.Timestamp(value).isoformat()
                elif key == "feature":
                    entry[key] = value or None
                else:
                    entry[key] = json_float(value)
            listed.append(entry)
        return {
            "kind": "surprises",
            "version": JSON_VERSION,
            "models": {"a": self.models[0], "b": self.models[1]},
            "scope": self.scope,
            "settings": {"k": self.settings.k, "p": self.settings.p},
            "weights": dict(self.weights),
            "requests": self.requests,
            "feature_ranges": None if self.ranges is None else self.ranges.to_dict(),
            "top": listed,
            "relevance": relevance_summary(self.graded),
        }


def _per_request_sum(
    codes: NDArray[np.int64], n: int, values: NDArray[np.float64]
) -> NDArray[np.float64]:
    return np.bincount(codes, weights=values, minlength=n).astype(np.float64)


def _out_of_range(
    scored: ScoredRequests, ranges: FeatureRanges, top: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], pd.DataFrame]:
    """Component values per request, and per request the worst (feature, value) in b's top k."""
    index = scored.index
    features = list(ranges.low)
    empty = pd.DataFrame(
        {
            "feature": [""] * index.n_groups,
            "feature_value": np.nan,
            "train_min": np.nan,
            "train_max": np.nan,
        }
    )
    if not features:
        return np.zeros(index.n_groups), empty
    rows = np.flatnonzero(top)
    values = scored.rows[features].to_numpy(dtype=np.float64)[rows]
    low = np.array([ranges.low[f] for f in features])
    high = np.array([ranges.high[f] for f in features])
    width = np.where(high > low, high - low, 1.0)
    excess = np.maximum(np.maximum(values - high, low - values), 0.0) / width
    excess = np.nan_to_num(excess, nan=0.0)
    worst_feature = excess.argmax(axis=1)
    worst = excess[np.arange(len(rows)), worst_feature]
    codes = index.codes[rows]
    counts = np.bincount(codes, minlength=index.n_groups)
    component = _per_request_sum(codes, index.n_groups, np.minimum(worst, 1.0)) / np.maximum(
        counts, 1
    )
    # The worst row of each request: sort by (request, excess desc) and keep each first.
    order = np.lexsort((-worst, codes))
    first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]] if len(order) else order
    detail = empty.copy()
    outside = worst[first] > 0
    chosen = first[outside]
    targets = codes[chosen]
    detail.loc[targets, "feature"] = [features[i] for i in worst_feature[chosen]]
    detail.loc[targets, "feature_value"] = values[chosen, worst_feature[chosen]]
    detail.loc[targets, "train_min"] = low[worst_feature[chosen]]
    detail.loc[targets, "train_max"] = high[worst_feature[chosen]]
    return component, detail


def score_surprises(
    scored: ScoredRequests,
    settings: SurpriseSettings | None = None,
    *,
    ranges: FeatureRanges | None = None,
    scope: Scope = "all",
) -> SurpriseList:
    """Return every request of `scored` with its surprise score (module docstring), most
    surprising first. Without `ranges` the out-of-range component is left out. Vectorised
    over requests."""
    settings = (settings or SurpriseSettings()).validated("score_surprises")
    index = scored.index
    n = index.n_groups
    codes = index.codes
    rows = scored.rows
    position_a = rows["position_a"].to_numpy()
    position_b = rows["position_b"].to_numpy()
    relevance = rows["relevance"].to_numpy(dtype=np.float64)
    negative = rows["negative"].to_numpy(dtype=bool)
    k = settings.k

    disagreement = 1.0 - rank_biased_overlap(
        index, rows["score_a"].to_numpy(), rows["score_b"].to_numpy(), p=settings.p
    )
    discount_a = position_discount(position_a)
    discount_b = position_discount(position_b)
    gained = _per_request_sum(codes, n, relevance * discount_a)
    lost = _per_request_sum(codes, n, relevance * np.maximum(discount_a - discount_b, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        demoted = np.where(gained > 0, lost / gained, 0.0)
    entered = (position_b <= k) & (position_a > k)
    penalty = (entered & (relevance <= 0)).astype(np.float64) + (entered & negative)
    promoted = np.minimum(_per_request_sum(codes, n, penalty) / np.minimum(k, index.sizes), 1.0)
    components = {
        "disagreement": np.clip(disagreement, 0.0, 1.0),
        "demoted_engagement": demoted,
        "promoted_unengaged": promoted,
    }
    weights = {c: w for c, w in settings.weights.items() if c != "out_of_range" or ranges}
    if ranges is not None:
        components["out_of_range"], detail = _out_of_range(scored, ranges, position_b <= k)
    else:
        components["out_of_range"] = np.full(n, np.nan)
        detail = _out_of_range(scored, FeatureRanges({}, {}, 0), position_b <= k)[1]
    total = sum(weights.values())
    if total <= 0:
        raise ParameterError(
            "The weights of score_surprises must not all be 0 over the components that can be "
            f"computed. Got {settings.weights} instead."
        )
    normalised = {c: weights.get(c, 0.0) / total for c in COMPONENTS}
    surprise = sum(normalised[c] * np.nan_to_num(components[c], nan=0.0) for c in COMPONENTS)
    first_rows = index.order[index.starts]
    table = pd.DataFrame(
        {
            schema.REQUEST_ID: scored.request_ids,
            schema.USER_ID: rows[schema.USER_ID].iloc[first_rows].to_numpy(),
            schema.SERVED_AT: rows[schema.SERVED_AT].iloc[first_rows].to_numpy(),
            "surprise": surprise,
            **components,
        }
    )
    table = pd.concat([table, detail], axis=1)
    table[schema.SERVED_AT] = pd.to_datetime(table[schema.SERVED_AT], utc=True)
    # Most surprising first; request ids are already sorted, so a stable sort breaks ties.
    table = table.sort_values("surprise", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return SurpriseList(
        models=scored.models,
        scope=scope,
        settings=settings,
        weights=normalised,
        ranges=ranges,
        table=table.loc[:, list(TABLE_COLUMNS)],
        graded=scored.graded,
    )


def training_ranges(
    earlier: pd.DataFrame | None, spec: FeatureSpec, holdout_from: pd.Timestamp | None
) -> FeatureRanges | None:
    """Return the continuous features' ranges over `earlier` rows (served before
    `holdout_from`), or None without a training period or without earlier rows."""
    if earlier is None or earlier.empty:
        return None
    continuous = [f.name for f in spec if f.kind == "continuous"]
    return FeatureRanges.from_frame(earlier, continuous, until=holdout_from)


def find_surprises(
    workspace: Workspace,
    *,
    models: tuple[str, str] = DEFAULT_MODELS,
    settings: SurpriseSettings | None = None,
    scope: Scope = "holdout",
) -> SurpriseList:
    """Return the requests of `workspace` in `scope` ranked by surprise (reference ranker
    `models[0]`, audited ranker `models[1]`); feature ranges come from the requests served
    before `holdout_from`. Raises ParameterError for bad settings or scope, WorkspaceError for
    an unknown model."""
    caller = "find_surprises"
    settings = (settings or SurpriseSettings()).validated(caller)
    models = check_models(models, caller)
    rankers, in_scope, earlier, effective = scoped_log(workspace, models, scope, caller)
    ranges = training_ranges(earlier, workspace.spec, workspace.holdout_from)
    if in_scope.empty:
        raise ParameterError(
            f"no request in scope {scope!r}: nothing was served from "
            f"{workspace.holdout_from} on; use scope 'all'"
        )
    scored = score_requests(
        in_scope, rankers, workspace.heads, graded=workspace.relevance, models=models
    )
    return score_surprises(scored, settings, ranges=ranges, scope=effective)
