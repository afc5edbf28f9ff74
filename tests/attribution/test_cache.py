"""The attribution cache: same inputs are served without recomputing, anything else misses."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import rankaudit.attribution.api as api
from rankaudit.attribution import AttributionCache, AttributionSettings, attribute_frame


def test_hits_misses_and_eviction(
    ranker: Any, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ranker("masknet")
    calls = []
    real = api.make_attributor
    monkeypatch.setattr(api, "make_attributor", lambda *a, **k: calls.append(1) or real(*a, **k))
    cache = AttributionCache(max_entries=2)
    first_request = frame.loc[frame["request_id"] == frame["request_id"].iat[0]]

    def run(rows: pd.DataFrame, **options: Any) -> pd.DataFrame:
        return attribute_frame(
            model, rows, methods=["shap"], reference="request", cache=cache, **options
        ).frame

    first = run(first_request)
    again = run(first_request)
    pd.testing.assert_frame_equal(first, again)
    assert (len(calls), cache.hits, cache.misses) == (1, 1, 1)
    # Another request, other settings, other heads: misses.
    run(frame.loc[frame["request_id"] == frame["request_id"].iat[-1]])
    run(first_request, settings=AttributionSettings(seed=1))
    run(first_request, heads=["score"])
    assert len(calls) == 4
    # Memory holds at most max_entries results.
    assert len(cache) == 2
    # Changed data in the explained rows is a different key.
    changed = first_request.assign(topic_similarity=first_request["topic_similarity"] + 0.1)
    key = AttributionCache.key
    options: dict[str, Any] = {"methods": ["shap"], "reference": "request", "heads": None,
                               "settings": AttributionSettings(), "background": None, "pair": None}  # fmt: skip
    assert key(model, changed, **options) != key(model, first_request, **options)
    assert key(model, first_request, **options) == key(model, first_request.copy(), **options)
