"""One workspace opened for interactive views: what the web app's callbacks call.

A `WorkspaceSession` loads the workspace and its two rankers once, indexes the log's requests
(one pass over three id columns), and keeps what views compute in bounded caches:

| cache | holds | default size | one entry |
|---|---|---|---|
| timelines | `TimelineView` per (viewer, request) | 64 | the viewer's scored rows (~50 KB) |
| attributions | `AttributionCache` entries | 128 | one request's attributions for one model, head and reference (~0.5 MB at 30 candidates) |
| background | the global reference sample | 1 | `background_size` rows |
| overview | computed once per session | 1 | a few MB |
| features | the sample's attributions per (model, method, reference, head) | 24 | ~3 MB at 400 rows |

so memory stays bounded however many viewers are opened (about 64 x 50 KB + 128 x 0.5 MB +
24 x 3 MB on top of the models). Methods are thread-safe: a multi-threaded WSGI server may call them
concurrently. Timelines are computed per viewer in single flight: concurrent requests for the
same view share one computation, different viewers are computed in parallel (no global lock).
Explanations still run one at a time (`AttributionCache` is not thread-safe).

Ids are hostile input: one longer than `MAX_ID_LENGTH` is unknown without any lookup.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import pandas as pd

from rankaudit.attribution import (
    INTERACTIVE_SETTINGS,
    AttributionCache,
    AttributionSettings,
    background_sample,
)
from rankaudit.compare import CompareSettings, SurpriseSettings
from rankaudit.compare.surprise import FeatureRanges
from rankaudit.data import schema
from rankaudit.data.index import MAX_ID_LENGTH, ViewerIndex, build_viewer_index
from rankaudit.errors import NotFoundError, ParameterError
from rankaudit.importance import attribute_sample, sample_requests
from rankaudit.report import Report, ReportSettings, build_report
from rankaudit.store.query import open_attribution_stores
from rankaudit.timeline import load_side_by_side
from rankaudit.views.explanation import ExplanationView, explain_in_timeline
from rankaudit.views.features import FeaturesView, build_features
from rankaudit.views.overview import OverviewView, build_overview
from rankaudit.views.query import FeaturesQuery, TimelineQuery
from rankaudit.views.timeline import TimelineView
from rankaudit.workspace import Workspace, load_workspace

__all__ = ["LRU", "SessionSettings", "SingleFlight", "WorkspaceSession"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A thread-safe, bounded least-recently-used map with hit and miss counts."""

    def __init__(self, max_entries: int) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ParameterError(
                f"The 'max_entries' parameter of LRU must be an int >= 1. Got {max_entries!r} instead."
            )
        self.max_entries = max_entries
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, *, count: bool = True) -> V | None:
        """The value of `key` (now the most recent), or None; `count=False` leaves the hit
        and miss counts alone (a second look after waiting for a lock)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += count
                return self._items[key]
            self.misses += count
            return None

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


class _Flight(Generic[V]):
    """One computation in progress: waiters block on `done`, then read `value` or `error`."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[K, V]):
    """Concurrent calls for the same key share one computation; calls for different keys run
    in parallel. Nothing is kept once a computation ends (caching is the caller's): the map
    holds only the keys in flight, so it is bounded by the number of threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[K, _Flight[V]] = {}
        #: Computations run so far (not counting the calls that shared one).
        self.runs = 0

    def do(self, key: K, compute: Callable[[], V]) -> V:
        """`compute()`'s value, or the value of the computation of `key` already running
        (whose exception is raised again in every caller that waited for it)."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.runs += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[return-value]
        try:
            flight.value = compute()
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.value


@dataclass(frozen=True)
class SessionSettings:
    """How a session computes and how much it keeps.

    `models`: (reference, audited) rankers; `timelines`, `attributions`: LRU sizes (entries);
    `attribution`: the attribution settings of on-the-fly explanations; `compare`,
    `surprise`: settings of the overview; `surprises`: rows of the overview's surprise list;
    `importance_rows`: rows of whole requests sampled (seeded, held-out requests when the
    workspace has a holdout) for the Features page; `importance_entries`: LRU size of its
    attribution frames.
    """

    models: tuple[str, str] = ("baseline", "deep")
    timelines: int = 64
    attributions: int = 128
    attribution: AttributionSettings = INTERACTIVE_SETTINGS
    compare: CompareSettings = field(default_factory=CompareSettings)
    surprise: SurpriseSettings = field(default_factory=SurpriseSettings)
    surprises: int = 25
    importance_rows: int = 400
    importance_entries: int = 24


