"""Attribution entry points: explain a frame, stream a whole log to Parquet, sample a background.

`attribute_batch` is the pure per-batch function (picklable arguments only: a ModelConfig, a
frame, settings), so a distributed engine can run it where the data lives.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rankaudit.attribution.cache import AttributionCache
from rankaudit.attribution.groups import (
    Group,
    global_groups,
    only_tweets,
    pair_groups,
    request_groups,
)
from rankaudit.attribution.registry import applicable_methods, make_attributor
from rankaudit.attribution.result import COLUMNS, AttributionResult, explanation_frame
from rankaudit.attribution.settings import METHODS, REFERENCES, AttributionSettings
from rankaudit.data import schema
from rankaudit.data.readers import prepare, read_timelines
from rankaudit.errors import AttributionError, InputFileError, NotFoundError
from rankaudit.models import ModelConfig, load_ranker
from rankaudit.workspace import Workspace

__all__ = [
    "AttributionPlan",
    "AttributionRun",
    "attribute_batch",
    "attribute_frame",
    "background_sample",
    "plan_attribution",
    "resolve_methods",
    "run_attribution",
]


DEFAULT_SETTINGS = AttributionSettings()


def resolve_methods(ranker: Any, method: str) -> tuple[str, ...]:
    """`all` -> every method that applies to the ranker; otherwise the one method, checked."""
    if method == "all":
        return applicable_methods(ranker)
    if method not in METHODS:
        raise AttributionError(f"unknown method {method!r}; valid: {', '.join(METHODS)}, all")
    return (method,)


def _groups(
    frame: pd.DataFrame,
    reference: str,
    settings: AttributionSettings,
    background: pd.DataFrame | None,
    pair: tuple[str, str] | None,
    tweets: Sequence[str] | None = None,
) -> Iterator[Group]:
    """The reference's groups of `frame`; with `tweets`, only those tweets left to explain
    (a pair already explains one tweet)."""
    if reference == "global":
        if background is None or background.empty:
            raise AttributionError("the global reference needs a background sample of the logs")
        groups = global_groups(frame, background)
    elif reference == "request":
        groups = request_groups(frame, settings)
    elif reference == "pair":
        if pair is None:
            raise AttributionError("the pair reference needs two tweets: --tweet T --vs-tweet T2")
        return pair_groups(frame, *pair)
    else:
        raise AttributionError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    return groups if tweets is None else only_tweets(groups, tweets)


def attribute_frame(
    ranker: Any,
    frame: pd.DataFrame,
    *,
    methods: Sequence[str],
    reference: str,
    heads: Sequence[str] | None = None,
    settings: AttributionSettings = DEFAULT_SETTINGS,
    background: pd.DataFrame | None = None,
    pair: tuple[str, str] | None = None,
    tweets: Sequence[str] | None = None,
    cache: AttributionCache | None = None,
) -> AttributionResult:
    """Explain every row of `frame` (prepared log rows) with each method against `reference`.

    Returns the long result (attributions in the units of each explained output: a head's
    probability, or the final score). `tweets` explains only those tweets of `frame`; the other
    rows still make up their requests' references, so the values equal those of a whole-frame
    call. With a `cache`, a call with the same model, rows, background and options returns the
    stored result.
    """
    if reference not in REFERENCES:
        raise AttributionError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    key = None
    if cache is not None:
        key = cache.key(
            ranker, frame, methods=methods, reference=reference, heads=heads, settings=settings,
            background=background, pair=pair, tweets=tweets,
        )  # fmt: skip
        cached = cache.get(key)
        if cached is not None:
            return cached
    parts = []
    for method in methods:
        attributor = make_attributor(ranker, method, heads=heads, settings=settings)
        for group in _groups(frame, reference, settings, background, pair, tweets):
            explanation = attributor.explain(group)
            parts.append(
                explanation_frame(
                    group,
                    explanation,
                    features=attributor.features,
                    model=ranker.name,
                    method=method,
                    reference=reference,
                )
            )
    result = AttributionResult(
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    )
    if cache is not None and key is not None:
        cache.put(key, result)
    return result


@functools.lru_cache(maxsize=8)
def _load(config: ModelConfig) -> Any:
    return load_ranker(config)


def attribute_batch(
    config: ModelConfig,
    frame: pd.DataFrame,
    *,
    methods: Sequence[str],
    reference: str,
    heads: Sequence[str] | None,
    settings: AttributionSettings,
    background: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The pure per-batch function: load (once per process) and explain; returns long rows."""
    ranker = _load(config)
    return attribute_frame(
        ranker, frame, methods=methods, reference=reference, heads=heads, settings=settings,
        background=background,
    ).frame  # fmt: skip


