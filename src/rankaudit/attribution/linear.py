"""Exact attributions of linear rankers: SHAP and IG coincide with w * (x - mean(baselines))."""

from __future__ import annotations

from typing import Any

import numpy as np

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL

__all__ = ["LinearAttributor"]


class LinearAttributor:
    """Identity link: attr_k = w_k * (x_k - mean_b b_k) for both methods (exact Shapley values
    of a linear function, and exact IG). Logistic link, IG only: along the straight path the
    gradient is sigmoid'(z) * w, whose integral gives attr_k = w_k (x_k - b_k) *
    (sigmoid(z_x) - sigmoid(z_b)) / (z_x - z_b), averaged over baselines (exact, no steps)."""

    def __init__(self, ranker: Any, method: str) -> None:
        self.ranker = ranker
        self.method = method
        self.features = tuple(ranker.feature_names)
        self.targets: tuple[str, ...] = (FINAL,)
        self.weights = np.asarray(ranker.coefficients, dtype=np.float64)

    def explain(self, group: Group) -> GroupExplanation:
        x = group.rows[list(self.features)].to_numpy(dtype=np.float64)
        b = group.baselines[list(self.features)].to_numpy(dtype=np.float64)
        scores = np.asarray(self.ranker.score(group.rows), dtype=np.float64)
        base_scores = np.asarray(self.ranker.score(group.baselines), dtype=np.float64)
        if self.ranker.link == "identity":
            attributions = self.weights * (x - b.mean(axis=0))
        else:
            z_x = self.ranker.intercept + x @ self.weights
            z_b = self.ranker.intercept + b @ self.weights
            dz = z_x[:, None] - z_b[None, :]
            dp = scores[:, None] - base_scores[None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(
                    np.abs(dz) > 1e-12, dp / dz, scores[:, None] * (1 - scores[:, None])
                )
            diff = x[:, None, :] - b[None, :, :]
            attributions = (self.weights * diff * ratio[:, :, None]).mean(axis=1)
        reference = np.full(len(x), base_scores.mean())
        return GroupExplanation(
            attributions={FINAL: attributions},
            scores={FINAL: scores},
            reference_scores={FINAL: reference},
            converged=np.ones(len(x), dtype=bool),
        )
