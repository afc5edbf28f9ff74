"""A request-level index of a log: which viewers exist, their requests, and who saw a request.

Built once (one streaming pass over three id columns, prepared by `readers.prepare`), it answers
viewer searches and id checks without touching the log again, so a web view can say "unknown
viewer" or suggest ids in microseconds. Reading a viewer's rows stays with the readers (Parquet
pushes the filter down to row groups).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rankaudit.data import schema
from rankaudit.data.readers import LogSource, prepare
from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import InputFileError

__all__ = ["INDEX_COLUMNS", "ViewerIndex", "build_viewer_index"]

#: Columns of `ViewerIndex.requests`, in order.
INDEX_COLUMNS = (schema.REQUEST_ID, schema.USER_ID, schema.SERVED_AT, "candidates")
#: Rows per batch while indexing: three narrow columns, so larger batches than the default.
_BATCH_ROWS = 262_144


@dataclass(frozen=True, eq=False)
class ViewerIndex:
    """One row per request (`INDEX_COLUMNS`), sorted by viewer, then time, then request id.

    `users` holds the distinct viewer ids, sorted; `starts[i]:starts[i + 1]` are the rows of
    `users[i]` in `requests`; `request_ids` indexes the request ids (hash lookups); `rows`
    counts the log's rows.
    """

    requests: pd.DataFrame
    users: np.ndarray
    starts: np.ndarray
    request_ids: pd.Index
    rows: int

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_requests(self) -> int:
        return len(self.requests)

    def _position(self, user: str) -> int | None:
        at = int(np.searchsorted(self.users, user))
        return at if at < len(self.users) and self.users[at] == user else None

    def has_user(self, user: str) -> bool:
        """True when `user` was served at least one request."""
        return self._position(str(user)) is not None

    def requests_of(self, user: str) -> pd.DataFrame:
        """The viewer's requests (`INDEX_COLUMNS`) by time; empty for an unknown viewer."""
        at = self._position(str(user))
        if at is None:
            return self.requests.iloc[0:0]
        return self.requests.iloc[self.starts[at] : self.starts[at + 1]].reset_index(drop=True)

    def user_of(self, request: str) -> str | None:
        """The viewer `request` was served to, or None for an unknown request."""
        at = int(self.request_ids.get_indexer(pd.Index([str(request)]))[0])
        return None if at < 0 else str(self.requests[schema.USER_ID].iat[at])

    def search(self, text: str, *, limit: int = 20) -> list[str]:
        """Viewer ids matching `text`: ids starting with it first (sorted), then ids containing
        it; at most `limit`. Empty text lists the first ids."""
        text = str(text).strip()
        if limit < 1:
            return []
        if not text:
            return [str(u) for u in self.users[:limit]]
        left = int(np.searchsorted(self.users, text, side="left"))
        right = int(np.searchsorted(self.users, text + "\U0010ffff", side="left"))
        found = [str(u) for u in self.users[left : min(right, left + limit)]]
        if len(found) < limit:
            contains = np.char.find(self.users.astype(str), text) > 0
            found.extend(str(u) for u in self.users[contains][: limit - len(found)])
        return found


def build_viewer_index(source: LogSource, spec: FeatureSpec) -> ViewerIndex:
    """Read the request, viewer and time columns of `source` once and return the index.

    Memory is bounded by one batch of three columns plus one row per request. Raises
    InputFileError for an empty log.
    """
    columns = [schema.REQUEST_ID, schema.USER_ID, schema.SERVED_AT]
    parts = []
    rows = 0
    for _, batch in source.iter_raw(columns=columns, batch_rows=_BATCH_ROWS):
        prepared = prepare(batch, spec)
        rows += len(prepared)
        parts.append(
            prepared.groupby(schema.REQUEST_ID, sort=False).agg(
                user_id=(schema.USER_ID, "first"),
                served_at=(schema.SERVED_AT, "min"),
                candidates=(schema.USER_ID, "size"),
            )
        )
    if not parts:
        raise InputFileError(f"{source.files[0]}: the log holds no rows to index")
    # A request may straddle two batches: combine its parts.
    combined = pd.concat(parts).groupby(level=0, sort=False)
    table = combined.agg(
        user_id=(schema.USER_ID, "first"),
        served_at=(schema.SERVED_AT, "min"),
        candidates=("candidates", "sum"),
    ).reset_index(names=schema.REQUEST_ID)
    table = table.sort_values(
        [schema.USER_ID, schema.SERVED_AT, schema.REQUEST_ID], kind="stable"
    ).reset_index(drop=True)
    table["candidates"] = table["candidates"].astype(np.int64)
    user_ids = table[schema.USER_ID].to_numpy(dtype=str)
    users, starts = np.unique(user_ids, return_index=True)
    return ViewerIndex(
        requests=table.loc[:, list(INDEX_COLUMNS)],
        users=users,
        starts=np.append(starts, len(table)).astype(np.int64),
        request_ids=pd.Index(table[schema.REQUEST_ID].astype(str)),
        rows=rows,
    )
