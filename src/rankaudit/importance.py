"""Global feature importance: attributions over a seeded sample of whole requests, summarised
per feature. One implementation for drift profiles and the web app's Features page.

- `sample_requests` draws whole requests (seeded, independent of how the log is split into
  files or batches) from the log, optionally from a `served_at` window.
- `attribute_sample` explains those rows with one method against one reference (a thin layer
  over `rankaudit.attribution.attribute_frame`).
- `importance_table` turns a long attribution frame into one row per (model, method,
  reference, head, feature): mean |attribution|, its share of the total, the rank, the signed
  mean and the number of rows.

Importance is in the units of the explained output (a head's probability, or the final score);
shares are unitless fractions that sum to 1 per (model, method, reference, head).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rankaudit.data import schema
from rankaudit.data.readers import prepare, read_timelines
from rankaudit.errors import AttributionError, NotFoundError, ParameterError

if TYPE_CHECKING:
    from rankaudit.attribution import AttributionCache, AttributionResult, AttributionSettings
    from rankaudit.workspace import Workspace

__all__ = [
    "IMPORTANCE_COLUMNS",
    "Window",
    "attribute_sample",
    "importance_table",
    "request_keys",
    "sample_requests",
]

#: A `served_at` window [since, until); either end may be open (None). Timestamps are UTC.
Window = tuple[pd.Timestamp | None, pd.Timestamp | None]

#: Columns of `importance_table`, in order.
IMPORTANCE_COLUMNS = (
    "model", "method", "reference", "head", "feature", "mean_abs", "share", "rank",
    "signed_mean", "rows",
)  # fmt: skip
_GROUP = ["model", "method", "reference", "head"]


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


def attribute_sample(
    workspace: Workspace,
    model: str,
    *,
    method: str,
    reference: str,
    heads: Sequence[str] | None,
    settings: AttributionSettings,
    rows: pd.DataFrame,
    background: pd.DataFrame | None = None,
    cache: AttributionCache | None = None,
) -> AttributionResult:
    """Explain `rows` (prepared log rows of whole requests, e.g. from `sample_requests`) with
    one `method` against the `request` or `global` reference; returns the long result.

    The global reference's `background` defaults to a sample of the training window drawn with
    `settings.background_size` and `settings.seed` (`background_sample`, one pass over the log):
    pass it in when explaining several batches. With a `cache`, a repeated call is a lookup.
    """
    from rankaudit.attribution import attribute_frame, background_sample

    if reference not in ("request", "global"):
        raise AttributionError(
            f"global importance needs the 'request' or 'global' reference; got {reference!r}"
        )
    ranker = workspace.ranker(model)
    if reference == "global" and background is None:
        background = background_sample(workspace, settings.background_size, settings.seed)
    return attribute_frame(
        ranker, rows, methods=[method], reference=reference, heads=heads, settings=settings,
        background=background if reference == "global" else None, cache=cache,
    )  # fmt: skip


def importance_table(frame_long: pd.DataFrame) -> pd.DataFrame:
    """Summarise a long attribution frame (columns of `rankaudit.attribution.COLUMNS`; at least
    model, method, reference, head, feature, attribution) per (model, method, reference, head,
    feature).

    Returns IMPORTANCE_COLUMNS: `mean_abs` (mean |attribution| over rows, in the output's units),
    `share` (mean_abs / sum of mean_abs over the group's features; 0 when all are 0), `rank`
    (1 = largest mean_abs; ties broken by feature name), `signed_mean` and `rows`. Groups keep
    their first-appearance order; rows within a group are sorted by rank.
    """
    if frame_long.empty:
        return pd.DataFrame(columns=list(IMPORTANCE_COLUMNS))
    frame = frame_long[[*_GROUP, "feature", "attribution"]].assign(
        magnitude=frame_long["attribution"].abs()
    )
    table = (
        frame.groupby([*_GROUP, "feature"], sort=False)
        .agg(
            mean_abs=("magnitude", "mean"),
            signed_mean=("attribution", "mean"),
            rows=("attribution", "size"),
        )
        .reset_index()
    )
    totals = table.groupby(_GROUP, sort=False)["mean_abs"].transform("sum")
    table["share"] = np.where(totals > 0, table["mean_abs"] / totals.where(totals > 0, 1.0), 0.0)
    group_order = table[_GROUP].drop_duplicates().reset_index(drop=True)
    group_order["_group"] = np.arange(len(group_order))
    table = table.merge(group_order, on=_GROUP, how="left")
    table = table.sort_values(
        ["_group", "mean_abs", "feature"], ascending=[True, False, True], kind="stable"
    )
    table["rank"] = table.groupby("_group").cumcount() + 1
    table["rows"] = table["rows"].astype(np.int64)
    return table[list(IMPORTANCE_COLUMNS)].reset_index(drop=True)
