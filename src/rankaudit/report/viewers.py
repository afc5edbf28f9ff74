"""One selected request of an audit report: both orderings, the request-reference attributions
of every candidate, the biggest movers explained pairwise and by rank, and the "why surprising"
line (`audit_viewer`); `gather` collects one per selected request.
"""

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from rankaudit.attribution import (
    FINAL,
    AttributionCache,
    AttributionSettings,
    attribute_frame,
    resolve_methods,
)
from rankaudit.attribution.disagreement import Disagreement, explain_disagreement
from rankaudit.attribution.rank import RankExplanation, RankSettings, explain_rank
from rankaudit.compare import (
    RequestComparison,
)
from rankaudit.compare.request import model_rows
from rankaudit.data import schema
from rankaudit.explain import TweetExplanation
from rankaudit.report.selection import SelectedRequest
from rankaudit.report.settings import ReportSettings
from rankaudit.store.query import AttributionStore, open_attribution_stores
from rankaudit.workspace import Workspace

__all__ = [
    "PairExplanation",
    "ViewerAudit",
    "audit_viewer",
    "biggest_movers",
    "pair_partner",
    "report_stores",
]


@dataclass(frozen=True, eq=False)
class PairExplanation:
    """Why `tweet` sits above or below `vs_tweet` under both rankers: `explanation` holds the
    pair-reference attributions of the final score, every method, both models; `rank` the
    audited ranker's Shapley values of the tweet's rank, top-k membership and exposure
    (`explain_rank`, request reference; None when that ranker reads no feature)."""

    tweet: str
    vs_tweet: str
    explanation: TweetExplanation
    rank: RankExplanation | None = None


@dataclass(frozen=True, eq=False)
class ViewerAudit:
    """One selected request: both orderings, the request-reference attributions of every
    candidate's final score (both models, every method; long rows of
    `rankaudit.attribution.COLUMNS`), the biggest movers explained pairwise, and which
    features make the two rankers disagree on the request (`explain_disagreement`, the
    "why surprising" line; None when neither ranker reads a feature)."""

    selected: SelectedRequest
    comparison: RequestComparison
    attributions: pd.DataFrame
    movers: tuple[PairExplanation, ...]
    disagreement: Disagreement | None = None


def biggest_movers(comparison: RequestComparison, n: int) -> list[str]:
    """The `n` tweets with the largest |displacement| (ties by tweet id); unmoved tweets never."""
    rows = comparison.rows
    moved = rows.loc[rows["displacement"] != 0]
    ordered = moved.assign(_move=moved["displacement"].abs()).sort_values(
        ["_move", schema.TWEET_ID], ascending=[False, True], kind="stable"
    )
    return [str(t) for t in ordered[schema.TWEET_ID].head(n)]


def pair_partner(comparison: RequestComparison, tweet: str) -> str | None:
    """The tweet `tweet` changed places with, nearest to where ranker b put it: among the
    tweets whose order relative to `tweet` differs between the two rankers, the one closest
    to `tweet`'s position under b (ties by tweet id). None when no order flipped."""
    rows = comparison.rows
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()
    here = int(np.flatnonzero(ids == tweet)[0])
    a = rows["position_a"].to_numpy(dtype=np.int64)
    b = rows["position_b"].to_numpy(dtype=np.int64)
    flipped = np.sign(a - a[here]) != np.sign(b - b[here])
    flipped[here] = False
    if not flipped.any():
        return None
    candidates = pd.DataFrame(
        {"tweet": ids[flipped], "distance": np.abs(b[flipped] - b[here])}
    ).sort_values(["distance", "tweet"], kind="stable")
    return str(candidates["tweet"].iat[0])


def report_stores(workspace: Workspace, settings: ReportSettings) -> dict[str, AttributionStore]:
    """The workspace's attribution stores of the report's models that were computed with the
    report's attribution settings: their rows are the numbers the report would compute."""
    wanted = json.loads(json.dumps(asdict(settings.attribution)))
    return {
        model: store
        for model, store in open_attribution_stores(workspace.attribution_stores).items()
        if model in settings.models and store.settings == wanted
    }


