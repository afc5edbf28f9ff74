"""`rankaudit explain`: one request under two rankers, and why a tweet sits where it does.

For the chosen tweet each model's final score is attributed against the request's candidates
(or a global background), or against a second tweet of the same request (`vs_tweet`: why is T
above or below T2), with every method that applies to the model. When the workspace names an
attribution store (`attributions` in rankaudit.toml) that holds a model's rows of the tweet, they
are read from the viewer's partition instead of computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from rankaudit.attribution import (
    FINAL,
    AttributionCache,
    AttributionSettings,
    attribute_frame,
    background_sample,
    resolve_methods,
)
from rankaudit.attribution.api import DEFAULT_SETTINGS
from rankaudit.compare.request import RequestComparison
from rankaudit.data import schema
from rankaudit.errors import AttributionError, NotFoundError
from rankaudit.store.query import open_attribution_stores
from rankaudit.timeline import load_side_by_side
from rankaudit.workspace import Workspace

__all__ = ["TweetExplanation", "explain_tweet"]


@dataclass(frozen=True)
class TweetExplanation:
    """`attributions`: long attribution rows (final score only) of `tweet` for both models,
    every applicable method; `view`: the request side by side; `sources`: where each model's
    rows come from, "computed" or "store (<folder>)"."""

    view: RequestComparison
    tweet: str
    vs_tweet: str | None
    reference: str
    attributions: pd.DataFrame
    sources: Mapping[str, str] = field(default_factory=dict)

    def contributions(self, model: str) -> pd.DataFrame:
        """One row per feature: value and each method's attribution, largest |attribution| first."""
        rows = self.attributions.loc[self.attributions["model"] == model]
        table = rows.pivot_table(
            index=["feature"], columns="method", values="attribution", sort=False
        ).reset_index()
        values = rows.drop_duplicates("feature").set_index("feature")
        value = (
            values["feature_value"]
            .astype(object)
            .where(values["feature_category"].isna(), values["feature_category"])
        )
        table.insert(1, "value", table["feature"].map(value))
        order = (
            table.drop(columns=["feature", "value"])
            .abs()
            .max(axis=1)
            .sort_values(ascending=False)
            .index
        )
        return table.loc[order].reset_index(drop=True)

    def totals(self, model: str) -> dict[str, float]:
        """score, reference_score, and the sum of attributions per method."""
        rows = self.attributions.loc[self.attributions["model"] == model]
        out = {
            "score": float(rows["score"].to_numpy()[0]),
            "reference_score": float(rows["reference_score"].to_numpy()[0]),
        }
        for method, group in rows.groupby("method", sort=True):
            out[f"sum_{method}"] = float(group["attribution"].sum())
        return out


def explain_tweet(
    workspace: Workspace,
    *,
    user: str | None = None,
    request: str | None = None,
    tweet: str | None = None,
    vs_tweet: str | None = None,
    reference: str = "request",
    models: tuple[str, str] = ("baseline", "deep"),
    settings: AttributionSettings = DEFAULT_SETTINGS,
    cache: AttributionCache | None = None,
) -> TweetExplanation:
    """Explain `tweet` (default: the tweet the two models disagree on most, ties by tweet id)
    in the request chosen as `load_side_by_side` does. With `vs_tweet` the reference is the pair.
    A model's rows are read from the workspace's attribution store when it holds them (as they
    were computed there, whatever `settings`); otherwise only the tweet is explained, against
    its whole request. With a `cache`, a repeated explanation is not recomputed. Raises
    NotFoundError for a tweet outside the request."""
    if vs_tweet is None and reference not in ("request", "global"):
        raise AttributionError(
            f"unknown reference {reference!r}; valid: request, global (or --vs-tweet for a pair)"
        )
    view = load_side_by_side(workspace, user=user, request=request, models=models)
    rows = view.rows
    tweets = set(rows[schema.TWEET_ID])
    if tweet is None:
        moves = rows.assign(move=rows["displacement"].abs()).sort_values(
            ["move", schema.TWEET_ID], ascending=[False, True]
        )
        tweet = str(moves[schema.TWEET_ID].iat[0])
    for name in (tweet, vs_tweet):
        if name is not None and name not in tweets:
            raise NotFoundError(
                f"tweet {name!r} is not a candidate of request {view.request_id} (viewer {view.user_id})"
            )
    used = "pair" if vs_tweet is not None else reference
    stores = open_attribution_stores(workspace.attribution_stores)
    frame = rows.drop(
        columns=["score_a", "score_b", "position_a", "position_b", "displacement"], errors="ignore"
    )
    background: pd.DataFrame | None = None
    parts = []
    sources: dict[str, str] = {}
    for model in models:
        store = stores.get(model)
        if store is not None:
            stored = store.rows(
                model=model, head=FINAL, reference=used, viewer=view.user_id,
                requests=[view.request_id], tweet=tweet, vs_tweet=vs_tweet,
            )  # fmt: skip
            if not stored.empty:
                parts.append(stored)
                sources[model] = store.label
                continue
        if used == "global" and background is None:
            background = background_sample(workspace, settings.background_size, settings.seed)
        ranker = workspace.ranker(model)
        result = attribute_frame(
            ranker,
            frame,
            methods=resolve_methods(ranker, "all"),
            reference=used,
            heads=[FINAL],
            settings=settings,
            background=background,
            pair=(tweet, vs_tweet) if vs_tweet is not None else None,
            tweets=[tweet],
            cache=cache,
        ).frame
        parts.append(result)
        sources[model] = "computed"
    return TweetExplanation(
        view=view,
        tweet=tweet,
        vs_tweet=vs_tweet,
        reference=used,
        attributions=pd.concat(parts, ignore_index=True),
        sources=sources,
    )