def background_sample(workspace: Workspace, size: int, seed: int) -> pd.DataFrame:
    """A uniform sample of `size` rows from the training window (requests served before
    `[evaluation] holdout_from`, or the whole log without one), drawn in one streaming pass by
    keeping the rows with the smallest seeded random keys."""
    kept: pd.DataFrame | None = None
    for index, (_, batch) in enumerate(workspace.logs.iter_raw()):
        rows = prepare(batch, workspace.spec)
        if workspace.holdout_from is not None:
            rows = rows.loc[rows[schema.SERVED_AT] < workspace.holdout_from]
        keys = np.random.default_rng([seed, index]).random(len(rows))
        rows = rows.assign(_key=keys)
        kept = rows if kept is None else pd.concat([kept, rows], ignore_index=True)
        kept = kept.nsmallest(size, "_key")
    if kept is None or kept.empty:
        raise InputFileError(f"{workspace.logs.files[0]}: no rows to draw a background sample from")
    return kept.sort_values("_key").drop(columns="_key").reset_index(drop=True)


@dataclass(frozen=True)
class AttributionRun:
    """What `run_attribution` wrote."""

    out: Path
    rows: int
    completeness: pd.DataFrame


@dataclass(frozen=True)
class AttributionPlan:
    """A checked attribution job: every input resolved, nothing computed or written yet."""

    workspace: Workspace
    ranker: Any
    methods: tuple[str, ...]
    reference: str
    out: Path
    heads: tuple[str, ...] | None
    pair: tuple[str, str] | None
    wide: bool
    settings: AttributionSettings
    selection: pd.DataFrame | None  # the user's or request's rows; None: the whole log
    background: pd.DataFrame | None
    cache: AttributionCache | None = None  # per-batch results, e.g. a folder of Parquet files

    @property
    def total_rows(self) -> int | None:
        """Rows to explain, when known up front (a selection, or Parquet metadata)."""
        if self.selection is not None:
            return len(self.selection)
        if self.workspace.logs.format != "parquet":
            return None
        return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in self.workspace.logs.files)


