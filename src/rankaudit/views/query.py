"""What a view shows, as a value that round-trips through a URL.

Every page of the app keeps its whole state in its URL: `TimelineQuery` for
`/timeline/<user>?request=&tweet=&model=&head=&reference=&vs=&chart=` and `FeaturesQuery` for
`/features?model=&method=&head=&reference=&feature=`. `from_params` checks the option values
once, where the URL enters (ids are checked against the workspace by the session); `url()`
writes the canonical link (defaults left out, fixed key order), so equal states have equal
links. `from_data` rebuilds a query from the dict a page stored in the browser, which comes
back in callback requests and is checked as hostile input.

Every parameter, and the viewer id of the path, is at most `MAX_PARAM_LENGTH` characters:
longer values raise ParameterError before anything is looked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args
from urllib.parse import quote, unquote, urlencode

from rankaudit.attribution.settings import FINAL
from rankaudit.data.index import MAX_ID_LENGTH
from rankaudit.errors import ParameterError

__all__ = [
    "MAX_PARAM_LENGTH",
    "Chart",
    "ExplainReference",
    "FeaturesQuery",
    "ImportanceReference",
    "TimelineQuery",
    "parse_search",
]

ExplainReference = Literal["request", "global", "pair"]
Chart = Literal["bars", "waterfall"]
#: What the explanation panel explains: the tweet's score (SHAP / IG) or its rank.
Explained = Literal["score", "rank"]
ImportanceReference = Literal["global", "request"]
Method = Literal["shap", "ig"]

#: The longest value of a URL parameter or stored query field (characters): ids, model,
#: head and feature names alike.
MAX_PARAM_LENGTH = MAX_ID_LENGTH


def parse_search(search: str | None) -> dict[str, str]:
    """`?a=1&b=2` -> {"a": "1", "b": "2"}; the last value wins for a repeated key."""
    from urllib.parse import parse_qsl

    if not search:
        return {}
    return dict(parse_qsl(search.lstrip("?"), keep_blank_values=False))


def _text(params: Mapping[str, Any], key: str) -> str | None:
    """One URL parameter as a stripped string, None when absent or empty (Dash passes a list
    for a repeated key: the last one wins)."""
    value = params.get(key)
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ParameterError(
            f"The {key!r} parameter in the URL must be text. Got a {type(value).__name__} instead."
        )
    text = _checked_length(str(value), key).strip()
    return text or None


def _checked_length(text: str, key: str, *, encoded: bool = False) -> str:
    # A percent-encoded value may be up to three times its decoded length.
    if len(text) > (3 if encoded else 1) * MAX_PARAM_LENGTH:
        raise ParameterError(
            f"The {key!r} parameter in the URL must be at most {MAX_PARAM_LENGTH} characters. "
            f"Got {len(text):,} characters ({text[:24]!r}…) instead."
        )
    return text


def _stored(data: object, cls: type[Any]) -> dict[str, Any]:
    """The fields of a query stored in the page, checked: a dict of known keys only."""
    if not isinstance(data, Mapping):
        raise ParameterError(
            f"the page's stored view state must be a mapping of {', '.join(f.name for f in fields(cls))}; "
            f"got {type(data).__name__!r}. Reload the page from its URL."
        )
    known = {f.name for f in fields(cls)}
    unknown = [str(k)[:24] for k in data if k not in known]
    if unknown:
        raise ParameterError(
            f"the page's stored view state holds unknown keys {sorted(unknown)[:5]}; known: "
            f"{sorted(known)}. Reload the page from its URL."
        )
    return dict(data)


def _choice(params: Mapping[str, Any], key: str, valid: tuple[str, ...], default: str) -> str:
    value = _text(params, key)
    if value is None:
        return default
    if value not in valid:
        raise ParameterError(
            f"The {key!r} parameter in the URL must be one of {', '.join(valid)}. "
            f"Got {value!r} instead."
        )
    return value


def _search(pairs: list[tuple[str, str | None]]) -> str:
    kept = [(k, v) for k, v in pairs if v is not None]
    return "?" + urlencode(kept) if kept else ""


@dataclass(frozen=True)
class TimelineQuery:
    """One timeline view. `user` None: the search page. `request` None: the viewer's request
    the two rankers dispute most. `tweet` None: no explanation open. `model` None: the audited
    ranker (the second of the session's pair). `head`: an engagement head or the final
    score. `reference`: request (the request's mean), global (a background sample) or pair
    (`vs`, default: the next tweet below in `model`'s ordering). `chart`: bars per method, or
    a waterfall of SHAP. `explain`: the panel's view, the tweet's score or its rank."""

    user: str | None = None
    request: str | None = None
    tweet: str | None = None
    model: str | None = None
    head: str = FINAL
    reference: ExplainReference = "request"
    vs: str | None = None
    chart: Chart = "bars"
    explain: Explained = "score"

    @classmethod
    def from_params(cls, user: str | None, params: Mapping[str, Any]) -> TimelineQuery:
        """Build from a path's (percent-encoded) user id and the URL parameters; raises
        ParameterError for an option outside its values. Unknown parameters are ignored."""
        reference = _choice(params, "reference", get_args(ExplainReference), "request")
        chart = _choice(params, "chart", get_args(Chart), "bars")
        explain = _choice(params, "explain", get_args(Explained), "score")
        if user is not None and not isinstance(user, str):
            raise ParameterError("The viewer id in the URL must be text.")
        viewer = (
            _checked_length(unquote(_checked_length(user, "user", encoded=True)), "user")
            if user
            else None
        )
        return cls(
            user=(viewer.strip() or None) if viewer else None,
            request=_text(params, "request"),
            tweet=_text(params, "tweet"),
            model=_text(params, "model"),
            head=_text(params, "head") or FINAL,
            reference=reference,  # type: ignore[arg-type]
            vs=_text(params, "vs") if reference == "pair" else None,
            chart=chart,  # type: ignore[arg-type]
            explain=explain,  # type: ignore[arg-type]
        )

    @classmethod
    def from_data(cls, data: object) -> TimelineQuery:
        """Rebuild the query a page stored (`dataclasses.asdict` of one) from a callback's
        payload; raises ParameterError for anything but a mapping of known keys with values
        a URL could give."""
        stored = _stored(data, cls)
        params = {k: v for k, v in stored.items() if k != "user"}
        user = _text(stored, "user")
        query = cls.from_params(None, params)
        # `vs` is dropped by from_params without the pair reference, as in a URL.
        return replace(query, user=user)

    def with_changes(self, **changes: Any) -> TimelineQuery:
        """A copy with `changes`; leaving the pair reference drops `vs`, a new viewer or
        request drops what belonged to the old one."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ParameterError(
                f"unknown timeline state {sorted(unknown)}; known: {sorted(known)}"
            )
        if "user" in changes and changes["user"] != self.user:
            changes = {"request": None, "tweet": None, "vs": None, **changes}
        if "request" in changes and changes["request"] != self.request:
            changes = {"tweet": None, "vs": None, **changes}
        updated = replace(self, **changes)
        if updated.reference != "pair" and updated.vs is not None:
            updated = replace(updated, vs=None)
        return updated

    def url(self) -> str:
        """The canonical link of this view (`/timeline` without a viewer)."""
        if self.user is None:
            return "/timeline"
        return f"/timeline/{quote(self.user, safe='')}" + _search(
            [
                ("request", self.request),
                ("tweet", self.tweet),
                ("model", self.model),
                ("head", None if self.head == FINAL else self.head),
                ("reference", None if self.reference == "request" else self.reference),
                ("vs", self.vs),
                ("chart", None if self.chart == "bars" else self.chart),
                ("explain", None if self.explain == "score" else self.explain),
            ]
        )


@dataclass(frozen=True)
class FeaturesQuery:
    """The Features page: global importance of `method` for `head` against `reference`, both
    rankers side by side, and the distribution and dependence of `feature` (None: the audited
    ranker's most important feature) under `model` (None: the audited ranker)."""

    model: str | None = None
    method: Method = "shap"
    head: str = FINAL
    reference: ImportanceReference = "global"
    feature: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FeaturesQuery:
        """Build from URL parameters; raises ParameterError for an option outside its values."""
        return cls(
            model=_text(params, "model"),
            method=_choice(params, "method", get_args(Method), "shap"),  # type: ignore[arg-type]
            head=_text(params, "head") or FINAL,
            reference=_choice(  # type: ignore[arg-type]
                params, "reference", get_args(ImportanceReference), "global"
            ),
            feature=_text(params, "feature"),
        )

    @classmethod
    def from_data(cls, data: object) -> FeaturesQuery:
        """Rebuild the query a page stored from a callback's payload; raises ParameterError
        for anything but a mapping of known keys with values a URL could give."""
        return cls.from_params(_stored(data, cls))

    def with_changes(self, **changes: Any) -> FeaturesQuery:
        """A copy with `changes`."""
        return replace(self, **changes)

    def url(self) -> str:
        """The canonical link of this view."""
        return "/features" + _search(
            [
                ("model", self.model),
                ("method", None if self.method == "shap" else self.method),
                ("head", None if self.head == FINAL else self.head),
                ("reference", None if self.reference == "global" else self.reference),
                ("feature", self.feature),
            ]
        )