def _stored_rows(
    store: AttributionStore,
    comparison: RequestComparison,
    methods: tuple[str, ...],
    reference: str,
    pair: tuple[str, str] | None,
) -> pd.DataFrame | None:
    """The store's rows of the request (or the pair), when it holds all of them."""
    rows = store.rows(
        model=store.model, head=FINAL, reference=reference, viewer=comparison.user_id,
        requests=[comparison.request_id], tweet=pair[0] if pair else None,
        vs_tweet=pair[1] if pair else None,
    )  # fmt: skip
    tweets = {pair[0]} if pair else set(comparison.rows[schema.TWEET_ID].astype(str))
    held = set(zip(rows["method"], rows[schema.TWEET_ID].astype(str), strict=True))
    if held != {(m, t) for m in methods for t in tweets}:
        return None
    return rows.reset_index(drop=True)


def _explain_request(
    workspace: Workspace,
    comparison: RequestComparison,
    models: tuple[str, str],
    settings: AttributionSettings,
    cache: AttributionCache | None,
    *,
    reference: str = "request",
    pair: tuple[str, str] | None = None,
    stores: Mapping[str, AttributionStore] | None = None,
) -> pd.DataFrame:
    frame = model_rows(comparison.rows)
    parts = []
    for model in models:
        ranker = workspace.ranker(model)
        methods = resolve_methods(ranker, "all")
        store = (stores or {}).get(model)
        if store is not None:
            stored = _stored_rows(store, comparison, methods, reference, pair)
            if stored is not None:
                parts.append(stored)
                continue
        parts.append(
            attribute_frame(
                ranker,
                frame,
                methods=methods,
                reference=reference,
                heads=[FINAL],
                settings=settings,
                pair=pair,
                cache=cache,
            ).frame
        )
    return pd.concat(parts, ignore_index=True)


def _explain_mover_rank(
    workspace: Workspace,
    comparison: RequestComparison,
    model: str,
    tweet: str,
    settings: RankSettings,
) -> RankExplanation | None:
    """`explain_rank` of `tweet` under `model` on the request's rows, as
    `rankaudit explain --quantity rank` computes it (request reference, players: features)."""
    ranker = workspace.ranker(model)
    if not ranker.feature_names:
        return None
    frame = model_rows(comparison.rows)
    return explain_rank(ranker, frame, tweet, settings=settings)


def _explain_disagreement(
    workspace: Workspace,
    comparison: RequestComparison,
    models: tuple[str, str],
    settings: RankSettings,
) -> Disagreement | None:
    """`explain_disagreement` of the two rankers on the request's rows (players: features)."""
    rankers = [workspace.ranker(m) for m in models]
    if not any(r.feature_names for r in rankers):
        return None
    frame = model_rows(comparison.rows)
    return explain_disagreement(rankers[0], rankers[1], frame, settings=settings)


def audit_viewer(
    workspace: Workspace,
    selected: SelectedRequest,
    comparison: RequestComparison,
    settings: ReportSettings,
    cache: AttributionCache | None,
    stores: Mapping[str, AttributionStore],
) -> ViewerAudit:
    attributions = _explain_request(
        workspace, comparison, settings.models, settings.attribution, cache, stores=stores
    )
    movers = []
    for tweet in biggest_movers(comparison, settings.movers):
        partner = pair_partner(comparison, tweet)
        if partner is None:
            continue
        rows = _explain_request(
            workspace,
            comparison,
            settings.models,
            settings.attribution,
            cache,
            reference="pair",
            pair=(tweet, partner),
            stores=stores,
        )
        movers.append(
            PairExplanation(
                tweet=tweet,
                vs_tweet=partner,
                explanation=TweetExplanation(
                    view=comparison,
                    tweet=tweet,
                    vs_tweet=partner,
                    reference="pair",
                    attributions=rows,
                ),
                rank=_explain_mover_rank(
                    workspace, comparison, settings.models[1], tweet, settings.rank
                ),
            )
        )
    return ViewerAudit(
        selected=selected,
        comparison=comparison,
        attributions=attributions,
        movers=tuple(movers),
        disagreement=_explain_disagreement(workspace, comparison, settings.models, settings.rank),
    )
