"""The Exposure page's values: the exposure audit of the session's workspace for a pair of
rankers and the requests that contribute most to a group's change, cached per session."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import pandas as pd

from rankaudit.exposure import ExposureAudit, ExposureSettings, audit_exposure
from rankaudit.views.query import TimelineQuery
from rankaudit.views.session import LRU, WorkspaceSession

__all__ = ["DEFAULT_GROUPS", "ExposureQuery", "contributing_requests", "exposure_audit"]

#: What the page groups by when the log has these columns (in/out-of-network, author size).
DEFAULT_GROUPS = ("in_network", "author_follower_count:q4")
#: Audits kept per session (one per pair of rankers and attention model).
_KEPT = 8

_caches: weakref.WeakKeyDictionary[WorkspaceSession, LRU[ExposureQuery, ExposureAudit]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


@dataclass(frozen=True)
class ExposureQuery:
    """Which audit the page shows: `reference` and `audited` rankers, the position model."""

    reference: str
    audited: str
    attention: str = "log"


def _groups(session: WorkspaceSession) -> tuple[str, ...]:
    columns = set(session.workspace.spec.names)
    return tuple(g for g in DEFAULT_GROUPS if g.partition(":")[0] in columns) or ("client",)


def exposure_audit(session: WorkspaceSession, query: ExposureQuery) -> ExposureAudit:
    """The audit of `query` over the session's held-out requests (computed once per query and
    session; seconds on a large log)."""
    with _lock:
        cache = _caches.setdefault(session, LRU(_KEPT))
        cached = cache.get(query)
    if cached is not None:
        return cached
    audit = audit_exposure(
        session.workspace,
        groups=_groups(session),
        models=(query.reference, query.audited),
        settings=ExposureSettings(attention=query.attention),
    )
    with _lock:
        cache.put(query, audit)
    return audit


def contributing_requests(
    audit: ExposureAudit, grouping: str, group: str, n: int = 10
) -> pd.DataFrame:
    """The `n` requests where the audited ranker changed `group`'s reach most, with a `link`
    column: the URL of that viewer's timeline at that request."""
    rows = audit.top_requests(grouping, group, n)
    rows["link"] = [
        TimelineQuery(user=str(u), request=str(r)).url()
        for u, r in zip(rows["user_id"], rows["request_id"], strict=True)
    ]
    return rows
