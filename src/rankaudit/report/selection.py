"""Which viewers (and which of their requests) a report covers.

Four ways to choose, exactly one per report:

- `users`: the given viewers, each with the request the two rankers dispute most (largest mean
  |displacement|, ties by request id): what `rankaudit compare --user` and the web app's
  Timeline page show for a viewer;
- `requests`: the given requests, each with its viewer;
- `sample`: n viewers drawn from every viewer of the log in the order of a seeded hash of
  their id (independent of file layout), each with their most disputed request;
- `surprising`: the n most surprising requests in scope (`rankaudit surprises`), at most one
  per viewer (a viewer's most surprising request).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from rankaudit.compare import SurpriseList
from rankaudit.data import schema
from rankaudit.errors import NotFoundError, ParameterError
from rankaudit.workspace import Workspace

__all__ = ["SelectedRequest", "Selection", "viewer_sample"]

Mode = Literal["users", "requests", "sample", "surprising"]


@dataclass(frozen=True)
class SelectedRequest:
    """One viewer's request in the report; `surprise` holds its row of the surprise list
    (rank, score, components, out-of-range feature) when it was chosen by surprise."""

    user: str | None
    request: str | None
    surprise: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """How the report's viewers were chosen (`mode`) and what was asked: `ids` for users or
    requests, `n` for a sample or the surprise list."""

    mode: Mode
    ids: tuple[str, ...] = ()
    n: int | None = None

    @classmethod
    def from_options(
        cls,
        *,
        users: Sequence[str] | None = None,
        requests: Sequence[str] | None = None,
        sample: int | None = None,
        surprising: int | None = None,
    ) -> Selection:
        """Check that exactly one way is chosen and it selects something; raise ParameterError
        otherwise. Repeated ids are kept once, in their first order."""
        chosen = [
            name
            for name, value in (
                ("users", users),
                ("requests", requests),
                ("sample", sample),
                ("surprising", surprising),
            )
            if value is not None
        ]
        if len(chosen) != 1:
            raise ParameterError(
                "choose the report's viewers one way: --user U (repeatable), --request R "
                "(repeatable), --sample N or --surprising N"
                + (f"; got {', '.join(chosen)}" if chosen else "")
            )
        mode = chosen[0]
        if mode in ("users", "requests"):
            given = users if mode == "users" else requests
            assert given is not None
            ids = tuple(dict.fromkeys(str(v).strip() for v in given if str(v).strip()))
            if not ids:
                raise ParameterError(f"the selection is empty: no {mode[:-1]} id given")
            return cls(mode=mode, ids=ids)  # type: ignore[arg-type]
        n = sample if mode == "sample" else surprising
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(
                f"The {mode!r} parameter of build_report must be an int >= 1. Got {n!r} instead."
            )
        return cls(mode=mode, n=n)  # type: ignore[arg-type]

    def requests_from(
        self, workspace: Workspace, *, seed: int, surprises: SurpriseList | None
    ) -> list[SelectedRequest]:
        """Resolve the selection to (viewer, request) entries, in report order. Users and
        requests are checked later, when they are read (NotFoundError for unknown ids)."""
        if self.mode == "users":
            return [SelectedRequest(user=u, request=None) for u in self.ids]
        if self.mode == "requests":
            return [SelectedRequest(user=None, request=r) for r in self.ids]
        assert self.n is not None
        if self.mode == "sample":
            return [
                SelectedRequest(user=u, request=None)
                for u in viewer_sample(workspace, self.n, seed=seed)
            ]
        assert surprises is not None
        return _most_surprising(surprises, self.n)

    def to_dict(self, pseudonym: Any) -> dict[str, Any]:
        """The manifest's record of the selection (viewer ids pseudonymized by `pseudonym`)."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.mode == "users":
            out["users"] = [pseudonym(u) for u in self.ids]
        elif self.mode == "requests":
            out["requests"] = list(self.ids)
        else:
            out["n"] = self.n
        return out


def _most_surprising(surprises: SurpriseList, n: int) -> list[SelectedRequest]:
    table = surprises.table
    if table.empty:
        raise NotFoundError("the selection is empty: no request was scored for surprise")
    first = table.drop_duplicates(schema.USER_ID, keep="first").head(n)
    chosen = []
    for record in first.to_dict("records"):
        chosen.append(
            SelectedRequest(
                user=str(record[schema.USER_ID]),
                request=str(record[schema.REQUEST_ID]),
                surprise={str(k): v for k, v in record.items()},
            )
        )
    return chosen


def viewer_sample(workspace: Workspace, n: int, *, seed: int) -> list[str]:
    """`n` viewer ids of the log (all of them when it has fewer), in the order of a seeded
    hash of the id: the same viewers whatever the order or files of the log."""
    seen: set[str] = set()
    for _, batch in workspace.logs.iter_raw(columns=[schema.USER_ID]):
        seen.update(batch[schema.USER_ID].astype(str).unique().tolist())
    if not seen:
        raise NotFoundError("the selection is empty: the log has no viewer")
    users = np.array(sorted(seen), dtype=object)
    key = hashlib.sha256(f"rankaudit-report-viewers-{seed}".encode()).hexdigest()[:16]
    hashes = np.asarray(pd.util.hash_array(users, hash_key=key, categorize=False))
    order = np.lexsort((users.astype(str), hashes))
    return [str(u) for u in users[order][:n]]
