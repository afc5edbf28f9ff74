"""Which attributor explains which ranker: one table, errors that list the valid choices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankaudit.attribution.base import Attributor, targets_of
from rankaudit.attribution.settings import FINAL, METHODS, AttributionSettings
from rankaudit.errors import AttributionError

__all__ = ["applicable_methods", "make_attributor"]

_SERVED = ("logged", "chronological")
_DIFFERENTIABLE = ("torch", "linear", *_SERVED)


def applicable_methods(ranker: Any) -> tuple[str, ...]:
    """The methods that can explain `ranker` (IG needs gradients: not for trees)."""
    return tuple(m for m in METHODS if m != "ig" or ranker.kind in _DIFFERENTIABLE)


def _check_targets(ranker: Any, heads: Sequence[str] | None) -> tuple[str, ...]:
    valid = (*ranker.heads, FINAL)
    for head in heads or ():
        if head not in valid:
            raise AttributionError(
                f"unknown head {head!r} for model {ranker.name} ({ranker.kind}); valid: {', '.join(valid)}"
            )
    return targets_of(ranker, heads)


def make_attributor(
    ranker: Any,
    method: str,
    *,
    heads: Sequence[str] | None,
    settings: AttributionSettings,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> Attributor:
    """Return the attributor of `method` for `ranker`, explaining `heads` (default: every head
    and the final score). With `groups` (group -> member features), permutation SHAP plays the
    groups (members enter together: one Shapley value per group, cheaper and steadier with many
    features); the other methods explain features and take no groups."""
    if method not in METHODS:
        raise AttributionError(f"unknown method {method!r}; valid: {', '.join(METHODS)}, all")
    if method not in applicable_methods(ranker):
        raise AttributionError(
            f"method {method!r} needs a differentiable ranker and {ranker.name} ({ranker.kind}) is "
            "made of trees (piecewise constant): use --method shap"
        )
    targets = _check_targets(ranker, heads)
    kind = ranker.kind
    if groups is not None and (method != "shap" or kind not in ("torch", "linear")):
        raise AttributionError(
            f"SHAP over feature groups is permutation SHAP, for torch and linear models; "
            f"{ranker.name} ({kind}) with {method!r} explains features: sum them by "
            "group instead (explain --by group)"
        )
    if kind in _SERVED:
        from rankaudit.attribution.served import ServedAttributor

        return ServedAttributor(ranker, method)
    if kind == "linear" and groups is None and (method == "ig" or ranker.link == "identity"):
        from rankaudit.attribution.linear import LinearAttributor

        return LinearAttributor(ranker, method)
    if kind == "torch":
        if method == "ig":
            from rankaudit.attribution.ig import TorchIntegratedGradients

            return TorchIntegratedGradients(ranker, targets, settings)
        from rankaudit.attribution.permutation import TorchPermutationShap

        return TorchPermutationShap(ranker, targets, settings, groups=groups)
    if kind in ("lightgbm", "xgboost"):
        from rankaudit.attribution.trees import TreeShapAttributor

        return TreeShapAttributor(ranker, targets)
    from rankaudit.attribution.permutation import PermutationShap

    return PermutationShap(ranker, targets, settings, groups=groups)
