"""Number formatting of the HTML report: every input is a value of the document (already
rounded), and a missing value (None or NaN) is shown as an em dash."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "fmt_ci",
    "fmt_fixed",
    "fmt_num",
    "fmt_pct",
    "fmt_pvalue",
    "fmt_sci",
    "fmt_signed",
    "fmt_signed_fixed",
    "fmt_signed_pct",
]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value: object, digits: int = 3) -> str:
    """Integers with thousands separators, other numbers to `digits` significant digits."""
    if _missing(value):
        return "—"
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 1e4:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def fmt_fixed(value: object, decimals: int = 3) -> str:
    return "—" if _missing(value) else f"{float(value):.{decimals}f}"  # type: ignore[arg-type]


def fmt_signed(value: object, digits: int = 3) -> str:
    return "—" if _missing(value) else f"{float(value):+.{digits}g}".replace("-", "−")  # type: ignore[arg-type]


def fmt_signed_fixed(value: object, decimals: int = 2) -> str:
    """A signed number to `decimals` decimals (-5.2421875 -> −5.24), with a true minus sign."""
    if _missing(value):
        return "—"
    return f"{float(value):+.{decimals}f}".replace("-", "−")  # type: ignore[arg-type]


def fmt_sci(value: object) -> str:
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    if number == 0:
        return "0"
    return f"{number:.2g}" if 1e-3 <= abs(number) < 1e4 else f"{number:.1e}"


def fmt_pct(value: object, decimals: int = 1) -> str:
    return "—" if _missing(value) else f"{100 * float(value):.{decimals}f}%"  # type: ignore[arg-type]


def fmt_signed_pct(value: object, decimals: int = 1) -> str:
    """A signed percentage (0.735 -> +73.5%), with a true minus sign."""
    if _missing(value):
        return "—"
    return f"{100 * float(value):+.{decimals}f}%".replace("-", "−")  # type: ignore[arg-type]


def fmt_pvalue(value: object) -> str:
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return "< 0.001" if number < 0.001 else f"{number:.3f}"


def fmt_ci(estimate: Mapping[str, Any] | None, signed: bool = False) -> str:
    """`mean [low, high]` to 3 decimals."""
    if not estimate or _missing(estimate.get("mean")):
        return "—"
    mean, low, high = (estimate.get(k) for k in ("mean", "ci_low", "ci_high"))
    first = f"{float(mean):+.3f}" if signed else fmt_fixed(mean)  # type: ignore[arg-type]
    return f"{first} [{fmt_fixed(low)}, {fmt_fixed(high)}]".replace("-", "−")
