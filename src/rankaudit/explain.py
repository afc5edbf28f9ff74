"""`rankaudit explain`: one request under two rankers, and why a tweet sits where it does.

For the chosen tweet each model's final score is attributed against the request's candidates
(or a global background), or against a second tweet of the same request (`vs_tweet`: why is T
above or below T2), with every method that applies to the model. When the workspace names an
attribution store (`attributions` in rankaudit.toml) that holds a model's rows of the tweet, they
are read from the viewer's partition instead of computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from rankaudit.attribution.grouping import (
    DEFAULT_TOP,
    By,
    check_by,
    feature_groups,
    group_contributions,
    rank_contributions,
    top_contributions,
)
from rankaudit.compare.request import RequestComparison, model_rows
from rankaudit.data import schema
from rankaudit.errors import AttributionError, NotFoundError
from rankaudit.store.query import open_attribution_stores
from rankaudit.timeline import load_side_by_side
from rankaudit.workspace import Workspace

if TYPE_CHECKING:
    from rankaudit.attribution.rank import RankSettings

__all__ = ["RankLevelExplanation", "TweetExplanation", "explain_ranks", "explain_tweet"]


#: The order in which methods are listed.
_METHODS = ("shap", "ig")


def _number(value: object) -> Any:
    """A JSON-safe number: NaN and infinities become None."""
    if value is None:
        return None
    as_float = float(value)  # type: ignore[arg-type]
    return as_float if math.isfinite(as_float) else None


@dataclass(frozen=True)
class TweetExplanation:
    """`attributions`: long attribution rows (final score only) of `tweet` for both models,
    every applicable method; `view`: the request side by side; `sources`: where each model's
    rows come from, "computed" or "store (<folder>)"; `groups`: feature -> feature group (the
    workspace spec's), for group-level views (features it lacks are ungrouped)."""

    view: RequestComparison
    tweet: str
    vs_tweet: str | None
    reference: str
    attributions: pd.DataFrame
    sources: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)

    def methods(self, model: str) -> list[str]:
        """The methods with attributions for `model`: shap, ig, then any other, by name."""
        present = set(self.attributions.loc[self.attributions["model"] == model, "method"])
        return [m for m in _METHODS if m in present] + sorted(
            str(m) for m in present if m not in _METHODS
        )

    def contributions(self, model: str) -> pd.DataFrame:
        """One row per feature: value and each method's attribution; largest |attribution|
        (over the methods) first, ties by feature name."""
        rows = self.attributions.loc[self.attributions["model"] == model]
        table = rows.pivot_table(
            index=["feature"], columns="method", values="attribution", sort=False
        ).reset_index()
        table.columns.name = None
        values = rows.drop_duplicates("feature").set_index("feature")
        value = (
            values["feature_value"]
            .astype(object)
            .where(values["feature_category"].isna(), values["feature_category"])
        )
        table.insert(1, "value", table["feature"].map(value))
        methods = self.methods(model)
        return rank_contributions(table[["feature", "value", *methods]], methods)

    def _groups(self, features: pd.Series) -> dict[str, str]:
        return {**feature_groups(None, features.astype(str)), **self.groups}

    def group_contributions(self, model: str) -> pd.DataFrame:
        """One row per feature group (`groups`): group, members, features (their names) and
        each method's sum over the members; largest |sum| first, ties by group name. Per
        method the rows add up to the sum of all attributions."""
        table = self.contributions(model)
        return group_contributions(table, self._groups(table["feature"]), self.methods(model))

    def top_contributions(
        self, model: str, *, top: int = DEFAULT_TOP, by: By = "feature"
    ) -> pd.DataFrame:
        """The `top` largest features (or groups, `by="group"`) and one row summing the rest
        ("all other features (K)"; `other` is True there): per method the rows add up to the
        sum of all attributions. See `rankaudit.attribution.grouping.top_contributions`."""
        by = check_by(by, "top_contributions")
        methods = self.methods(model)
        if by == "group":
            return top_contributions(
                self.group_contributions(model), methods, top=top, name="group"
            )
        return top_contributions(self.contributions(model), methods, top=top)

    def totals(self, model: str) -> dict[str, float]:
        """score, reference_score, and the sum of attributions per method."""
        rows = self.attributions.loc[self.attributions["model"] == model]
        out = {
            "score": float(rows["score"].to_numpy()[0]),
            "reference_score": float(rows["reference_score"].to_numpy()[0]),
        }
        for method, group in rows.groupby("method", sort=True):
            out[f"sum_{method}"] = math.fsum(group["attribution"].to_numpy(dtype=float))
        return out

    def to_dict(self, *, by: By = "feature") -> dict[str, Any]:
        """The explanation as plain values, every feature (or every group, `by="group"`) of
        each model, ordered as `contributions` (or `group_contributions`); attributions in
        the explained output's units, non-finite numbers as None."""
        by = check_by(by, "TweetExplanation.to_dict")
        models: dict[str, Any] = {}
        for model in dict.fromkeys(self.attributions["model"].astype(str)):
            totals = self.totals(model)
            methods = self.methods(model)
            entry: dict[str, Any] = {
                "source": self.sources.get(model),
                "score": totals["score"],
                "reference_score": totals["reference_score"],
                "gap": totals["score"] - totals["reference_score"],
                "sums": {m: totals[f"sum_{m}"] for m in methods},
            }
            if by == "group":
                entry["groups"] = [
                    {
                        "group": str(r["group"]),
                        "members": int(r["members"]),
                        "features": list(r["features"]),
                        **{m: _number(r[m]) for m in methods},
                    }
                    for r in self.group_contributions(model).to_dict("records")
                ]
            else:
                table = self.contributions(model)
                groups = self._groups(table["feature"])
                entry["features"] = [
                    {
                        "feature": str(r["feature"]),
                        "group": groups[str(r["feature"])],
                        "value": r["value"] if isinstance(r["value"], str) else _number(r["value"]),
                        **{m: _number(r[m]) for m in methods},
                    }
                    for r in table.to_dict("records")
                ]
            models[model] = entry
        return {
            "request_id": self.view.request_id,
            "user_id": self.view.user_id,
            "tweet_id": self.tweet,
            "vs_tweet_id": self.vs_tweet,
            "reference": self.reference,
            "by": by,
            "models": models,
        }


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
    frame = model_rows(rows)
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
    attributions = pd.concat(parts, ignore_index=True)
    return TweetExplanation(
        view=view,
        tweet=tweet,
        vs_tweet=vs_tweet,
        reference=used,
        attributions=attributions,
        sources=sources,
        groups=feature_groups(workspace.spec, attributions["feature"].astype(str)),
    )


