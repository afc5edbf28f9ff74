"""Small text helpers of the figure builders: numbers, feature values, tweet snippets."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rankaudit.data import schema


def number(value: object, digits: int = 3) -> str:
    """A compact number: integers without decimals, others to `digits` significant digits;
    '—' for missing values."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    as_float = float(value)  # type: ignore[arg-type]
    if math.isnan(as_float):
        return "—"
    if as_float.is_integer() and abs(as_float) < 1e15:
        return f"{int(as_float):,}"
    return f"{as_float:.{digits}g}"


def signed(value: float, digits: int = 3) -> str:
    """A number with its sign, to `digits` significant digits."""
    return "—" if math.isnan(value) else f"{value:+.{digits}g}"


def feature_label(feature: str, value: object) -> str:
    """`feature = value` as the bars label it."""
    return f"{feature} = {number(value)}"


def snippet(text: object, limit: int = 80) -> str:
    """The first `limit` characters of a tweet text, on one line."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def engaged_heads(rows: pd.DataFrame, heads: Mapping[str, float]) -> list[str]:
    """Per row, the heads the viewer engaged with, comma-separated ('' for none)."""
    present = [h for h in heads if schema.label_column(h) in rows]
    if not present:
        return [""] * len(rows)
    labels = np.column_stack([rows[schema.label_column(h)].to_numpy() > 0 for h in present])
    return [", ".join(h for h, hit in zip(present, row, strict=True) if hit) for row in labels]
