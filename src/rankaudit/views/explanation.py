"""One tweet of a timeline explained under one ranker, for one head, against one reference.

`explain_in_timeline` does what `rankaudit.explain.explain_tweet` does for the final score of
both rankers, but for one ranker and any of its heads, on rows the timeline view already holds
(no second read of the log): the same frame, methods, settings and background give the same
numbers (a test holds the two together).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from rankaudit.attribution import (
    FINAL,
    AttributionCache,
    AttributionSettings,
    attribute_frame,
    resolve_methods,
)
from rankaudit.attribution.grouping import DEFAULT_TOP, By, feature_groups
from rankaudit.attribution.rank import RankExplanation, RankSettings, explain_rank
from rankaudit.compare.request import model_rows
from rankaudit.data import schema
from rankaudit.errors import AttributionError, ParameterError
from rankaudit.explain import TweetExplanation
from rankaudit.store.query import AttributionStore
from rankaudit.views.timeline import TimelineView
from rankaudit.workspace import Workspace

__all__ = [
    "ExplanationRequest",
    "ExplanationView",
    "explain_in_timeline",
    "explain_rank_in_timeline",
    "explanation_from_rows",
    "resolve_explanation",
]


@dataclass(frozen=True, eq=False)
class ExplanationView:
    """`explanation` holds `model`'s attribution rows of `tweet` for `head` (every applicable
    method); `position` / `vs_position` are the tweets' places in `model`'s ordering;
    `source` says where the numbers come from: "computed" now, or "store (<folder>)"."""

    explanation: TweetExplanation
    model: str
    head: str
    methods: tuple[str, ...]
    position: int
    vs_position: int | None
    source: str = "computed"

    @property
    def tweet(self) -> str:
        return self.explanation.tweet

    @property
    def vs_tweet(self) -> str | None:
        return self.explanation.vs_tweet

    @property
    def reference(self) -> str:
        return self.explanation.reference

    def contributions(self) -> pd.DataFrame:
        """One row per feature: value and each method's attribution, largest first (ties by
        feature name)."""
        return self.explanation.contributions(self.model)

    def group_contributions(self) -> pd.DataFrame:
        """One row per feature group: members and each method's sum, largest first."""
        return self.explanation.group_contributions(self.model)

    def top_contributions(self, *, top: int = DEFAULT_TOP, by: By = "feature") -> pd.DataFrame:
        """The `top` largest features (or groups) and a row summing the rest."""
        return self.explanation.top_contributions(self.model, top=top, by=by)

    @property
    def top_group(self) -> str:
        """The feature group with the largest |sum of attributions| over the methods."""
        return str(self.group_contributions()["group"].iat[0])

    @property
    def top_feature(self) -> str:
        """The feature with the largest |attribution| over the methods."""
        return str(self.contributions()["feature"].iat[0])


@dataclass(frozen=True)
class ExplanationRequest:
    """What to explain, checked against the view and the workspace (`vs_tweet` resolved)."""

    tweet: str
    model: str
    head: str
    reference: str
    vs_tweet: str | None


def _groups(workspace: Workspace, rows: pd.DataFrame) -> dict[str, str]:
    return feature_groups(workspace.spec, rows["feature"].astype(str))


def _heads_of(ranker: object) -> tuple[str, ...]:
    return tuple(getattr(ranker, "heads", ()) or ())


def resolve_explanation(
    workspace: Workspace,
    view: TimelineView,
    *,
    tweet: str,
    model: str,
    head: str = FINAL,
    reference: str = "request",
    vs_tweet: str | None = None,
) -> ExplanationRequest:
    """Check an explanation request: `model` one of the view's two rankers, `head` one of its
    heads or the final score, `tweet` (and for the pair reference `vs_tweet`, default: the
    neighbour below in `model`'s order) candidates of the request. Raises ParameterError,
    NotFoundError or AttributionError naming what is wrong."""
    view.side(model)  # ParameterError for a model outside the view's pair
    comparison = view.comparison
    comparison.tweet(tweet)  # NotFoundError naming the request and its size
    ranker = workspace.ranker(model)
    valid_heads = (FINAL, *_heads_of(ranker))
    if head not in valid_heads:
        raise ParameterError(
            f"The 'head' parameter in the URL must be one of {', '.join(valid_heads)} for "
            f"{model}. Got {head!r} instead."
        )
    if reference == "pair":
        vs_tweet = vs_tweet if vs_tweet is not None else view.neighbour(tweet, model)
        if vs_tweet is None:
            raise AttributionError(
                f"request {view.request_id} has one candidate: no pair to explain"
            )
        comparison.tweet(vs_tweet)
        if vs_tweet == tweet:
            raise ParameterError(
                f"The 'vs' parameter in the URL must name another tweet than {tweet!r}."
            )
    elif reference not in ("request", "global"):
        raise ParameterError(
            "The 'reference' parameter in the URL must be one of request, global, pair. "
            f"Got {reference!r} instead."
        )
    else:
        vs_tweet = None
    return ExplanationRequest(
        tweet=tweet, model=model, head=head, reference=reference, vs_tweet=vs_tweet
    )