class _Once(Generic[V]):
    """A value computed on first use, once, under a lock."""

    def __init__(self, compute: Callable[[], V]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._value: V | None = None

    @property
    def ready(self) -> bool:
        return self._value is not None

    def get(self) -> V:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._compute()
        return self._value


class WorkspaceSession:
    """A workspace opened for interactive views (see the module docstring for the caches)."""

    def __init__(self, workspace: Workspace, settings: SessionSettings | None = None) -> None:
        self.workspace = workspace
        self.settings = settings or SessionSettings()
        for name in self.settings.models:
            workspace.model(name)  # WorkspaceError listing the configured names
        self._timelines: LRU[tuple[str, str], TimelineView] = LRU(self.settings.timelines)
        #: viewer -> the request shown without ?request= (ids only: many more than timelines).
        self._default_requests: LRU[str, str] = LRU(64 * self.settings.timelines)
        #: Timelines computed (not served from the cache) so far.
        self.timeline_loads = 0
        self._counter_lock = threading.Lock()
        self.attributions = AttributionCache(max_entries=self.settings.attributions)
        # AttributionCache is not thread-safe, and two threads explaining the same request
        # would do the work twice: explanations run one at a time.
        self._explain_lock = threading.Lock()
        #: Timeline loads in progress, per (viewer, request): no global lock.
        self._timeline_flights: SingleFlight[tuple[str, str | None], TimelineView] = SingleFlight()
        self._index = _Once(lambda: build_viewer_index(workspace.logs, workspace.spec))
        self._background = _Once(
            lambda: background_sample(
                workspace, self.settings.attribution.background_size, self.settings.attribution.seed
            )
        )
        self._overview = _Once(
            lambda: build_overview(
                workspace,
                self.index,
                models=self.settings.models,
                settings=self.settings.compare,
                surprise_settings=self.settings.surprise,
            )
        )
        self._sample = _Once(self._draw_sample)
        #: The attribution stores the workspace names (`attributions` in rankaudit.toml), by
        #: model; explanations and the Features sample are read there before computing.
        self.stores = open_attribution_stores(workspace.attribution_stores)
        self._importance: LRU[tuple[str, str, str, str], pd.DataFrame] = LRU(
            self.settings.importance_entries
        )

    @classmethod
    def open(cls, path: Path | str, settings: SessionSettings | None = None) -> WorkspaceSession:
        """Load the workspace at `path` and open a session on it (models load on first use,
        or with `warm`)."""
        return cls(load_workspace(path), settings)

    @property
    def models(self) -> tuple[str, str]:
        return self.settings.models

    @property
    def index(self) -> ViewerIndex:
        """The request index of the log (built on first use, ~0.4 s per million rows)."""
        return self._index.get()

    def warm(self, *, overview: bool = True) -> None:
        """Do the one-off work now rather than on the first page view: load both rankers,
        index the log and, with `overview`, compute the overview."""
        for name in self.models:
            self.workspace.ranker(name)
        _ = self.index
        if overview:
            self.overview()

    def search_viewers(self, text: str, *, limit: int = 20) -> list[str]:
        """Viewer ids starting with (then containing) `text`."""
        return self.index.search(text, limit=limit)

    def resolve(self, text: str) -> TimelineQuery:
        """What a search box entry names: a viewer, or a request (opened on its viewer's
        timeline). Raises NotFoundError when it is neither."""
        value = text.strip()
        if self.index.has_user(value):
            return TimelineQuery(user=value)
        owner = self.index.user_of(value)
        if owner is not None:
            return TimelineQuery(user=owner, request=value)
        examples = ", ".join(self.index.requests["request_id"].head(2))
        raise NotFoundError(
            f"{self._unknown_viewer(value)} Request ids look like {examples}.".replace(
                "unknown viewer", "unknown viewer or request", 1
            )
        )

    def viewer_of(self, request: str) -> str:
        """The viewer `request` was served to; NotFoundError for an unknown request."""
        owner = self.index.user_of(request)
        if owner is None:
            examples = ", ".join(self.index.requests["request_id"].head(3))
            shown = repr(request) if len(request) <= MAX_ID_LENGTH else repr(request[:24]) + "…"
            raise NotFoundError(
                f"unknown request {shown} in workspace {self.workspace.name!r} "
                f"({self.index.n_requests:,} requests). Request ids look like {examples}."
            )
        return owner

    def _unknown_viewer(self, user: str) -> str:
        if len(user) > MAX_ID_LENGTH:
            close = []
            shown = f"{user[:24]!r}… ({len(user):,} characters; ids are at most {MAX_ID_LENGTH})"
        else:
            close = self.index.search(user[: max(1, len(user) - 2)], limit=3)
            shown = repr(user)
        close = close or self.index.search("", limit=3)
        return (
            f"unknown viewer {shown}: no request of workspace {self.workspace.name!r} was served "
            f"to them ({self.index.n_users:,} viewers). Viewer ids look like {', '.join(close)}."
        )

    def timeline(self, user: str, request: str | None = None) -> TimelineView:
        """The viewer's `request` (default: the request the two rankers dispute most) under
        both rankers. Raises NotFoundError for an unknown viewer, an unknown request, or a
        request served to another viewer."""
        # Hostile ids are refused before any cache or index lookup.
        if not isinstance(user, str) or len(user) > MAX_ID_LENGTH:
            raise NotFoundError(self._unknown_viewer(str(user)))
        if request is not None and (not isinstance(request, str) or len(request) > MAX_ID_LENGTH):
            raise NotFoundError(
                f"unknown request of {len(str(request)):,} characters: request ids are at most "
                f"{MAX_ID_LENGTH} characters"
            )
        cached = self._cached_timeline(user, request, count=True)
        if cached is not None:
            return cached

        def load() -> TimelineView:
            # A caller that waited for another view's flight finds it cached.
            again = self._cached_timeline(user, request, count=False)
            return again if again is not None else self._load_timeline(user, request)

        # A page asks for its timeline from two callbacks at once, and several viewers' pages
        # load at once: one computation per view, views in parallel.
        return self._timeline_flights.do((user, request), load)

    def _cached_timeline(
        self, user: str, request: str | None, *, count: bool
    ) -> TimelineView | None:
        # A viewer's default request is remembered apart, so each view is one LRU entry.
        chosen = request if request is not None else self._default_requests.get(user, count=False)
        return None if chosen is None else self._timelines.get((user, chosen), count=count)

    def _load_timeline(self, user: str, request: str | None) -> TimelineView:
        if not self.index.has_user(user):
            raise NotFoundError(self._unknown_viewer(user))
        if request is not None:
            owner = self.index.user_of(request)
            if owner is None:
                raise NotFoundError(
                    f"unknown request {request!r}: viewer {user!r} has requests "
                    f"{', '.join(self.index.requests_of(user)['request_id'].head(5))}"
                )
            if owner != user:
                raise NotFoundError(
                    f"request {request!r} was served to viewer {owner!r}, not {user!r}"
                )
        view = TimelineView(
            load_side_by_side(self.workspace, user=user, request=request, models=self.models)
        )
        with self._counter_lock:
            self.timeline_loads += 1
        self._timelines.put((user, view.request_id), view)
        if request is None:
            self._default_requests.put(user, view.request_id)
        return view

    def background(self) -> pd.DataFrame:
        """The global reference's background sample (drawn once, one pass over the log)."""
        return self._background.get()

    def explanation(self, query: TimelineQuery) -> ExplanationView:
        """The explanation `query` asks for (its viewer, request, tweet, model, head,
        reference and pair). Raises ParameterError without a viewer or tweet, and what
        `timeline` and `explain_in_timeline` raise."""
        if query.user is None or query.tweet is None:
            raise ParameterError("an explanation needs a viewer and a tweet in the URL")
        view = self.timeline(query.user, query.request)
        with self._explain_lock:
            return explain_in_timeline(
                self.workspace,
                view,
                tweet=query.tweet,
                model=query.model or self.models[1],
                head=query.head,
                reference=query.reference,
                vs_tweet=query.vs,
                settings=self.settings.attribution,
                background=self.background,
                cache=self.attributions,
                store=self.stores.get(query.model or self.models[1]),
            )

    @property
    def overview_ready(self) -> bool:
        return self._overview.ready

    def holdout_requests(self) -> int:
        """The requests the overview compares: those served from `holdout_from` on (every
        request without a holdout)."""
        served = self.index.requests[schema.SERVED_AT]
        holdout = self.workspace.holdout_from
        return int(len(served) if holdout is None else (served >= holdout).sum())

    def feature_ranges(self) -> FeatureRanges | None:
        """The training range of each continuous feature (requests served before the holdout),
        from the overview once it is computed (`serve` computes it first); None before, or
        without a training period."""
        return self.overview().surprises.ranges if self.overview_ready else None

    def overview(self) -> OverviewView:
        """The overview (computed once per session: seconds on a 1M-row log)."""
        return self._overview.get()

    def report(self, *, request: str | None = None, surprising: int | None = None) -> Report:
        """The audit report of what a page shows: one request (the Timeline page), or the
        `surprising` most surprising requests with the population comparison (the Overview
        page, reusing the session's overview). Same settings as the session's views."""
        settings = ReportSettings(
            models=self.models,
            attribution=self.settings.attribution,
            compare=self.settings.compare,
            surprise=self.settings.surprise,
        )
        if request is not None:
            return build_report(self.workspace, requests=[request], settings=settings)
        overview = self.overview()
        return build_report(
            self.workspace,
            surprising=surprising,
            settings=settings,
            population=overview.population,
            surprises=overview.surprises,
        )

    def _draw_sample(self) -> pd.DataFrame:
        holdout = self.workspace.holdout_from
        return sample_requests(
            self.workspace,
            self.settings.importance_rows,
            seed=self.settings.attribution.seed,
            window=None if holdout is None else (holdout, None),
        )

    def _attributed(self, model: str, method: str, reference: str, head: str) -> pd.DataFrame:
        key = (model, method, reference, head)
        cached = self._importance.get(key)
        if cached is not None:
            return cached
        sample = self._sample.get()
        store = self.stores.get(model)
        if store is not None:
            # The sample's requests, read from their viewers' partitions (row groups), once
            # per combination. A store holding only part of the sample (a few viewers) would
            # skew the global view: then the sample is computed.
            requests = sample["request_id"].unique().tolist()
            stored = store.rows(
                model=model, head=head, reference=reference, method=method,
                viewer=sample["user_id"].unique().tolist(), requests=requests,
            )  # fmt: skip
            if not stored.empty and set(stored["request_id"]) >= set(requests):
                self._importance.put(key, stored)
                return stored
        with self._explain_lock:
            frame = attribute_sample(
                self.workspace,
                model,
                method=method,
                reference=reference,
                heads=[head],
                settings=self.settings.attribution,
                rows=sample,
            ).frame
        self._importance.put(key, frame)
        return frame

    def features(self, query: FeaturesQuery) -> FeaturesView:
        """Global importance of both rankers for `query`'s method, head and reference over a
        seeded sample of whole requests, and `query.model`'s attributions behind it
        (seconds the first time per combination, then cached). Raises ParameterError for a
        model, head, method or feature the workspace does not have."""
        sample = self._sample.get()
        scope = "held-out" if self.workspace.holdout_from is not None else "all"
        return build_features(
            self.workspace,
            self.models,
            query,
            attributed=self._attributed,
            sample=sample,
            source=f"a seeded sample of {sample['request_id'].nunique()} {scope} requests",
        )

    def cache_info(self) -> dict[str, int]:
        """Entries, hits and misses of the session's caches."""
        return {
            "timelines": len(self._timelines),
            "timelines_max": self._timelines.max_entries,
            "timeline_hits": self._timelines.hits,
            "timeline_loads": self.timeline_loads,
            # AttributionCache has no public size yet (asked for: a __len__).
            "attributions": len(self.attributions),
            "attributions_max": self.attributions.max_entries,
            "attribution_hits": self.attributions.hits,
            "attribution_misses": self.attributions.misses,
            "importance": len(self._importance),
            "importance_max": self._importance.max_entries,
        }
