"""Compare two importance profiles under drift rules: `check_drift` -> `DriftResult`.

Every interval comes from the profiles' bootstrap replicates (resamples of requests). The two
profiles come from independent samples, so replicate b of the difference is replicate b of the
current profile minus replicate b of the reference; its percentiles bound the difference. A rule
fires only when that interval excludes zero (or the threshold, for caps, floors and the rank
correlation) and the point estimate is past the rule's tolerance.

The rules look at features, at feature groups (the profiles' per-group shares), or at both
(`DriftRules.level`); a group is tested exactly as a feature is, with its own thresholds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.drift.profile import DriftProfile, Level
from rankaudit.drift.rules import DEFAULT_RULES, RULE_NAMES, DriftRules
from rankaudit.errors import ParameterError

__all__ = ["MOVE_COLUMNS", "CheckCase", "DriftResult", "Finding", "ProfileMismatch", "check_drift"]

Array = NDArray[np.float64]

#: Columns of `DriftResult.moves`, one row per (head, feature); checks at the group level
#: (or both) put a `level` column first, and a group's name in `feature`.
MOVE_COLUMNS = (
    "head", "feature", "share_before", "share_after", "change", "change_low", "change_high",
    "rank_before", "rank_after", "tolerance", "drifted",
)  # fmt: skip


class ProfileMismatch(ParameterError):
    """The two profiles were made differently (method, reference, heads, features, settings)."""


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


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _relative(before: float, after: float) -> float:
    """|after - before| / max(before, after): 1 when a feature lost (or gained) all its share.

    Findings are ordered by it because a corrupted feature loses most of its own share while
    the slack spreads over many others, each gaining a smaller fraction of what it had.
    """
    larger = max(before, after)
    return float(abs(after - before) / larger) if larger > 0 else 0.0


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


# --- compatibility --------------------------------------------------------------------------


def _check_compatible(reference: DriftProfile, current: DriftProfile, rules: DriftRules) -> None:
    names = f"{reference.label} and {current.label}"
    for what in ("method", "reference"):
        a, b = getattr(reference, what), getattr(current, what)
        if a != b:
            raise ProfileMismatch(
                f"{names} were made with different {what}s ({a} vs {b}); "
                f"profile both with --{what} {a}"
            )
    if set(reference.features) != set(current.features):
        only_ref = sorted(set(reference.features) - set(current.features))
        only_cur = sorted(set(current.features) - set(reference.features))
        raise ProfileMismatch(
            f"{names} have different feature sets (only in the reference: "
            f"{', '.join(only_ref) or '-'}; only in the current: {', '.join(only_cur) or '-'}); "
            "re-profile the reference with the current feature spec"
        )
    if set(reference.heads) != set(current.heads):
        raise ProfileMismatch(
            f"{names} profile different heads ({', '.join(reference.heads)} vs "
            f"{', '.join(current.heads)}); profile both with the same --heads"
        )
    if dict(reference.settings) != dict(current.settings):
        differ = sorted(
            k
            for k in set(reference.settings) | set(current.settings)
            if reference.settings.get(k) != current.settings.get(k)
        )
        raise ProfileMismatch(
            f"{names} were made with different attribution settings ({', '.join(differ)}); "
            "re-profile the reference with this rankaudit version"
        )
    if "group" in rules.levels:
        _check_groups_compatible(reference, current, names)


def _check_groups_compatible(reference: DriftProfile, current: DriftProfile, names: str) -> None:
    for profile in (reference, current):
        if not profile.has_groups:
            raise ProfileMismatch(
                f"{profile.label} holds no feature groups (made without a feature spec, or "
                "before rankaudit profiled groups); re-profile it with `rankaudit drift "
                "profile`, or check features only with --level feature"
            )
    if {g: set(m) for g, m in reference.groups.items()} != {
        g: set(m) for g, m in current.groups.items()
    }:
        differ = sorted(
            g
            for g in set(reference.groups) | set(current.groups)
            if set(reference.groups.get(g, ())) != set(current.groups.get(g, ()))
        )
        raise ProfileMismatch(
            f"{names} group their features differently (groups {', '.join(differ)}); "
            "re-profile the reference with the current feature spec"
        )
    if reference.group_attribution != current.group_attribution:
        raise ProfileMismatch(
            f"{names} measured group importance differently ({reference.group_attribution} vs "
            f"{current.group_attribution}); re-profile both with `rankaudit drift profile`"
        )


def _check_rules(rules: DriftRules, profile: DriftProfile) -> tuple[str, ...]:
    heads = rules.heads if rules.heads is not None else profile.heads
    for head in heads:
        if head not in profile.heads:
            raise ParameterError(
                f"{rules.source}: head {head!r} is not profiled; profiled: "
                f"{', '.join(profile.heads)}"
            )
    for name, mapping in (
        ("share_change", rules.share_tolerances),
        ("relative_change", rules.max_relative_changes),
        ("max_share", rules.max_shares),
        ("min_share", rules.min_shares),
    ):
        for feature in mapping:
            if feature not in profile.features:
                raise ParameterError(
                    f"{rules.source} [{name}]: unknown feature {feature!r}; profiled features: "
                    f"{', '.join(profile.features[:8])}{', ...' if len(profile.features) > 8 else ''}"
                )
    if "group" not in rules.levels:
        return tuple(heads)
    groups = tuple(profile.groups)
    for name, mapping in (
        ("share_change", rules.group_share_tolerances),
        ("relative_change", rules.group_max_relative_changes),
        ("max_share", rules.group_max_shares),
        ("min_share", rules.group_min_shares),
    ):
        for group in mapping:
            if group not in profile.groups:
                raise ParameterError(
                    f"{rules.source} [groups] {name}: unknown group {group!r}; profiled groups: "
                    f"{', '.join(groups[:8])}{', ...' if len(groups) > 8 else ''}"
                )
    return tuple(heads)


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Head:
    """One head and level of both profiles, aligned on the reference's order of features (or
    groups: `features` then holds group names)."""

    head: str
    features: tuple[str, ...]
    before: Array  # [F]
    after: Array  # [F]
    before_b: Array  # [B, F]
    after_b: Array  # [B, F]
    rank_before: NDArray[np.int64]
    rank_after: NDArray[np.int64]
    alpha: float
    level: Level = "feature"

    def interval(self, samples: Array) -> tuple[Array, Array]:
        low, high = np.quantile(samples, [self.alpha, 1 - self.alpha], axis=0)
        return np.asarray(low), np.asarray(high)

    def name(self, j: int) -> str:
        """How messages name subject j: the feature, or "group <name>"."""
        return self.features[j] if self.level == "feature" else f"group {self.features[j]}"

    @property
    def whole(self) -> str:
        """The subject of rules over the whole vector."""
        return "features" if self.level == "feature" else "groups"


def _align(
    reference: DriftProfile, current: DriftProfile, head: str, alpha: float, level: Level
) -> _Head:
    names = reference.names(level)
    current_names = current.names(level)
    order = [current_names.index(f) for f in names]
    before_all = reference.replicate_shares(level)[head]
    after_all = current.replicate_shares(level)[head]
    replicates = min(before_all.shape[0], after_all.shape[0])

    def ranks(profile: DriftProfile) -> NDArray[np.int64]:
        table = profile.table(level)
        table = table.loc[table["head"] == head].set_index("feature")
        return table.loc[list(names), "rank"].to_numpy(dtype=np.int64)

    return _Head(
        head=head,
        features=names,
        before=reference.level_shares(head, level),
        after=current.level_shares(head, level, names),
        before_b=before_all[:replicates],
        after_b=after_all[:replicates][:, order],
        rank_before=ranks(reference),
        rank_after=ranks(current),
        alpha=alpha,
        level=level,
    )


def _share_change(h: _Head, rules: DriftRules) -> tuple[list[CheckCase], pd.DataFrame]:
    change = h.after - h.before
    low, high = h.interval(h.after_b - h.before_b)
    tolerance = np.array([rules.share_tolerance_of(f, h.level) for f in h.features])
    significant = (low > 0) | (high < 0)
    drifted = significant & (np.abs(change) > tolerance)
    cases = []
    for j, feature in enumerate(h.features):
        detail = (
            f"{h.head}: {h.name(j)} share {_pct(h.before[j])} -> {_pct(h.after[j])} "
            f"({_points(change[j])} points, interval {_points(low[j])} to {_points(high[j])}; "
            f"tolerance {100 * tolerance[j]:.1f})"
        )
        finding = None
        if rules.share_change_enabled and drifted[j]:
            verb = "rose" if change[j] > 0 else "fell"
            finding = Finding(
                rule="share_change", head=h.head, feature=feature,
                message=f"{h.head}: {h.name(j)} share {verb} from {_pct(h.before[j])} to "
                f"{_pct(h.after[j])} ({_points(change[j])} points, interval "
                f"{_points(low[j])} to {_points(high[j])}; tolerance {100 * tolerance[j]:.1f})",
                before=float(h.before[j]), after=float(h.after[j]), low=float(low[j]),
                high=float(high[j]), threshold=float(tolerance[j]),
                magnitude=_relative(h.before[j], h.after[j]), level=h.level,
            )  # fmt: skip
        if rules.share_change_enabled:
            cases.append(CheckCase("share_change", h.head, feature, detail, finding, h.level))
    moves = pd.DataFrame(
        {
            "level": h.level,
            "head": h.head,
            "feature": list(h.features),
            "share_before": h.before,
            "share_after": h.after,
            "change": change,
            "change_low": low,
            "change_high": high,
            "rank_before": h.rank_before,
            "rank_after": h.rank_after,
            "tolerance": tolerance,
            "drifted": drifted & rules.share_change_enabled,
        }
    )
    return cases, moves


def _share_pct(value: float) -> str:
    """A small share: two decimals of a percent (0.25%)."""
    return f"{100 * value:.2f}%"


def _relative_change(h: _Head, rules: DriftRules) -> tuple[list[CheckCase], NDArray[np.bool_]]:
    """|after - before| > limit x before, where before is above the floor, and the interval
    of the change excludes zero. Compared as a product, so a change of exactly the limit
    does not fire whatever the rounding of a quotient."""
    floor = rules.relative_floor(len(h.features))
    limit = np.array([rules.max_relative_change_of(f, h.level) for f in h.features])
    change = h.after - h.before
    low, high = h.interval(h.after_b - h.before_b)
    applies = h.before > floor
    significant = (low > 0) | (high < 0)
    drifted = applies & significant & (np.abs(change) > limit * h.before)
    before = np.where(applies, h.before, 1.0)  # no division by a share that is not tested
    relative, rel_low, rel_high = change / before, low / before, high / before
    cases = []
    for j, feature in enumerate(h.features):
        if not applies[j]:
            detail = (
                f"{h.head}: {h.name(j)} share {_share_pct(h.before[j])} is not above the floor "
                f"of {_share_pct(floor)}: not tested"
            )
        else:
            detail = (
                f"{h.head}: {h.name(j)} share {_share_pct(h.before[j])} -> "
                f"{_share_pct(h.after[j])} ({relative[j]:+.0%} of its share, interval "
                f"{rel_low[j]:+.0%} to {rel_high[j]:+.0%}; limit ±{limit[j]:.0%})"
            )
        finding = None
        if drifted[j]:
            verb = "rose" if change[j] > 0 else "fell"
            finding = Finding(
                rule="relative_change", head=h.head, feature=feature,
                message=f"{h.head}: {h.name(j)} share {verb} by {abs(relative[j]):.0%} of "
                f"itself, from {_share_pct(h.before[j])} to {_share_pct(h.after[j])} "
                f"(interval {rel_low[j]:+.0%} to {rel_high[j]:+.0%}; limit ±{limit[j]:.0%} "
                f"above a share of {_share_pct(floor)})",
                before=float(h.before[j]), after=float(h.after[j]), low=float(rel_low[j]),
                high=float(rel_high[j]), threshold=float(limit[j]),
                magnitude=_relative(h.before[j], h.after[j]), level=h.level,
            )  # fmt: skip
        cases.append(CheckCase("relative_change", h.head, feature, detail, finding, h.level))
    return cases, drifted


def _max_share(h: _Head, rules: DriftRules) -> list[CheckCase]:
    """Caps on the current shares: every feature's (its own cap or the default); at the group
    level only the groups `[groups] max_share` lists, since among a handful of groups one
    holding more than the per-feature default is the rule, not a warning sign."""
    low, high = h.interval(h.after_b)
    cases = []
    if h.level == "group":
        subjects = [
            (h.features.index(g), g, cap) for g, cap in sorted(rules.group_max_shares.items())
        ]
    else:
        subjects = [
            (j, f, rules.max_shares.get(f, rules.max_share_default))
            for j, f in enumerate(h.features)
        ]
    for j, feature, cap in subjects:
        detail = f"{h.head}: {h.name(j)} share {_pct(h.after[j])} (cap {_pct(cap)})"
        finding = None
        if h.after[j] > cap and low[j] > cap:
            finding = Finding(
                rule="max_share", head=h.head, feature=feature,
                message=f"{h.head}: {h.name(j)} takes {_pct(h.after[j])} of the total "
                f"(interval {_pct(low[j])} to {_pct(high[j])}), above its cap of {_pct(cap)}",
                before=float(h.before[j]), after=float(h.after[j]), low=float(low[j]),
                high=float(high[j]), threshold=cap,
                magnitude=_relative(h.before[j], h.after[j]), level=h.level,
            )  # fmt: skip
        cases.append(CheckCase("max_share", h.head, feature, detail, finding, h.level))
    return cases


def _min_share(h: _Head, rules: DriftRules) -> list[CheckCase]:
    low, high = h.interval(h.after_b)
    cases = []
    for feature, floor in sorted(rules.min_shares_of(h.level).items()):
        j = h.features.index(feature)
        detail = f"{h.head}: {h.name(j)} share {_pct(h.after[j])} (minimum {_pct(floor)})"
        finding = None
        if h.after[j] < floor and high[j] < floor:
            finding = Finding(
                rule="min_share", head=h.head, feature=feature,
                message=f"{h.head}: {h.name(j)} keeps only {_pct(h.after[j])} of the total "
                f"(interval {_pct(low[j])} to {_pct(high[j])}), below its minimum of {_pct(floor)}",
                before=float(h.before[j]), after=float(h.after[j]), low=float(low[j]),
                high=float(high[j]), threshold=floor,
                magnitude=_relative(h.before[j], h.after[j]), level=h.level,
            )  # fmt: skip
        cases.append(CheckCase("min_share", h.head, feature, detail, finding, h.level))
    return cases


def _top_set(ranks: NDArray[np.int64], k: int) -> set[int]:
    return {int(j) for j in np.flatnonzero(ranks <= k)}


def _top_k(h: _Head, rules: DriftRules) -> list[CheckCase]:
    k = rules.top_k
    if k >= len(h.features):
        detail = f"{h.head}: {len(h.features)} {h.whole}, not more than k = {k}: nothing to test"
        return [CheckCase("top_k", h.head, h.whole, detail, level=h.level)]
    before, after = _top_set(h.rank_before, k), _top_set(h.rank_after, k)
    entered, left = sorted(after - before), sorted(before - after)
    names = ", ".join(h.features[j] for j in sorted(before, key=lambda j: h.rank_before[j]))
    detail = f"{h.head}: top {k} before: {names}"
    best: Finding | None = None
    for a in entered:
        for b in left:
            # Now a above b, before b above a: both orderings resolved by the bootstrap and by
            # more than the minimum gap.
            now_low, now_high = h.interval(h.after_b[:, a] - h.after_b[:, b])
            then_low, _ = h.interval(h.before_b[:, b] - h.before_b[:, a])
            gap_now = h.after[a] - h.after[b]
            gap_then = h.before[b] - h.before[a]
            if not (
                now_low > 0
                and then_low > 0
                and gap_now > rules.top_k_min_gap
                and gap_then > rules.top_k_min_gap
            ):
                continue
            change_a = _relative(h.before[a], h.after[a])
            change_b = _relative(h.before[b], h.after[b])
            lead, other = (a, b) if change_a >= change_b else (b, a)
            finding = Finding(
                rule="top_k", head=h.head, feature=h.features[lead],
                message=f"{h.head}: {h.name(a)} entered the top {k} (rank "
                f"{h.rank_before[a]} -> {h.rank_after[a]}) and {h.name(b)} left it (rank "
                f"{h.rank_before[b]} -> {h.rank_after[b]})",
                before=float(h.before[lead]), after=float(h.after[lead]), low=float(now_low),
                high=float(now_high), threshold=rules.top_k_min_gap,
                magnitude=max(change_a, change_b), other_feature=h.features[other],
                level=h.level,
            )  # fmt: skip
            if best is None or finding.magnitude > best.magnitude:
                best = finding
    return [CheckCase("top_k", h.head, h.whole, detail, best, h.level)]


def _spearman_rows(x: Array, y: Array) -> Array:
    """Spearman's rho of each row of x with the same row of y (average ranks for ties)."""
    from scipy.stats import rankdata  # imported here: `import rankaudit.drift` stays light

    rx = rankdata(x, axis=-1)
    ry = rankdata(y, axis=-1)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((rx**2).sum(axis=-1) * (ry**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(denominator > 0, (rx * ry).sum(axis=-1) / denominator, 1.0))


def _rank_correlation(h: _Head, rules: DriftRules) -> list[CheckCase]:
    rho = float(_spearman_rows(h.before[None, :], h.after[None, :])[0])
    samples = _spearman_rows(h.before_b, h.after_b)
    low, high = (float(v) for v in np.quantile(samples, [h.alpha, 1 - h.alpha]))
    floor = rules.rank_correlation_floor
    detail = f"{h.head}: Spearman rho {rho:.3f} (floor {floor:.2f})"
    finding = None
    if rho < floor and high < floor:
        ranking = "importance ranking" if h.level == "feature" else "ranking of the groups"
        finding = Finding(
            rule="rank_correlation", head=h.head, feature=None,
            message=f"{h.head}: the {ranking} changed: Spearman rho {rho:.3f} "
            f"(interval {low:.3f} to {high:.3f}) is below the floor of {floor:.2f}",
            before=1.0, after=rho, low=low, high=high, threshold=floor, magnitude=0.0,
            level=h.level,
        )  # fmt: skip
    return [CheckCase("rank_correlation", h.head, h.whole, detail, finding, h.level)]


def _check_head(h: _Head, rules: DriftRules) -> tuple[list[CheckCase], pd.DataFrame]:
    """Every enabled rule on one head and level: its cases and its rows of the moves table."""
    cases, moves = _share_change(h, rules)
    if rules.relative_change_enabled:
        relative_cases, relative_drifted = _relative_change(h, rules)
        cases.extend(relative_cases)
        moves["drifted"] = moves["drifted"].to_numpy(dtype=bool) | relative_drifted
    if rules.max_share_enabled:
        cases.extend(_max_share(h, rules))
    if rules.min_share_enabled:
        cases.extend(_min_share(h, rules))
    if rules.top_k_enabled:
        cases.extend(_top_k(h, rules))
    if rules.rank_correlation_enabled:
        cases.extend(_rank_correlation(h, rules))
    return cases, moves


def check_drift(
    reference: DriftProfile,
    current: DriftProfile,
    *,
    rules: DriftRules = DEFAULT_RULES,
) -> DriftResult:
    """Compare `current` with `reference` under `rules`; returns the DriftResult.

    `rules.level` says whether the rules look at features, feature groups or both (features
    first, per head). Raises ProfileMismatch when the profiles were made with different
    methods, references, heads, feature sets or attribution settings (or, for groups, when
    either has none or they group features differently), and ParameterError when the rules
    name a head, feature or group the profiles lack.
    """
    _check_compatible(reference, current, rules)
    heads = _check_rules(rules, reference)
    alpha = (1.0 - rules.confidence) / 2.0
    cases: list[CheckCase] = []
    moves = []
    for head in heads:
        for level in rules.levels:
            h = _align(reference, current, head, alpha, level)  # type: ignore[arg-type]
            head_cases, head_moves = _check_head(h, rules)
            cases.extend(head_cases)
            moves.append(head_moves)
    findings = [c.finding for c in cases if c.finding is not None]
    order = {name: i for i, name in enumerate(RULE_NAMES)}
    findings.sort(
        key=lambda f: (f.feature is None, -f.magnitude, order[f.rule], heads.index(f.head))
    )
    table = pd.concat(moves, ignore_index=True)
    larger = np.maximum(
        table["share_before"].to_numpy(dtype=np.float64),
        table["share_after"].to_numpy(dtype=np.float64),
    )
    relative = np.divide(np.abs(table["change"].to_numpy()), larger, out=np.zeros(len(table)),
                         where=larger > 0)  # fmt: skip
    # Drifted features first, in the order of the findings; then the largest absolute moves.
    drifted = table["drifted"].to_numpy(dtype=bool)
    key = np.where(drifted, -relative, -np.abs(table["change"].to_numpy()))
    table = table.iloc[np.lexsort((key, ~drifted))]
    columns = list(MOVE_COLUMNS) if rules.level == "feature" else ["level", *MOVE_COLUMNS]
    return DriftResult(
        reference=reference.label,
        current=current.label,
        rules=rules,
        heads=heads,
        findings=tuple(findings),
        cases=tuple(cases),
        moves=table[columns].reset_index(drop=True),
        metadata={
            "method": reference.method,
            "attribution_reference": reference.reference,
            "models": {
                "reference": reference.metadata.get("model"),
                "current": current.metadata.get("model"),
            },
        },
    )
