"""Global feature importance: attributions over a seeded sample of whole requests, summarised
per feature. One implementation for drift profiles and the web app's Features page.

- `sample_requests` (defined in `rankaudit.attribution.batch`) draws whole requests (seeded,
  independent of how the log is split into files or batches) from the log, optionally from a
  `served_at` window.
- `attribute_sample` explains those rows with one method against one reference (a thin layer
  over `rankaudit.attribution.attribute_frame`).
- `importance_table` turns a long attribution frame into one row per (model, method,
  reference, head, feature): mean |attribution|, its share of the total, the rank, the signed
  mean and the number of rows.

Importance is in the units of the explained output (a head's probability, or the final score);
shares are unitless fractions that sum to 1 per (model, method, reference, head).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

# Re-exported: whole-request sampling lives with the batch job that also uses it.
from rankaudit.attribution.batch import Window, request_keys, sample_requests
from rankaudit.errors import AttributionError

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


#: Columns of `importance_table`, in order.
IMPORTANCE_COLUMNS = (
    "model", "method", "reference", "head", "feature", "mean_abs", "share", "rank",
    "signed_mean", "rows",
)  # fmt: skip
_GROUP = ["model", "method", "reference", "head"]


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
