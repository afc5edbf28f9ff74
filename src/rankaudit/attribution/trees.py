"""Tree SHAP (the shap package) for LightGBM and XGBoost rankers, in probability space.

Interventional Tree SHAP with the group's baselines as background: exact Shapley values of
f(x) - mean f(baselines), computed per head booster; the final score's attributions are the
weighted sum of the heads' (Shapley values are linear in the explained function).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL

__all__ = ["TreeShapAttributor"]


class TreeShapAttributor:
    method = "shap"

    def __init__(self, ranker: Any, targets: tuple[str, ...]) -> None:
        self.ranker = ranker
        self.features = tuple(ranker.feature_names)
        self.targets = targets
        heads = ranker.heads or (FINAL,)
        self._models = dict(zip(heads, ranker.models, strict=True))
        self._weights = dict(ranker.head_weights) if ranker.heads else {FINAL: 1.0}

    def _shap(self, model: Any, x: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, float]:
        import shap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.TreeExplainer(
                model.booster,
                data=background,
                feature_perturbation="interventional",
                model_output="probability",
            )
            values = explainer.shap_values(x, check_additivity=False)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:  # some versions return one matrix per class
            values = values[..., -1]
        return values, float(np.ravel(explainer.expected_value)[-1])

    def explain(self, group: Group) -> GroupExplanation:
        per_head: dict[str, np.ndarray] = {}
        for head, model in self._models.items():
            x = model.encode(group.rows)
            background = model.encode(group.baselines)
            per_head[head], _ = self._shap(model, x, background)
        scores = {
            h: np.asarray(m.predict(m.encode(group.rows)), dtype=np.float64)
            for h, m in self._models.items()
        }
        references = {
            h: np.full(len(group.rows), float(np.mean(m.predict(m.encode(group.baselines)))))
            for h, m in self._models.items()
        }
        attributions: dict[str, np.ndarray] = {}
        out_scores: dict[str, np.ndarray] = {}
        out_refs: dict[str, np.ndarray] = {}
        for target in self.targets:
            if target == FINAL:
                attributions[target] = sum(self._weights[h] * per_head[h] for h in per_head)  # type: ignore[assignment]
                out_scores[target] = np.asarray(self.ranker.score(group.rows), dtype=np.float64)
                out_refs[target] = np.full(
                    len(group.rows), float(np.mean(self.ranker.score(group.baselines)))
                )
            else:
                attributions[target] = per_head[target]
                out_scores[target] = scores[target]
                out_refs[target] = references[target]
        return GroupExplanation(
            attributions=attributions,
            scores=out_scores,
            reference_scores=out_refs,
            converged=np.ones(len(group.rows), dtype=bool),
        )
