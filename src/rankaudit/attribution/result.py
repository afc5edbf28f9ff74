"""The attribution result: one long, tidy table, with its wide and completeness views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.data import schema

# The long format's columns are defined with the store that reads them (below this package).
from rankaudit.store.query import COLUMNS

__all__ = ["COLUMNS", "AttributionResult", "explanation_frame"]
_KEYS = ["request_id", "user_id", "tweet_id", "vs_tweet_id", "model", "head", "method", "reference"]


def explanation_frame(
    group: Group,
    explanation: GroupExplanation,
    *,
    features: tuple[str, ...],
    model: str,
    method: str,
    reference: str,
) -> pd.DataFrame:
    """Flatten one group's explanation into long rows, feature order kept."""
    rows = group.rows
    n, k = len(rows), len(features)
    values = np.full((n, k), np.nan)
    categories = np.full((n, k), None, dtype=object)
    for j, name in enumerate(features):
        if name not in rows:
            continue  # a group of features (SHAP over groups) has no single value
        column = rows[name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            values[:, j] = column.to_numpy(dtype=np.float64)
        else:
            categories[:, j] = column.astype(str).to_numpy()
    parts = []
    for target, attributions in explanation.attributions.items():
        score = explanation.scores[target]
        reference_score = explanation.reference_scores[target]
        error = np.abs(attributions.sum(axis=1) - (score - reference_score))
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(
                score != reference_score, error / np.abs(score - reference_score), 0.0
            )
        parts.append(
            pd.DataFrame(
                {
                    "request_id": np.repeat(rows[schema.REQUEST_ID].to_numpy(dtype=object), k),
                    "user_id": np.repeat(rows[schema.USER_ID].to_numpy(dtype=object), k),
                    "tweet_id": np.repeat(rows[schema.TWEET_ID].to_numpy(dtype=object), k),
                    "vs_tweet_id": group.vs_tweet,
                    "model": model,
                    "head": target,
                    "method": method,
                    "reference": reference,
                    "feature": np.tile(np.array(features, dtype=object), n),
                    "feature_value": values.ravel(),
                    "feature_category": categories.ravel(),
                    "attribution": attributions.ravel(),
                    "score": np.repeat(score, k),
                    "reference_score": np.repeat(reference_score, k),
                    "completeness_error": np.repeat(error, k),
                    "completeness_relative": np.repeat(relative, k),
                    "converged": np.repeat(explanation.converged, k),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class AttributionResult:
    """Attributions in long form: one row per (request, tweet, model, head, method, reference,
    feature); see COLUMNS. `vs_tweet_id` is set for the pair reference only."""

    frame: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the long table."""
        return self.frame.copy()

    def to_wide(self) -> pd.DataFrame:
        """One row per (request, tweet, model, head, method, reference): score columns plus one
        attribution column per feature."""
        keys = [k for k in _KEYS if k in self.frame]
        frame = self.frame.assign(vs_tweet_id=self.frame["vs_tweet_id"].fillna(""))
        wide = frame.pivot_table(
            index=[*keys, "score", "reference_score", "completeness_error", "converged"],
            columns="feature",
            values="attribution",
            sort=False,
        )
        wide.columns = [str(c) for c in wide.columns]
        return wide.reset_index()

    def completeness(self) -> pd.DataFrame:
        """Per (model, method, reference, head): rows, max absolute and relative completeness
        error, and the share of rows that converged."""
        per_row = self.frame.drop_duplicates(
            ["request_id", "tweet_id", "vs_tweet_id", "model", "head", "method", "reference"]
        )
        grouped = per_row.groupby(["model", "method", "reference", "head"], sort=False)
        return grouped.agg(
            rows=("score", "size"),
            max_abs_error=("completeness_error", "max"),
            max_relative_error=("completeness_relative", "max"),
            converged=("converged", "mean"),
        ).reset_index()
