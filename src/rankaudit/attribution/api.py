"""Attribution entry points: explain a frame of log rows, sample a global background.

Batch runs over a selection or a whole log live in `rankaudit.attribution.batch`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.attribution.base import explain_groups
from rankaudit.attribution.cache import AttributionCache
from rankaudit.attribution.groups import (
    Group,
    global_groups,
    only_tweets,
    pair_groups,
    request_groups,
)
from rankaudit.attribution.registry import applicable_methods, make_attributor
from rankaudit.attribution.result import COLUMNS, AttributionResult, explanation_frame
from rankaudit.attribution.settings import METHODS, REFERENCES, AttributionSettings
from rankaudit.data import schema
from rankaudit.data.readers import prepare
from rankaudit.errors import AttributionError, InputFileError
from rankaudit.workspace import Workspace

__all__ = ["DEFAULT_SETTINGS", "attribute_frame", "background_sample", "resolve_methods"]


DEFAULT_SETTINGS = AttributionSettings()


def resolve_methods(ranker: Any, method: str) -> tuple[str, ...]:
    """`all` -> every method that applies to the ranker; otherwise the one method, checked."""
    if method == "all":
        return applicable_methods(ranker)
    if method not in METHODS:
        raise AttributionError(f"unknown method {method!r}; valid: {', '.join(METHODS)}, all")
    return (method,)


def _groups(
    frame: pd.DataFrame,
    reference: str,
    settings: AttributionSettings,
    background: pd.DataFrame | None,
    pair: tuple[str, str] | None,
    tweets: Sequence[str] | None = None,
) -> Iterator[Group]:
    """The reference's groups of `frame`; with `tweets`, only those tweets left to explain
    (a pair already explains one tweet)."""
    if reference == "global":
        if background is None or background.empty:
            raise AttributionError("the global reference needs a background sample of the logs")
        groups = global_groups(frame, background)
    elif reference == "request":
        groups = request_groups(frame, settings)
    elif reference == "pair":
        if pair is None:
            raise AttributionError("the pair reference needs two tweets: --tweet T --vs-tweet T2")
        return pair_groups(frame, *pair)
    else:
        raise AttributionError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    return groups if tweets is None else only_tweets(groups, tweets)


def attribute_frame(
    ranker: Any,
    frame: pd.DataFrame,
    *,
    methods: Sequence[str],
    reference: str,
    heads: Sequence[str] | None = None,
    settings: AttributionSettings = DEFAULT_SETTINGS,
    background: pd.DataFrame | None = None,
    pair: tuple[str, str] | None = None,
    tweets: Sequence[str] | None = None,
    cache: AttributionCache | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> AttributionResult:
    """Explain every row of `frame` (prepared log rows) with each method against `reference`.

    Returns the long result (attributions in the units of each explained output: a head's
    probability, or the final score). `tweets` explains only those tweets of `frame`; the other
    rows still make up their requests' references, so the values equal those of a whole-frame
    call. With a `cache`, a call with the same model, rows, background and options returns the
    stored result. With `groups` (group -> member features), SHAP's players are the groups and
    the result's `feature` column holds group names (their `feature_value` is NaN).
    """
    if reference not in REFERENCES:
        raise AttributionError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    key = None
    if cache is not None:
        key = cache.key(
            ranker, frame, methods=methods, reference=reference, heads=heads, settings=settings,
            background=background, pair=pair, tweets=tweets, groups=groups,
        )  # fmt: skip
        cached = cache.get(key)
        if cached is not None:
            return cached
    parts = []
    for method in methods:
        attributor = make_attributor(
            ranker, method, heads=heads, settings=settings,
            groups=groups if method == "shap" else None,
        )  # fmt: skip
        explained = _groups(frame, reference, settings, background, pair, tweets)
        for group, explanation in explain_groups(attributor, explained):
            parts.append(
                explanation_frame(
                    group,
                    explanation,
                    features=attributor.features,
                    model=ranker.name,
                    method=method,
                    reference=reference,
                )
            )
    result = AttributionResult(
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    )
    if cache is not None and key is not None:
        cache.put(key, result)
    return result


def background_sample(workspace: Workspace, size: int, seed: int) -> pd.DataFrame:
    """A uniform sample of `size` rows from the training window (requests served before
    `[evaluation] holdout_from`, or the whole log without one), drawn in one streaming pass by
    keeping the rows with the smallest seeded random keys."""
    kept: pd.DataFrame | None = None
    for index, (_, batch) in enumerate(workspace.logs.iter_raw()):
        rows = prepare(batch, workspace.spec)
        if workspace.holdout_from is not None:
            rows = rows.loc[rows[schema.SERVED_AT] < workspace.holdout_from]
        keys = np.random.default_rng([seed, index]).random(len(rows))
        rows = rows.assign(_key=keys)
        kept = rows if kept is None else pd.concat([kept, rows], ignore_index=True)
        kept = kept.nsmallest(size, "_key")
    if kept is None or kept.empty:
        raise InputFileError(f"{workspace.logs.files[0]}: no rows to draw a background sample from")
    return kept.sort_values("_key").drop(columns="_key").reset_index(drop=True)
