"""Rich tables for the exposure audit: per group, amplification and exposure with intervals;
disparity and pairwise tests per grouping. Log values (group names, model names) go in through
`log_text`."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from rankaudit.exposure.audit import MEASURES, ExposureAudit
from rankaudit.render._text import log_text

__all__ = ["exposure_tables"]


def _pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:+.1f}%"


def _interval(point: float, low: float, high: float) -> Text:
    if math.isnan(point):
        return Text("—", style="dim")
    beyond = low > 0 or high < 0
    style = ("green" if point > 0 else "red") if beyond else ""
    return Text(f"{_pct(point)} [{_pct(low)}, {_pct(high)}]", style=style)


def _p(value: float) -> str:
    if math.isnan(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def exposure_tables(audit: ExposureAudit) -> Group:
    """The audit as terminal tables (groups, then disparity and tests)."""
    reference, audited = audit.models
    title = Text.assemble(
        "amplification of ",
        log_text(audited, "bold"),
        " over ",
        log_text(reference, "bold"),
        f" — {audit.n_viewers} viewers, {audit.n_requests} requests, scope {audit.scope}, "
        f"attention {audit.attention.label}, {round(100 * audit.confidence)}% intervals",
    )
    groups = Table(title=title, title_justify="left")
    for name in ("grouping", "group", "tweets", "reach ref", "reach aud", "share ref",
                 "share aud", "amplification", "exposure ratio"):  # fmt: skip
        groups.add_column(name, justify="left" if name.startswith("group") else "right")
    for row in audit.groups.to_dict(orient="records"):
        groups.add_row(
            log_text(row["grouping"]),
            log_text(row["group"]),
            str(row["tweets"]),
            f"{row['reach_a']:.3f}",
            f"{row['reach_b']:.3f}",
            f"{row['share_a']:.3f}",
            f"{row['share_b']:.3f}",
            _interval(row["amplification"], row["amplification_low"], row["amplification_high"]),
            _interval(row["exposure_ratio"], row["exposure_ratio_low"], row["exposure_ratio_high"]),
        )
    disparity = Table(title="disparity (max − min amplification)", title_justify="left")
    for name in ("grouping", "disparity"):
        disparity.add_column(name, justify="left" if name == "grouping" else "right")
    for row in audit.disparity.to_dict(orient="records"):
        disparity.add_row(
            log_text(row["grouping"]),
            _interval(row["disparity"], row["disparity_low"], row["disparity_high"]),
        )
    tests = Table(title="permutation tests between groups", title_justify="left")
    for name in ("grouping", "group", "other", "difference", "p"):
        tests.add_column(
            name, justify="left" if name in ("grouping", "group", "other") else "right"
        )
    for row in audit.tests.to_dict(orient="records"):
        tests.add_row(
            log_text(row["grouping"]),
            log_text(row["group"]),
            log_text(row["other"]),
            _pct(row["difference"]),
            _p(row["p_value"]),
        )
    parts: list[Table | Text] = [groups, disparity]
    if len(audit.tests):
        parts.append(tests)
    parts.append(Text(f"This audit {MEASURES}.", style="dim"))
    return Group(*parts)
