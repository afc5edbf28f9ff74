"""A cache of attribution results, keyed by what determines them.

Key: sha256 over the model fingerprint, a fingerprint of the explained rows and of the
background (pandas' stable row hashes of the columns the ranker reads, plus the ids), the
methods, reference, heads, pair and settings. Results live in a bounded in-memory LRU and,
when a folder is given, as Parquet files there too (written atomically), so a repeated view in
the same process is a dictionary lookup and a repeated command is a file read.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from rankaudit.attribution.result import AttributionResult
from rankaudit.attribution.settings import AttributionSettings
from rankaudit.data import schema

__all__ = ["AttributionCache", "frame_fingerprint"]

#: Entries kept in memory by default: one entry is one request's attributions (a few MB at most).
DEFAULT_ENTRIES = 256


def frame_fingerprint(frame: pd.DataFrame | None, columns: Sequence[str]) -> str:
    """sha256 of the rows' ids and `columns` (stable across processes), '' for no frame."""
    if frame is None:
        return ""
    keep = [c for c in dict.fromkeys([*schema.ID_COLUMNS, *columns]) if c in frame]
    hashes = pd.util.hash_pandas_object(frame[keep], index=False).to_numpy()
    digest = hashlib.sha256(hashes.tobytes())
    digest.update(json.dumps(keep).encode())
    return digest.hexdigest()


class AttributionCache:
    """A bounded LRU of attribution results."""

    def __init__(self, *, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(
                f"The 'max_entries' parameter of AttributionCache must be an int >= 1. Got {max_entries} instead."
            )
        self.max_entries = max_entries
        self._memory: OrderedDict[str, AttributionResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        """Results held in memory (at most `max_entries`)."""
        return len(self._memory)

    @staticmethod
    def key(
        ranker: Any,
        frame: pd.DataFrame,
        *,
        methods: Sequence[str],
        reference: str,
        heads: Sequence[str] | None,
        settings: AttributionSettings,
        background: pd.DataFrame | None,
        pair: tuple[str, str] | None,
        tweets: Sequence[str] | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> str:
        """The cache key of one attribute_frame call."""
        columns = list(ranker.required_columns)
        parts = {
            "model": ranker.fingerprint,
            "name": ranker.name,
            "rows": frame_fingerprint(frame, columns),
            "background": frame_fingerprint(background, columns),
            "methods": list(methods),
            "reference": reference,
            "heads": list(heads) if heads else None,
            "pair": list(pair) if pair else None,
            "tweets": sorted(tweets) if tweets is not None else None,
            "settings": asdict(settings),
        }
        if groups is not None:  # absent otherwise, so that keys of per-feature runs stay
            parts["groups"] = {g: list(m) for g, m in groups.items()}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> AttributionResult | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            self.hits += 1
            return self._memory[key]
        self.misses += 1
        return None

    def put(self, key: str, result: AttributionResult) -> None:
        self._memory[key] = result
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)
        self._memory[key] = result
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)
