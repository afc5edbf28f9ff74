"""Tree SHAP (the shap package) for LightGBM and XGBoost rankers, in the ranker's score space.

Interventional Tree SHAP with the group's baselines as background: exact Shapley values of
f(x) - mean f(baselines), computed per head booster in the space the ranker scores in
(`ranker.output`: the raw margin of a learning-to-rank or regression objective, or the
probability of a binary one); the final score's attributions are the weighted sum of the
heads' (Shapley values are linear in the explained function, and the final score is the
weighted sum of the heads in that same space).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL
from rankaudit.errors import AttributionError

__all__ = ["TreeShapAttributor"]

# shap computes f in float64 while XGBoost predicts in float32: its mean over the baselines
# may differ from the booster's by float32 rounding of the largest prediction, never by more.
_REFERENCE_TOLERANCE = 1e-5


def _booster_for_shap(model: Any, output: str) -> Any:
    """Return the booster object shap should read to explain `output`."""
    if output == "probability" and model.objective == "cross_entropy":
        # shap finds a LightGBM booster's logistic link by the objective name "binary" only;
        # cross_entropy predicts sigmoid(margin) as well. A copy, so the ranker's booster keeps
        # its parameters.
        booster = copy.copy(model.booster)
        booster.params = {**booster.params, "objective": "binary"}
        return booster
    return model.booster


class TreeShapAttributor:
    """Interventional Tree SHAP of every head booster and of the final score, in the ranker's
    `output` space; scores and reference scores are reported in that space too."""

    method = "shap"

    def __init__(self, ranker: Any, targets: tuple[str, ...]) -> None:
        self.ranker = ranker
        self.features = tuple(ranker.feature_names)
        self.targets = targets
        self.output: str = ranker.output
        heads = ranker.heads or (FINAL,)
        self._models = dict(zip(heads, ranker.models, strict=True))
        self._weights = dict(ranker.head_weights) if ranker.heads else {FINAL: 1.0}
        if FINAL not in targets:  # the final score needs every head; a head only itself
            self._models = {h: m for h, m in self._models.items() if h in targets}
        self._boosters = {h: _booster_for_shap(m, self.output) for h, m in self._models.items()}

    def _shap(self, head: str, x: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, float]:
        """Return the Shapley values [rows, features] of `head` and shap's reference value."""
        import shap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.TreeExplainer(
                self._boosters[head],
                data=background,
                feature_perturbation="interventional",
                model_output=self.output,
            )
            values = explainer.shap_values(x, check_additivity=False)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:  # some versions return one matrix per class
            values = values[..., -1]
        return values, float(np.ravel(explainer.expected_value)[-1])

    def _check_reference(self, head: str, explained: float, predictions: np.ndarray) -> None:
        # Guards against shap explaining another function than the one the ranker scores with
        # (e.g. a link shap does not know), which would make the attributions silently wrong.
        reference = float(np.mean(predictions))
        scale = max(1.0, float(np.max(np.abs(predictions))))
        if not abs(explained - reference) <= _REFERENCE_TOLERANCE * scale:
            model = self._models[head]
            raise AttributionError(
                f"tree SHAP of {self.ranker.name} ({self.ranker.kind}), {model.path.name}: shap's "
                f"{self.output} space for objective {model.objective!r} does not match the "
                f"model's scores (mean over the baselines {explained:.9g} vs {reference:.9g}); "
                "set output = 'raw' for this model"
            )

    def explain(self, group: Group) -> GroupExplanation:
        """Return, per target, the Shapley values [rows, features], the scores and the reference
        scores (the mean score over the baselines), all in the ranker's `output` space."""
        n = len(group.rows)
        attributions: dict[str, np.ndarray] = {}
        scores: dict[str, np.ndarray] = {}
        references: dict[str, np.ndarray] = {}
        for head, model in self._models.items():
            x = model.encode(group.rows)
            background = model.encode(group.baselines)
            attributions[head], explained = self._shap(head, x, background)
            predictions = model.predict(background)
            self._check_reference(head, explained, predictions)
            scores[head] = model.predict(x)
            references[head] = np.full(n, float(np.mean(predictions)))
        out_attributions: dict[str, np.ndarray] = {}
        out_scores: dict[str, np.ndarray] = {}
        out_refs: dict[str, np.ndarray] = {}
        for target in self.targets:
            if target == FINAL:
                total = np.zeros((n, len(self.features)), dtype=np.float64)
                for head, values in attributions.items():
                    total += self._weights[head] * values
                out_attributions[target] = total
                out_scores[target] = np.asarray(self.ranker.score(group.rows), dtype=np.float64)
                out_refs[target] = np.full(n, float(np.mean(self.ranker.score(group.baselines))))
            else:
                out_attributions[target] = attributions[target]
                out_scores[target] = scores[target]
                out_refs[target] = references[target]
        return GroupExplanation(
            attributions=out_attributions,
            scores=out_scores,
            reference_scores=out_refs,
            converged=np.ones(n, dtype=bool),
        )
