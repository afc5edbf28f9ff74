"""A request-level index of a log: which viewers exist, their requests, and who saw a request.

Built once (one streaming pass over three id columns, prepared by `readers.prepare`), it answers
viewer searches and id checks without touching the log again, so a web view can say "unknown
viewer" or suggest ids in microseconds. Reading a viewer's rows stays with the readers (Parquet
pushes the filter down to row groups).

Ids come from URLs and search boxes, so lookups are hostile-input safe: text longer than
`MAX_ID_LENGTH` is never looked up (no viewer has such an id), and a lookup costs a hash or
O(log n) string comparisons in the number of viewers, whatever the length of the text (ids
are Python strings, never a fixed-width array the width of the longest text seen).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rankaudit.data import schema
from rankaudit.data.readers import LogSource, prepare
from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import InputFileError

__all__ = ["INDEX_COLUMNS", "MAX_ID_LENGTH", "ViewerIndex", "build_viewer_index"]

#: The longest viewer or request id a lookup accepts (characters): longer text is unknown
#: without a lookup (a log's longer ids are indexed but cannot be opened by id).
MAX_ID_LENGTH = 256

#: Columns of `ViewerIndex.requests`, in order.
INDEX_COLUMNS = (schema.REQUEST_ID, schema.USER_ID, schema.SERVED_AT, "candidates")
#: Rows per batch while indexing: three narrow columns, so larger batches than the default.
_BATCH_ROWS = 262_144


@dataclass(frozen=True, eq=False)
class ViewerIndex:
    """One row per request (`INDEX_COLUMNS`), sorted by viewer, then time, then request id.

    `users` holds the distinct viewer ids, sorted (an object array of Python strings);
    `starts[i]:starts[i + 1]` are the rows of `users[i]` in `requests`; `request_ids` indexes
    the request ids (hash lookups); `rows` counts the log's rows.
    """

    requests: pd.DataFrame
    users: np.ndarray
    starts: np.ndarray
    request_ids: pd.Index
    rows: int
    _sorted: list[str] = field(init=False, repr=False)
    _positions: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ordered = [str(u) for u in self.users]
        object.__setattr__(self, "_sorted", ordered)
        object.__setattr__(self, "_positions", {u: i for i, u in enumerate(ordered)})

    @property
    def n_users(self) -> int:
        return len(self._sorted)

    @property
    def n_requests(self) -> int:
        return len(self.requests)

    def _position(self, user: object) -> int | None:
        if not isinstance(user, str) or len(user) > MAX_ID_LENGTH:
            return None
        return self._positions.get(user)

    def has_user(self, user: str) -> bool:
        """True when `user` was served at least one request."""
        return self._position(user) is not None

    def requests_of(self, user: str) -> pd.DataFrame:
        """The viewer's requests (`INDEX_COLUMNS`) by time; empty for an unknown viewer."""
        at = self._position(user)
        if at is None:
            return self.requests.iloc[0:0]
        return self.requests.iloc[self.starts[at] : self.starts[at + 1]].reset_index(drop=True)

    def user_of(self, request: str) -> str | None:
        """The viewer `request` was served to, or None for an unknown request."""
        if not isinstance(request, str) or len(request) > MAX_ID_LENGTH:
            return None
        at = int(self.request_ids.get_indexer(pd.Index([request], dtype=object))[0])
        return None if at < 0 else str(self.requests[schema.USER_ID].iat[at])

    def search(self, text: str, *, limit: int = 20) -> list[str]:
        """Viewer ids matching `text`: ids starting with it first (sorted), then ids containing
        it (sorted); at most `limit`. Empty text lists the first ids; text longer than
        `MAX_ID_LENGTH` matches nothing."""
        if not isinstance(text, str) or limit < 1 or len(text) > 4 * MAX_ID_LENGTH:
            return []
        text = text.strip()
        if len(text) > MAX_ID_LENGTH:
            return []
        users = self._sorted
        if not text:
            return users[:limit]
        left = bisect.bisect_left(users, text)
        found: list[str] = []
        for user in users[left : left + limit]:
            if not user.startswith(text):
                break
            found.append(user)
        if len(found) < limit:
            # One pass over the ids, stopped as soon as enough are found.
            for user in users:
                if text in user and not user.startswith(text):
                    found.append(user)
                    if len(found) == limit:
                        break
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
    user_ids = table[schema.USER_ID].astype(str)
    # Viewer starts: rows are sorted by viewer, so a viewer starts where the id changes.
    values = user_ids.to_numpy(dtype=object)
    starts = np.concatenate([[0], np.flatnonzero(values[1:] != values[:-1]) + 1]).astype(np.int64)
    users = values[starts]
    return ViewerIndex(
        requests=table.loc[:, list(INDEX_COLUMNS)],
        users=users,
        starts=np.append(starts, len(table)).astype(np.int64),
        request_ids=pd.Index(table[schema.REQUEST_ID].astype(str)),
        rows=rows,
    )