# -- rank-level explanations (`explain --quantity rank|topk|exposure|listwise`) -------------

#: The quantities of `explain --quantity` besides today's `score`.
RANK_LEVEL_QUANTITIES = ("rank", "topk", "exposure", "listwise")
#: Training-window rows whose mean (numeric) and mode (categorical) is the `global` reference
#: of rank explanations: a single reference row, so a larger sample than SHAP's background.
GLOBAL_REFERENCE_ROWS = 256


@dataclass(frozen=True)
class RankLevelExplanation:
    """Rank-level explanations of one request under two models.

    `quantity` rank, topk or exposure: `results` holds each model's `RankExplanation` of
    `tweet` (all three quantities; `quantity` is the one shown first); listwise: each model's
    `ListwiseExplanation` (Kendall tau to its own order, NDCG@k when the request has a relevant
    candidate, RBO to the other model's order) and `disagreement` of the two models."""

    view: RequestComparison
    tweet: str | None
    quantity: str
    by: str
    results: Mapping[str, Any]
    disagreement: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values: request_id, user_id, tweet_id, quantity, by, models (each model's
        explanation as its own `to_dict`) and, for listwise, disagreement."""
        out: dict[str, Any] = {
            "request_id": self.view.request_id,
            "user_id": self.view.user_id,
            "tweet_id": self.tweet,
            "quantity": self.quantity,
            "by": self.by,
            "models": {m: r.to_dict() for m, r in self.results.items()},
        }
        if self.disagreement is not None:
            out["disagreement"] = self.disagreement.to_dict()
        return out


def explain_ranks(
    workspace: Workspace,
    *,
    quantity: str,
    user: str | None = None,
    request: str | None = None,
    tweet: str | None = None,
    by: By = "feature",
    models: tuple[str, str] = ("baseline", "deep"),
    settings: RankSettings | None = None,
    reference: str = "request",
) -> RankLevelExplanation:
    """Explain `tweet`'s rank, top-k membership or exposure (default tweet: the biggest mover,
    as `explain_tweet`), or the whole request's order (`listwise`), for both `models`, in the
    request chosen as `load_side_by_side` does; players are features or, `by="group"`, the
    spec's feature groups. `settings`: a `RankSettings` (default: its defaults). `reference`:
    `request` (the request's candidates) or, for the rank quantities, `global` (the same
    statistics over a seeded background sample of the training window). Raises
    AttributionError for an unknown quantity or reference, NotFoundError for a tweet outside
    the request."""
    from rankaudit.attribution.disagreement import explain_disagreement
    from rankaudit.attribution.grouping import group_members
    from rankaudit.attribution.listwise import explain_listwise
    from rankaudit.attribution.rank import RankSettings, explain_rank

    if quantity not in RANK_LEVEL_QUANTITIES:
        raise AttributionError(
            f"unknown quantity {quantity!r}; valid: score, {', '.join(RANK_LEVEL_QUANTITIES)}"
        )
    by = check_by(by, "explain_ranks")
    if reference not in ("request", "global") or (reference == "global" and quantity == "listwise"):
        raise AttributionError(
            f"unknown reference {reference!r} for quantity {quantity!r}; valid: request"
            + ("" if quantity == "listwise" else ", global")
        )
    settings = RankSettings() if settings is None else settings
    view = load_side_by_side(workspace, user=user, request=request, models=models)
    rows = view.rows.reset_index(drop=True)
    frame = model_rows(rows)
    rankers = {m: workspace.ranker(m) for m in models}

    def groups(features: tuple[str, ...]) -> dict[str, tuple[str, ...]] | None:
        return (group_members(features, workspace.spec) or None) if by == "group" else None

    results: dict[str, Any] = {}
    if quantity == "listwise":
        relevance = rows["relevance"].to_numpy(dtype=float) if "relevance" in rows else None
        asked = ("kendall", "ndcg", "rbo") if relevance is not None and (relevance > 0).any() else ("kendall", "rbo")  # fmt: skip
        for model, other in (models, models[::-1]):
            ranker = rankers[model]
            results[model] = explain_listwise(
                ranker, frame, quantities=asked, relevance=relevance,
                other_scores=rankers[other].score(frame),
                groups=groups(tuple(ranker.feature_names)), settings=settings,
            )  # fmt: skip
        union = tuple(dict.fromkeys(f for r in rankers.values() for f in r.feature_names))
        disagreement = explain_disagreement(
            rankers[models[0]], rankers[models[1]], frame, groups=groups(union), settings=settings
        )
        return RankLevelExplanation(view, None, quantity, by, results, disagreement)
    if tweet is None:
        moves = rows.assign(move=rows["displacement"].abs()).sort_values(
            ["move", schema.TWEET_ID], ascending=[False, True]
        )
        tweet = str(moves[schema.TWEET_ID].iat[0])
    if tweet not in set(rows[schema.TWEET_ID].astype(str)):
        raise NotFoundError(
            f"tweet {tweet!r} is not a candidate of request {view.request_id} (viewer {view.user_id})"
        )
    background = (
        background_sample(workspace, GLOBAL_REFERENCE_ROWS, settings.seed)
        if reference == "global"
        else None
    )
    for model, ranker in rankers.items():
        results[model] = explain_rank(
            ranker, frame, tweet, groups=groups(tuple(ranker.feature_names)), settings=settings,
            reference=background,
        )  # fmt: skip
    return RankLevelExplanation(view, tweet, quantity, by, results)