def explanation_from_rows(
    view: TimelineView,
    asked: ExplanationRequest,
    rows: pd.DataFrame,
    *,
    source: str,
    groups: Mapping[str, str] | None = None,
) -> ExplanationView:
    """The ExplanationView of `asked` out of its long attribution rows (the tweet's rows of
    one model and head, any methods); `groups` maps features to their feature groups (the
    workspace spec's; default: none, every feature ungrouped)."""
    positions = view.positions(asked.model)
    return ExplanationView(
        explanation=TweetExplanation(
            view=view.comparison,
            tweet=asked.tweet,
            vs_tweet=asked.vs_tweet,
            reference=asked.reference,
            attributions=rows.reset_index(drop=True),
            sources={asked.model: source},
            groups=dict(groups or {}),
        ),
        model=asked.model,
        head=asked.head,
        methods=tuple(dict.fromkeys(rows["method"].astype(str))),
        position=int(positions[asked.tweet]),
        vs_position=None if asked.vs_tweet is None else int(positions[asked.vs_tweet]),
        source=source,
    )


def explain_in_timeline(
    workspace: Workspace,
    view: TimelineView,
    *,
    tweet: str,
    model: str,
    head: str = FINAL,
    reference: str = "request",
    vs_tweet: str | None = None,
    settings: AttributionSettings,
    background: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
    cache: AttributionCache | None = None,
    store: AttributionStore | None = None,
) -> ExplanationView:
    """Explain `tweet` of `view` under `model` (one of the view's two rankers) for `head`
    (a head of the model, or the final score) against `reference`: request, global (needs
    `background`, or a function drawing it when needed) or pair (with `vs_tweet`, default: the
    neighbour below in `model`'s order).

    Rows found in the attribution `store` (read from the viewer's partition) are used as they
    are; otherwise only `tweet` is explained (the other candidates still make up the request
    reference) with every method that applies, and the result is cached. Raises what
    `resolve_explanation` raises.
    """
    asked = resolve_explanation(
        workspace, view, tweet=tweet, model=model, head=head, reference=reference, vs_tweet=vs_tweet
    )
    if store is not None:
        stored = store.rows(
            model=asked.model,
            head=asked.head,
            reference=asked.reference,
            viewer=view.user_id,
            requests=[view.request_id],
            tweet=asked.tweet,
            vs_tweet=asked.vs_tweet,
        )
        if not stored.empty:
            return explanation_from_rows(
                view, asked, stored, source=store.label, groups=_groups(workspace, stored)
            )
    ranker = workspace.ranker(asked.model)
    frame = model_rows(view.comparison.rows)
    if asked.reference != "global":
        background = None
    elif callable(background):
        background = background()
    result = attribute_frame(
        ranker,
        frame,
        methods=resolve_methods(ranker, "all"),
        reference=asked.reference,
        heads=[asked.head],
        settings=settings,
        background=background,
        pair=(asked.tweet, asked.vs_tweet) if asked.vs_tweet is not None else None,
        tweets=[asked.tweet],
        cache=cache,
    ).frame
    rows = result.loc[result[schema.TWEET_ID] == asked.tweet]
    return explanation_from_rows(
        view, asked, rows, source="computed", groups=_groups(workspace, rows)
    )


def explain_rank_in_timeline(
    workspace: Workspace,
    view: TimelineView,
    *,
    tweet: str,
    model: str,
    settings: RankSettings | None = None,
) -> RankExplanation:
    """Explain `tweet`'s rank (with its top-k membership and exposure) under `model` (one of
    the view's two rankers) against the request reference, the other candidates' scores fixed,
    on the rows `view` holds: the numbers of `rankaudit.explain.explain_ranks(quantity="rank")`
    for that model. Values are in positions (negative: moves the tweet up) and sum to the
    tweet's rank minus its rank at the reference. Raises ParameterError for a model outside
    the view, NotFoundError for a tweet outside the request."""
    view.side(model)  # ParameterError for a model outside the view's pair
    view.comparison.tweet(tweet)  # NotFoundError naming the request and its size
    frame = model_rows(view.comparison.rows).reset_index(drop=True)
    return explain_rank(
        workspace.ranker(model),
        frame,
        tweet,
        settings=RankSettings() if settings is None else settings,
    )
