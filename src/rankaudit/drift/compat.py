"""Before a check: the two profiles must have been made alike, and the rules must name only
heads, features and groups the profiles hold. Split from `drift.check`."""

from __future__ import annotations

from rankaudit.drift.profile import DriftProfile
from rankaudit.drift.rules import DriftRules
from rankaudit.errors import ParameterError

__all__ = ["ProfileMismatch", "check_compatible", "check_rules"]


class ProfileMismatch(ParameterError):
    """The two profiles were made differently (method, reference, heads, features, settings)."""


def check_compatible(reference: DriftProfile, current: DriftProfile, rules: DriftRules) -> None:
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


def check_rules(rules: DriftRules, profile: DriftProfile) -> tuple[str, ...]:
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
