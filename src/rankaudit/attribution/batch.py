"""Batch attribution: explain a selection or a whole log into a partitioned, resumable store.

`plan_attribution` checks every input before anything is computed; `run_attribution` stages the
selected rows by viewer partition and runs `AttributeTask` on each partition with an engine
(`rankaudit.engine`): in this process, or on a Ray cluster. The output folder is a store
(`rankaudit.store.layout`): `part-*.parquet` files of long (or wide) attribution rows, readable
by pandas, DuckDB or `rankaudit.store.query`. `sample_requests` draws the seeded sample of whole
requests that `--sample` explains (drift profiles, reports and the app's Features page use it
too, through `rankaudit.importance`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from rankaudit.attribution.api import (
    DEFAULT_SETTINGS,
    attribute_frame,
    background_sample,
    resolve_methods,
)
from rankaudit.attribution.cache import frame_fingerprint
from rankaudit.attribution.grouping import group_members
from rankaudit.attribution.groups import pair_groups
from rankaudit.attribution.registry import make_attributor
from rankaudit.attribution.settings import REFERENCES, AttributionSettings
from rankaudit.data import schema
from rankaudit.data.readers import prepare, read_timelines
from rankaudit.engine import Engine, PartitionTask, run_partitioned
from rankaudit.errors import AttributionError, NotFoundError, ParameterError
from rankaudit.models import ModelConfig, cached_ranker
from rankaudit.store import default_partitions
from rankaudit.workspace import Workspace

__all__ = [
    "BATCH_ROWS",
    "AttributeTask",
    "AttributionPlan",
    "AttributionRun",
    "Window",
    "plan_attribution",
    "request_keys",
    "run_attribution",
    "sample_requests",
]

#: Log rows explained per piece of a partition. The long output holds rows x features x
#: outputs x methods rows (26 x 6 x 2 for the demo's deep ranker), so this bounds memory:
#: ~0.4 GB at 2,048 rows, where one 65k-row batch took 11 GB.
BATCH_ROWS = 2048
_COMPLETENESS_KEYS = ("model", "method", "reference", "head")


#: A `served_at` window [since, until); either end may be open (None). Timestamps are UTC.
Window = tuple[pd.Timestamp | None, pd.Timestamp | None]


def _utc(value: pd.Timestamp | None) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def request_keys(request_ids: Iterable[object], seed: int) -> np.ndarray:
    """Seeded uint64 sort keys of request ids: a stable hash of (seed, id), the same in every
    process and whatever the order or batching of the log."""
    hash_key = hashlib.sha256(f"rankaudit-sample-{seed}".encode()).hexdigest()[:16]
    ids = np.asarray([str(r) for r in request_ids], dtype=object)
    return np.asarray(pd.util.hash_array(ids, hash_key=hash_key, categorize=False))


def sample_requests(
    workspace: Workspace,
    rows: int,
    *,
    seed: int,
    window: Window | None = None,
    exclude: Collection[str] = (),
) -> pd.DataFrame:
    """Return prepared log rows of whole requests, about `rows` of them, drawn with `seed`.

    Requests are taken in the order of a seeded hash of their id until at least `rows` rows
    are selected (the last request may overshoot; a log with fewer rows gives all of them), so
    the sample is deterministic and does not depend on file layout or batch size. `window`
    keeps requests served in [since, until); `exclude` drops the given request ids (a disjoint
    second sample: `exclude=first[request_id]`). Rows keep their stored order.

    Two streaming passes over the log: ids and times first, then the chosen requests' rows.
    Raises ParameterError for rows < 1 and NotFoundError when no request qualifies.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ParameterError(
            f"The 'rows' parameter of sample_requests must be an int >= 1. Got {rows!r} instead."
        )
    since, until = (None, None) if window is None else (_utc(window[0]), _utc(window[1]))
    columns = [schema.REQUEST_ID, schema.SERVED_AT]
    parts = [
        prepare(batch, workspace.spec)[columns]
        for _, batch in workspace.logs.iter_raw(columns=columns)
    ]
    index = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    per_request = index.groupby(schema.REQUEST_ID, sort=False).agg(
        rows=(schema.SERVED_AT, "size"), served_at=(schema.SERVED_AT, "min")
    )
    keep = np.ones(len(per_request), dtype=bool)
    if since is not None:
        keep &= (per_request["served_at"] >= since).to_numpy()
    if until is not None:
        keep &= (per_request["served_at"] < until).to_numpy()
    if exclude:
        keep &= ~per_request.index.isin([str(r) for r in exclude])
    per_request = per_request.loc[keep]
    if per_request.empty:
        where = f" served in [{since or '-inf'}, {until or '+inf'})" if window else ""
        raise NotFoundError(
            f"{workspace.logs.files[0]}: no requests{where} left to sample"
            + (f" after excluding {len(exclude)} request(s)" if exclude else "")
        )
    order = pd.DataFrame(
        {
            "key": request_keys(per_request.index, seed),
            "request": per_request.index.to_numpy(),
            "rows": per_request["rows"].to_numpy(),
        }
    ).sort_values(["key", "request"], kind="stable")
    before = order["rows"].cumsum().to_numpy() - order["rows"].to_numpy()
    chosen = order.loc[before < rows, "request"].tolist()
    return read_timelines(workspace.logs, workspace.spec, where=(schema.REQUEST_ID, chosen))


