"""A viewer's timeline as the app shows it: one request under two rankers, tweet by tweet."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rankaudit.compare.request import RequestComparison
from rankaudit.data import schema
from rankaudit.errors import ParameterError

__all__ = ["TWEET_COLUMNS", "TimelineView"]

#: Columns of `TimelineView.tweets()` before the per-head probability columns `p_<head>`.
TWEET_COLUMNS = (
    "position_b",
    "position_a",
    "displacement",
    schema.TWEET_ID,
    schema.AUTHOR_ID,
    "text",
    "in_network",
    "engaged",
    "negative",
    "score_a",
    "score_b",
)


@dataclass(frozen=True, eq=False)
class TimelineView:
    """One request of a viewer ordered by rankers a and b (`comparison.models`), with the
    viewer's other requests in `comparison.viewer_requests`."""

    comparison: RequestComparison

    @property
    def models(self) -> tuple[str, str]:
        return self.comparison.models

    @property
    def request_id(self) -> str:
        return self.comparison.request_id

    @property
    def user_id(self) -> str:
        return self.comparison.user_id

    def side(self, model: str) -> int:
        """0 for ranker a, 1 for ranker b; ParameterError for another model."""
        if model not in self.models:
            raise ParameterError(
                f"The 'model' parameter in the URL must be one of {', '.join(self.models)}. "
                f"Got {model!r} instead."
            )
        return self.models.index(model)

    def positions(self, model: str) -> pd.Series:
        """1-based position of every candidate under `model`, indexed by tweet id."""
        column = "position_a" if self.side(model) == 0 else "position_b"
        rows = self.comparison.rows
        return pd.Series(rows[column].to_numpy(), index=rows[schema.TWEET_ID].astype(str))

    def neighbour(self, tweet: str, model: str) -> str | None:
        """The tweet right below `tweet` in `model`'s ordering; the one right above for the
        last tweet; None for a one-tweet request."""
        positions = self.positions(model)
        here = int(positions[str(tweet)])
        by_position = pd.Series(positions.index, index=positions.to_numpy())
        for candidate in (here + 1, here - 1):
            if candidate in by_position.index:
                return str(by_position[candidate])
        return None

    def tweets(self, model: str | None = None) -> pd.DataFrame:
        """One row per candidate by ranker b's position: TWEET_COLUMNS, then `p_<head>`, the
        head probabilities of `model` (default: ranker b; none for a ranker without heads).

        `engaged` names the heads the viewer engaged with (comma-separated, '' for none),
        `negative` flags a negative-weight head, `in_network` is the spec's `in_network` flag
        (None when the log has no such column), `text` the tweet text ('' without one)."""
        rows = self.comparison.rows
        heads = list(self.comparison.heads)
        labels = [h for h in heads if schema.label_column(h) in rows]
        hits = (
            np.column_stack([rows[schema.label_column(h)].to_numpy() > 0 for h in labels])
            if labels
            else np.zeros((len(rows), 0), dtype=bool)
        )
        table = pd.DataFrame(
            {
                "position_b": rows["position_b"].to_numpy(),
                "position_a": rows["position_a"].to_numpy(),
                "displacement": rows["displacement"].to_numpy(),
                schema.TWEET_ID: rows[schema.TWEET_ID].astype(str).to_numpy(),
                schema.AUTHOR_ID: rows[schema.AUTHOR_ID].astype(str).to_numpy(),
                "text": (
                    rows[schema.TWEET_TEXT].fillna("").astype(str).to_numpy()
                    if schema.TWEET_TEXT in rows
                    else ""
                ),
                "in_network": (
                    (rows["in_network"].to_numpy() > 0).astype(object)
                    if "in_network" in rows
                    else None
                ),
                "engaged": [
                    ", ".join(h for h, hit in zip(labels, row, strict=True) if hit) for row in hits
                ],
                "negative": rows["negative"].to_numpy(dtype=bool),
                "score_a": rows["score_a"].to_numpy(dtype=np.float64),
                "score_b": rows["score_b"].to_numpy(dtype=np.float64),
            }
        )
        probabilities = self.comparison.probabilities[self.side(model or self.models[1])]
        if probabilities is not None:
            for head in probabilities.columns:
                table[f"p_{head}"] = probabilities[head].to_numpy(dtype=np.float64)
        return table