def _check_writable(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputFileError(f"{out}: the output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputFileError(f"{out}: the output folder {parent} is not writable")


def plan_attribution(
    workspace: Workspace,
    model: str,
    *,
    method: str,
    reference: str,
    out: Path,
    user: str | None = None,
    request: str | None = None,
    heads: Sequence[str] | None = None,
    pair: tuple[str, str] | None = None,
    wide: bool = False,
    settings: AttributionSettings = DEFAULT_SETTINGS,
    cache: AttributionCache | None = None,
) -> AttributionPlan:
    """Check every input of an attribution job (model, method, heads, reference, output folder,
    the selected viewer or request, the pair) and return the plan; raises rankaudit errors."""
    if reference not in REFERENCES:
        raise AttributionError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    ranker = workspace.ranker(model)
    methods = resolve_methods(ranker, method)
    for name in methods:
        make_attributor(ranker, name, heads=heads, settings=settings)
    _check_writable(out)
    if cache is not None and cache.directory is not None:
        try:
            cache.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputFileError(
                f"{cache.directory}: cannot create the cache folder ({exc.strerror})"
            ) from None
        if not os.access(cache.directory, os.W_OK):
            raise InputFileError(f"{cache.directory}: the cache folder is not writable")
    selection = None
    if request is not None or user is not None:
        column, value = (
            (schema.REQUEST_ID, request) if request is not None else (schema.USER_ID, user)
        )
        selection = read_timelines(workspace.logs, workspace.spec, where=(column, [str(value)]))
        if selection.empty:
            what = "request" if request is not None else "user"
            raise NotFoundError(f"unknown {what} {value!r} in the logs of {workspace.root}")
        if pair is not None:
            next(pair_groups(selection, *pair))  # raises for unknown tweets or two requests
    elif reference == "pair":
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
    return AttributionPlan(
        workspace=workspace, ranker=ranker, methods=methods, reference=reference, out=out,
        heads=tuple(heads) if heads else None, pair=pair, wide=wide, settings=settings,
        selection=selection, background=background, cache=cache,
    )  # fmt: skip


#: Log rows explained per batch. The long output holds rows x features x outputs x methods
#: rows (26 x 6 x 2 for the demo's deep ranker), so this bounds memory: ~0.4 GB at 2,048 rows,
#: where one 65k-row read batch took 11 GB.
BATCH_ROWS = 2048


def _whole_requests(frame: pd.DataFrame, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """`frame` cut at request boundaries into parts of about `rows` rows (a larger request
    stays whole); requests are contiguous in a log."""
    ids = frame[schema.REQUEST_ID].to_numpy()
    starts = np.flatnonzero(ids[1:] != ids[:-1]) + 1  # where a new request begins
    begin = 0
    for start in starts:
        if start - begin >= rows:
            yield frame.iloc[begin:start].reset_index(drop=True)
            begin = int(start)
    if begin < len(frame):
        yield frame.iloc[begin:].reset_index(drop=True)


def _batches(plan: AttributionPlan) -> Iterator[pd.DataFrame]:
    """Prepared rows to explain, whole requests per batch of about BATCH_ROWS rows."""
    if plan.selection is not None:
        yield from _whole_requests(plan.selection)
        return
    carry: pd.DataFrame | None = None
    for _, batch in plan.workspace.logs.iter_raw():
        frame = prepare(batch, plan.workspace.spec)
        if carry is not None:
            frame = pd.concat([carry, frame], ignore_index=True)
        last = frame[schema.REQUEST_ID].iat[-1]
        tail = frame[schema.REQUEST_ID] == last
        carry = frame.loc[tail].reset_index(drop=True)
        if (~tail).any():
            yield from _whole_requests(frame.loc[~tail].reset_index(drop=True))
    if carry is not None and not carry.empty:
        yield carry


def run_attribution(
    plan: AttributionPlan, *, progress: Callable[[int], None] = lambda rows: None
) -> AttributionRun:
    """Explain the plan's rows and write Parquet (long, or wide with `plan.wide`).

    The file is written under a temporary name and renamed at the end, so an interrupted or
    failed run leaves no partial output. `progress` is called with the rows done per batch.
    """
    out = plan.out
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer: pq.ParquetWriter | None = None
    rows = 0
    summaries = []
    try:
        for frame in _batches(plan):
            result = attribute_frame(
                plan.ranker, frame, methods=plan.methods, reference=plan.reference, heads=plan.heads,
                settings=plan.settings, background=plan.background, pair=plan.pair,
                cache=plan.cache,
            )  # fmt: skip
            summaries.append(result.completeness())
            table = result.to_wide() if plan.wide else result.frame
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(temp, arrow.schema, compression="zstd")
            writer.write_table(arrow.cast(writer.schema))
            rows += len(frame)
            progress(len(frame))
        if writer is None:
            raise NotFoundError("no rows selected to explain")
        writer.close()
        writer = None
        os.replace(temp, out)
    except BaseException:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
        raise
    summary = pd.concat(summaries, ignore_index=True)
    completeness = (
        summary.groupby(["model", "method", "reference", "head"], sort=False)
        .agg(
            rows=("rows", "sum"),
            max_abs_error=("max_abs_error", "max"),
            max_relative_error=("max_relative_error", "max"),
            converged=("converged", "mean"),
        )
        .reset_index()
    )
    return AttributionRun(out=out, rows=rows, completeness=completeness)