def _whole_requests(frame: pd.DataFrame, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """`frame` cut at request boundaries into parts of about `rows` rows (a larger request
    stays whole); requests must be contiguous."""
    ids = frame[schema.REQUEST_ID].to_numpy()
    starts = np.flatnonzero(ids[1:] != ids[:-1]) + 1  # where a new request begins
    begin = 0
    for start in starts:
        if start - begin >= rows:
            yield frame.iloc[begin:start].reset_index(drop=True)
            begin = int(start)
    if begin < len(frame):
        yield frame.iloc[begin:].reset_index(drop=True)


def _completeness_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    per_row = frame.drop_duplicates(
        ["request_id", "tweet_id", "vs_tweet_id", "model", "head", "method", "reference"]
    )
    grouped = per_row.groupby(list(_COMPLETENESS_KEYS), sort=False)
    table = grouped.agg(
        rows=("score", "size"),
        converged_rows=("converged", "sum"),
        max_abs_error=("completeness_error", "max"),
        max_relative_error=("completeness_relative", "max"),
    ).reset_index()
    return [
        {
            **{k: str(row[k]) for k in _COMPLETENESS_KEYS},
            "rows": int(row["rows"]),
            "converged_rows": int(row["converged_rows"]),
            "max_abs_error": float(row["max_abs_error"]),
            "max_relative_error": float(row["max_relative_error"]),
        }
        for _, row in table.iterrows()
    ]


@dataclass(frozen=True, eq=False)
class AttributeTask(PartitionTask):
    """Explain one partition's rows with `methods` against `reference`: the pure unit of work
    (picklable: a model config and options; the ranker is loaded once per worker)."""

    kind = "attributions"

    config: ModelConfig
    model_fingerprint: str
    methods: tuple[str, ...]
    reference: str
    heads: tuple[str, ...] | None
    settings: AttributionSettings
    wide: bool = False
    pair: tuple[str, str] | None = None
    background: pd.DataFrame | None = None
    #: group -> member features when SHAP plays feature groups; None: features.
    groups: Mapping[str, tuple[str, ...]] | None = None

    def setup(self) -> None:
        cached_ranker(self.config)

    def job(self) -> dict[str, Any]:
        features = (
            list(cached_ranker(self.config).required_columns) if self.background is not None else []
        )
        return {
            "model": self.config.name,
            "model_fingerprint": self.model_fingerprint,
            "methods": list(self.methods),
            "reference": self.reference,
            "heads": None if self.heads is None else list(self.heads),
            "settings": asdict(self.settings),
            "layout": "wide" if self.wide else "long",
            "pair": None if self.pair is None else list(self.pair),
            "background": frame_fingerprint(self.background, features),
            **(
                {}
                if self.groups is None
                else {"shap_groups": {g: list(m) for g, m in self.groups.items()}}
            ),
        }

    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        ranker = cached_ranker(self.config)
        for frame in _whole_requests(rows):
            result = attribute_frame(
                ranker, frame, methods=self.methods, reference=self.reference, heads=self.heads,
                settings=self.settings, background=self.background, pair=self.pair,
                groups=self.groups,
            )  # fmt: skip
            if result.frame.empty:
                continue
            summary = {"completeness": _completeness_records(result.frame)}
            yield (result.to_wide() if self.wide else result.frame), summary

    @staticmethod
    def combine(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        merged: dict[tuple[str, ...], dict[str, Any]] = {}
        for summary in summaries:
            for record in summary.get("completeness", []):
                key = tuple(record[k] for k in _COMPLETENESS_KEYS)
                if key not in merged:
                    merged[key] = dict(record)
                    continue
                into = merged[key]
                into["rows"] += record["rows"]
                into["converged_rows"] += record["converged_rows"]
                into["max_abs_error"] = max(into["max_abs_error"], record["max_abs_error"])
                into["max_relative_error"] = max(
                    into["max_relative_error"], record["max_relative_error"]
                )
        return {"completeness": list(merged.values())}


@dataclass(frozen=True)
class AttributionRun:
    """What `run_attribution` wrote: the store folder, tweets explained, how many partitions
    this call computed (the others were finished by an interrupted run), and the completeness
    of every (model, method, reference, head)."""

    out: Path
    rows: int
    partitions: int
    computed: int
    completeness: pd.DataFrame


@dataclass(frozen=True, eq=False)
class AttributionPlan:
    """A checked attribution job: every input resolved, nothing computed or written yet."""

    workspace: Workspace
    task: AttributeTask
    out: Path
    selection: pd.DataFrame | None  # the user's or request's rows; None: the whole log
    selector: tuple[str, str] | None  # what was selected: (column, value) or ("sample", ...)
    partitions: int

    @property
    def total_rows(self) -> int | None:
        """Rows to explain, when known up front (a selection, or Parquet metadata)."""
        if self.selection is not None:
            return len(self.selection)
        return _parquet_rows(self.workspace)


def _parquet_rows(workspace: Workspace) -> int | None:
    if workspace.logs.format != "parquet":
        return None
    return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in workspace.logs.files)


def plan_attribution(
    workspace: Workspace,
    model: str,
    *,
    method: str,
    reference: str,
    out: Path,
    user: str | None = None,
    request: str | None = None,
    sample: int | None = None,
    heads: Sequence[str] | None = None,
    pair: tuple[str, str] | None = None,
    wide: bool = False,
    settings: AttributionSettings = DEFAULT_SETTINGS,
    partitions: int | None = None,
    shap_groups: bool = False,
) -> AttributionPlan:
    """Check every input of an attribution job (model, method, heads, reference, the selected
    viewer, request or seeded sample of about `sample` rows of whole requests, the pair) and
    return the plan; raises rankaudit errors. `out` is the store folder; `partitions` defaults
    to one per ~32k rows of the selection or log. With `shap_groups`, SHAP's players are the
    spec's feature groups (the rows' `feature` holds group names)."""
    if reference not in REFERENCES:
        raise AttributionError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    ranker = workspace.ranker(model)
    methods = resolve_methods(ranker, method)
    groups = group_members(ranker.feature_names, workspace.spec) if shap_groups else None
    if groups is not None and "shap" not in methods:
        raise AttributionError("--shap-groups applies to SHAP: add --method shap or all")
    for name in methods:
        make_attributor(
            ranker, name, heads=heads, settings=settings, groups=groups if name == "shap" else None
        )
    selection = None
    selector = None
    if sample is not None:
        selection = sample_requests(workspace, sample, seed=settings.seed)
        selector = ("sample", f"{sample} rows, seed {settings.seed}")
    elif request is not None or user is not None:
        selector = (
            (schema.REQUEST_ID, str(request))
            if request is not None
            else (schema.USER_ID, str(user))
        )
        selection = read_timelines(
            workspace.logs, workspace.spec, where=(selector[0], [selector[1]])
        )
        if selection.empty:
            what = "request" if request is not None else "user"
            raise NotFoundError(f"unknown {what} {selector[1]!r} in the logs of {workspace.root}")
    if selection is not None and pair is not None:
        next(pair_groups(selection, *pair))  # raises for unknown tweets or two requests
    elif reference == "pair" and selection is None:
        raise AttributionError(
            "the pair reference explains two tweets of one request: add --request or --user"
        )
    if reference == "pair" and pair is None:
        raise AttributionError("the pair reference needs two tweets: --tweet T --vs-tweet T2")
    background = (
        background_sample(workspace, settings.background_size, settings.seed)
        if reference == "global"
        else None
    )
    task = AttributeTask(
        config=workspace.model(model), model_fingerprint=ranker.fingerprint, methods=methods,
        reference=reference, heads=tuple(heads) if heads else None, settings=settings, wide=wide,
        pair=pair, background=background, groups=groups,
    )  # fmt: skip
    rows = len(selection) if selection is not None else _parquet_rows(workspace)
    return AttributionPlan(
        workspace=workspace, task=task, out=out, selection=selection, selector=selector,
        partitions=partitions if partitions is not None else default_partitions(rows),
    )  # fmt: skip


def _log_frames(workspace: Workspace) -> Iterable[pd.DataFrame]:
    for _, batch in workspace.logs.iter_raw():
        yield prepare(batch, workspace.spec)


def run_attribution(
    plan: AttributionPlan,
    *,
    engine: Engine | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> AttributionRun:
    """Explain the plan's rows into the store `plan.out` with `engine` (default: local),
    resuming the partitions an interrupted identical run finished. `progress` is called with
    the rows done per partition."""
    selection = plan.selection
    frames: Callable[[], Iterable[pd.DataFrame]] = (
        (lambda: [selection]) if selection is not None else (lambda: _log_frames(plan.workspace))
    )
    fingerprint = plan.workspace.logs_fingerprint()
    if plan.selector is not None:
        fingerprint = hashlib.sha256(f"{fingerprint}:{plan.selector}".encode()).hexdigest()
    run = run_partitioned(
        plan.task, plan.out, frames=frames, input_fingerprint=fingerprint,
        partitions=plan.partitions, engine=engine, progress=progress,
    )  # fmt: skip
    records = run.summary["completeness"]
    table = pd.DataFrame(records, columns=[*_COMPLETENESS_KEYS, "rows", "converged_rows",
                                           "max_abs_error", "max_relative_error"])  # fmt: skip
    table["converged"] = table["converged_rows"] / table["rows"].where(table["rows"] > 0)
    completeness = table.drop(columns="converged_rows")
    return AttributionRun(
        out=plan.out, rows=run.rows_in, partitions=len(run.markers), computed=run.computed,
        completeness=completeness,
    )  # fmt: skip
