"""What `check_drift` returns: `DriftResult`, its `Finding`s and `CheckCase`s, and the JSON
they write (docs/drift.md, "JSON output"). Split from `drift.check`, which re-exports them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rankaudit.drift.rules import DriftRules

__all__ = ["MOVE_COLUMNS", "CheckCase", "DriftResult", "Finding"]

#: Columns of `DriftResult.moves`, one row per (head, feature); checks at the group level
#: (or both) put a `level` column first, and a group's name in `feature`.
MOVE_COLUMNS = (
    "head", "feature", "share_before", "share_after", "change", "change_low", "change_high",
    "rank_before", "rank_after", "tolerance", "drifted",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One rule that fired for one head (and feature).

    `before` / `after`: the reference and current value of what the rule tests (a share, or
    Spearman's rho); `low` / `high`: the interval of the tested quantity (the change for
    `share_change`, the current share for caps and floors, the current gap for `top_k`, rho for
    `rank_correlation`; the relative change for `relative_change`); `threshold`: the rule's
    tolerance, cap or floor. `magnitude` orders the findings: the relative change of
    `feature`'s share, |after - before| / max(before, after), in [0, 1] (0 for rank
    correlation). `level`: `group` when `feature` names a feature group.
    """

    rule: str
    head: str
    feature: str | None
    message: str
    before: float
    after: float
    low: float
    high: float
    threshold: float
    magnitude: float
    other_feature: str | None = None
    level: str = "feature"

    def to_dict(self, *, with_level: bool = False) -> dict[str, Any]:
        """The finding as JSON; `with_level` adds its `level` after `rule` (checks that look
        at groups)."""
        level = {"level": self.level} if with_level else {}
        return {
            "rule": self.rule,
            **level,
            "head": self.head,
            "feature": self.feature,
            "other_feature": self.other_feature,
            "message": self.message,
            "before": _json(self.before),
            "after": _json(self.after),
            "low": _json(self.low),
            "high": _json(self.high),
            "threshold": _json(self.threshold),
        }


@dataclass(frozen=True)
class CheckCase:
    """One evaluated (rule, head, subject): a JUnit test case. `subject` is a feature name, or
    "features" for rules over the whole importance vector; at the group level (`level`
    "group"), a group name, or "groups"."""

    rule: str
    head: str
    subject: str
    detail: str
    finding: Finding | None = None
    level: str = "feature"

    @property
    def passed(self) -> bool:
        return self.finding is None


@dataclass(frozen=True)
class DriftResult:
    """What `check_drift` found.

    `findings`: the rules that fired, the biggest share move first (rank-correlation findings
    last); `cases`: every evaluated rule (for JUnit); `moves`: one row per (head, feature) with
    shares before and after, the change and its interval, ranks, the tolerance and whether
    `share_change` (or `relative_change`) fired (MOVE_COLUMNS, after a `level` column when the
    rules look at groups): drifted features first (largest relative change first), then the
    others by |change|.
    """

    reference: str
    current: str
    rules: DriftRules
    heads: tuple[str, ...]
    findings: tuple[Finding, ...]
    cases: tuple[CheckCase, ...]
    moves: pd.DataFrame
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no rule fired."""
        return not self.findings

    @property
    def first_feature(self) -> str | None:
        """The feature the first feature finding names (the biggest significant move), if
        any."""
        return next(
            (f.feature for f in self.findings if f.feature is not None and f.level == "feature"),
            None,
        )

    @property
    def first_group(self) -> str | None:
        """The group the first group finding names, if any."""
        return next(
            (f.feature for f in self.findings if f.feature is not None and f.level == "group"),
            None,
        )

    @property
    def _with_level(self) -> bool:
        return self.rules.level != "feature"

    def to_frame(self) -> pd.DataFrame:
        """The findings, one row each (rule, [level,] head, feature, message, values)."""
        columns = ["rule", "head", "feature", "other_feature", "message", "before", "after",
                   "low", "high", "threshold"]  # fmt: skip
        if self._with_level:
            columns.insert(1, "level")
        return pd.DataFrame(
            [f.to_dict(with_level=self._with_level) for f in self.findings], columns=columns
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (docs/drift.md, "JSON output")."""
        return {
            "format": "rankaudit-drift-check",
            "version": 1,
            "passed": self.passed,
            "reference": self.reference,
            "current": self.current,
            **dict(self.metadata),
            "rules": self.rules.to_dict(),
            "heads": list(self.heads),
            "findings": [f.to_dict(with_level=self._with_level) for f in self.findings],
            "cases": {
                "total": len(self.cases),
                "failed": sum(not c.passed for c in self.cases),
            },
            "moves": [
                {k: _json(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in self.moves.to_dict(orient="records")
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"


def _json(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.7g}")
