"""Each drift rule evaluated on one head and level of two aligned profiles: its `CheckCase`s
(with a `Finding` when it fires) and its rows of the moves table. Split from `drift.check`,
whose `check_drift` calls `align` then `check_head` for every head and level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.drift.profile import DriftProfile, Level
from rankaudit.drift.result import CheckCase, Finding
from rankaudit.drift.rules import DriftRules

__all__ = ["align", "check_head"]

Array = NDArray[np.float64]


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


def align(
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


def check_head(h: _Head, rules: DriftRules) -> tuple[list[CheckCase], pd.DataFrame]:
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
