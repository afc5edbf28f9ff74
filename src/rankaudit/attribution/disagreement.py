"""Which features account for two rankers' disagreement on one request.

The quantity is the share of candidate pairs the two rankers order differently,
(1 - tau) / 2 with tau Kendall's tau between their strict orders (ties by tweet id); it is
attributed with the joint-masking game of `listwise`: a coalition masks the same features of
every candidate for both rankers. With every feature at the request reference both rankers
tie every candidate and agree (0), so the values sum to the observed discordant share (up to
float rounding): a feature with a large positive value is one whose own values make the
rankers disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.grouping import group_members
from rankaudit.attribution.listwise import list_game, strict_ranks
from rankaudit.attribution.rank import DEFAULT_RANK_SETTINGS, RankSettings
from rankaudit.compare.ranking import GroupIndex, kendall_tau_b
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines

__all__ = ["Disagreement", "explain_disagreement", "why_surprising"]


@dataclass(frozen=True)
class Disagreement:
    """`values`: one row per player, `player` and `discordance` (its share of the discordant
    pair fraction), largest first (ties by player name); `observed`: the discordant pair
    fraction of the two rankers on the request."""

    values: pd.DataFrame
    observed: float
    settings: RankSettings

    def top(self, n: int = 2) -> list[str]:
        """The `n` players with the largest positive values, largest first."""
        positive = self.values.loc[self.values["discordance"] > 0]
        return [str(p) for p in positive["player"].head(n)]

    def line(self, n: int = 2) -> str:
        """One line "disagreement 23% of pairs, mostly a (+12%), b (+5%)"."""
        shown = self.values.loc[self.values["discordance"] > 0].head(n)
        parts = [f"{r.player} ({r.discordance:+.0%})" for r in shown.itertuples(index=False)]
        head = f"disagreement {self.observed:.0%} of pairs"
        return head + (", mostly " + ", ".join(parts) if parts else "")

    def to_dict(self) -> dict[str, Any]:
        """Plain values: observed and one entry per player."""
        return {
            "observed": self.observed,
            "players": [
                {"player": str(r["player"]), "discordance": float(r["discordance"])}
                for r in self.values.to_dict("records")
            ],
        }


def explain_disagreement(
    ranker_a: Any,
    ranker_b: Any,
    rows: pd.DataFrame,
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    settings: RankSettings = DEFAULT_RANK_SETTINGS,
) -> Disagreement:
    """Attribute the discordant pair fraction of `ranker_a` and `ranker_b` on the request
    `rows` to the union of their features (or to `groups`)."""
    rows = rows.reset_index(drop=True)
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()

    def quantity(scores: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
        c, n = scores[0].shape
        index = GroupIndex.of(np.repeat(np.arange(c), n))
        tau = kendall_tau_b(
            index, -strict_ranks(scores[0], ids).ravel(), -strict_ranks(scores[1], ids).ravel()
        )
        return np.asarray((1.0 - tau) / 2.0, dtype=np.float64)[:, None]

    names, phi, _, full = list_game(
        [ranker_a, ranker_b], rows, quantity, groups=groups, settings=settings
    )
    values = pd.DataFrame({"player": list(names), "discordance": phi[:, 0]})
    order = np.lexsort((values["player"].to_numpy(), -values["discordance"].to_numpy()))
    return Disagreement(
        values=values.iloc[order].reset_index(drop=True), observed=float(full[0]), settings=settings
    )


def why_surprising(
    workspace: Any,
    requests: Sequence[str],
    *,
    models: tuple[str, str] = ("baseline", "deep"),
    by: str = "feature",
    top: int = 2,
    settings: RankSettings = DEFAULT_RANK_SETTINGS,
) -> dict[str, str]:
    """request id -> one "why surprising" line (`Disagreement.line`, the `top` features, or
    spec groups with `by="group"`, that make `models` disagree most on it) for each of
    `requests` of the workspace's log; requests the log lacks are left out."""
    rankers = [workspace.ranker(m) for m in models]
    frame = read_timelines(
        workspace.logs, workspace.spec, where=(schema.REQUEST_ID, list(requests))
    )
    union = tuple(dict.fromkeys(f for r in rankers for f in r.feature_names))
    groups = (group_members(union, workspace.spec) or None) if by == "group" else None
    out: dict[str, str] = {}
    for request, rows in frame.groupby(schema.REQUEST_ID, sort=False):
        result = explain_disagreement(
            rankers[0], rankers[1], rows, groups=groups, settings=settings
        )
        out[str(request)] = result.line(top)
    return {r: out[r] for r in requests if r in out}
