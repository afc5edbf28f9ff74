"""Global feature views: importance of both rankers for one method, head and reference, and
the attributions behind it, over a seeded sample of whole requests (`rankaudit.importance`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from rankaudit.attribution import FINAL, resolve_methods
from rankaudit.errors import ParameterError
from rankaudit.importance import importance_table
from rankaudit.views.query import FeaturesQuery
from rankaudit.workspace import Workspace

__all__ = ["FeaturesView", "build_features"]

#: (model, method, reference, head) -> long attribution rows of the sample.
Attributed = Callable[[str, str, str, str], pd.DataFrame]


@dataclass(frozen=True, eq=False)
class FeaturesView:
    """`query` resolved (model and feature filled in). `importance`: importance_table rows of
    every ranker the method applies to; `attributions`: the long rows of `query.model` and
    `query.method` behind it; `agreement`: that model's rows of both methods (None when only
    one applies); `missing`: ranker -> why it has no importance for this method;
    `requests`, `rows`: the size of the sample."""

    query: FeaturesQuery
    models: tuple[str, str]
    importance: pd.DataFrame
    attributions: pd.DataFrame
    agreement: pd.DataFrame | None
    missing: Mapping[str, str]
    requests: int
    rows: int
    source: str

    @property
    def features(self) -> list[str]:
        """The features of `query.model`, most important first."""
        rows = self.importance.loc[self.importance["model"] == self.query.model]
        return rows.sort_values("rank")["feature"].tolist()


def build_features(
    workspace: Workspace,
    models: tuple[str, str],
    query: FeaturesQuery,
    *,
    attributed: Attributed,
    sample: pd.DataFrame,
    source: str,
) -> FeaturesView:
    """Resolve `query` against the workspace and gather what the Features page shows;
    `attributed` returns (and caches) the sample's long attribution rows. Raises
    ParameterError for a model, head, method or feature the workspace does not have."""
    model = query.model or models[1]
    if model not in models:
        raise ParameterError(
            f"The 'model' parameter in the URL must be one of {', '.join(models)}. Got {model!r} instead."
        )
    methods = {name: resolve_methods(workspace.ranker(name), "all") for name in models}
    if query.method not in methods[model]:
        raise ParameterError(
            f"{query.method.upper()} is not defined for {model} "
            f"({workspace.model(model).kind}); use method={' or '.join(methods[model])}"
        )
    heads = (FINAL, *(getattr(workspace.ranker(model), "heads", ()) or ()))
    if query.head not in heads:
        raise ParameterError(
            f"The 'head' parameter in the URL must be one of {', '.join(heads)} for {model}. "
            f"Got {query.head!r} instead."
        )
    parts = []
    missing: dict[str, str] = {}
    for name in models:
        ranker_heads = (FINAL, *(getattr(workspace.ranker(name), "heads", ()) or ()))
        if query.method not in methods[name]:
            missing[name] = (
                f"{query.method.upper()} is not defined for {workspace.model(name).kind} models"
            )
        elif query.head not in ranker_heads:
            missing[name] = f"{name} has no head {query.head!r}"
        else:
            parts.append(attributed(name, query.method, query.reference, query.head))
    long = pd.concat(parts, ignore_index=True)
    table = importance_table(long)
    mine = long.loc[long["model"] == model].reset_index(drop=True)
    ranked = table.loc[table["model"] == model].sort_values("rank")["feature"].tolist()
    feature = query.feature or (ranked[0] if ranked else None)
    if feature is not None and feature not in ranked:
        raise ParameterError(
            f"The 'feature' parameter in the URL must be a feature {model} reads, e.g. "
            f"{', '.join(ranked[:5])}. Got {feature!r} instead."
        )
    agreement = None
    if {"shap", "ig"} <= set(methods[model]):
        other = "ig" if query.method == "shap" else "shap"
        agreement = pd.concat(
            [mine, attributed(model, other, query.reference, query.head)], ignore_index=True
        )
    return FeaturesView(
        query=query.with_changes(model=model, feature=feature),
        models=models,
        importance=table,
        attributions=mine,
        agreement=agreement,
        missing=missing,
        requests=int(sample["request_id"].nunique()),
        rows=len(sample),
        source=source,
    )
