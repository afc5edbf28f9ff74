"""Drift rules: what counts as drift, with documented defaults, read from a small TOML file.

Example `drift.toml` (every key optional; docs/drift.md lists the defaults and their numbers)::

    confidence = 0.95            # level of every bootstrap interval
    heads = ["score"]            # heads the rules look at (default: every profiled head)

    level = "feature"            # what the rules look at: feature | group | both

    [share_change]               # a feature's share of the total moved
    tolerance = 0.02             # absolute, in share units (0.02 = 2 percentage points)
    features = { real_graph_weight = 0.01 }

    [relative_change]            # a share moved by more than a fraction of itself (off unless
    max_relative_change = 0.5    # this table is present): +-50% of the reference share,
    min_share_for_relative = 0.0025  # only where that share is above this (1/(2 n) without it)
    features = { author_id = 1.0 }

    [top_k]                      # the set of the k most important features changed
    k = 5
    min_gap = 0.005

    [rank_correlation]           # Spearman correlation of the importances fell below a floor
    floor = 0.9

    [max_share]                  # no single feature above this share
    default = 0.4
    features = { author_id = 0.3 }

    [min_share]                  # features that must keep at least this share
    features = { author_reputation = 0.02 }

    [groups]                     # per-group thresholds, used at level group or both
    share_change = { tweet = 0.03 }
    relative_change = { context = 1.0 }
    max_share = { tweet = 0.6 }
    min_share = { viewer-author = 0.1 }

Every rule table takes `enabled = false` to turn its rule off.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from rankaudit.errors import InputFileError, ParameterError, UnknownKeyError

__all__ = [
    "CHECK_LEVELS",
    "DEFAULT_RULES",
    "RULE_NAMES",
    "CheckLevel",
    "DriftRules",
    "RuleName",
    "load_rules",
]

RuleName = Literal[
    "share_change", "relative_change", "max_share", "min_share", "top_k", "rank_correlation"
]
#: Rules in the order their findings are reported.
RULE_NAMES: tuple[str, ...] = get_args(RuleName)
#: What the rules look at: single features (the default), feature groups, or both.
CheckLevel = Literal["feature", "group", "both"]
CHECK_LEVELS: tuple[str, ...] = get_args(CheckLevel)
#: Rules with per-name thresholds, as the `[groups]` table names them.
_GROUP_RULES = ("share_change", "relative_change", "max_share", "min_share")

_TOP_KEYS = frozenset({"confidence", "heads", "level", "groups", *RULE_NAMES})
_TABLE_KEYS: Mapping[str, frozenset[str]] = {
    "share_change": frozenset({"enabled", "tolerance", "features"}),
    "relative_change": frozenset(
        {"enabled", "max_relative_change", "min_share_for_relative", "features"}
    ),
    "groups": frozenset(_GROUP_RULES),
    "top_k": frozenset({"enabled", "k", "min_gap"}),
    "rank_correlation": frozenset({"enabled", "floor"}),
    "max_share": frozenset({"enabled", "default", "features"}),
    "min_share": frozenset({"enabled", "features"}),
}


#: The per-name mappings of DriftRules.
_MAPPINGS = (
    "share_tolerances", "max_relative_changes", "max_shares", "min_shares",
    "group_share_tolerances", "group_max_relative_changes", "group_max_shares",
    "group_min_shares",
)  # fmt: skip
#: `[groups]` keys and the DriftRules mappings they fill (`group_<field>`).
_GROUP_FIELDS = (
    ("share_change", "share_tolerances"),
    ("relative_change", "max_relative_changes"),
    ("max_share", "max_shares"),
    ("min_share", "min_shares"),
)
_DEFAULT_RELATIVE: dict[str, Any] = {
    "enabled": False, "max_relative_change": 0.5, "min_share_for_relative": None, "features": {},
}  # fmt: skip


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class DriftRules:
    """Thresholds of `check_drift`. Shares are fractions of a head's total |attribution|.

    A difference counts only when its bootstrap interval (at `confidence`) excludes zero and
    it exceeds the rule's tolerance:

    - `share_change`: |share now - share before| > `share_tolerance` (per-feature overrides in
      `share_tolerances`);
    - `relative_change` (off by default): |share now - share before| > `max_relative_change`
      x share before (per-feature overrides in `max_relative_changes`), tested only where the
      share before is above `min_share_for_relative` (None: 1 / (2 x the number of features,
      or of groups)), so that tiny shares, whose relative moves are large and noisy, do not
      fire;
    - `top_k`: a feature entered the top `top_k` and another left, and each profile orders the
      pair the other way by more than `top_k_min_gap`;
    - `rank_correlation`: Spearman's rho between the two importance vectors below
      `rank_correlation_floor`, its interval's upper end too;
    - `max_share`: a feature's share now above its cap (`max_share_default`, or
      `max_shares[feature]`), its interval's lower end too;
    - `min_share`: a listed feature's share now below `min_shares[feature]`, its interval's
      upper end too.

    `heads`: the heads the rules apply to (None: every head both profiles hold). A rule whose
    `*_enabled` is False is skipped. `level`: whether the rules look at features, at feature
    groups (the profiles' per-group shares) or at both; at the group level, the per-name
    thresholds come from the `group_*` mappings (group name -> value), the defaults otherwise.
    """

    confidence: float = 0.95
    heads: tuple[str, ...] | None = None
    level: CheckLevel = "feature"
    share_change_enabled: bool = True
    share_tolerance: float = 0.02
    share_tolerances: Mapping[str, float] = field(default_factory=dict)
    relative_change_enabled: bool = False
    max_relative_change: float = 0.5
    min_share_for_relative: float | None = None
    max_relative_changes: Mapping[str, float] = field(default_factory=dict)
    top_k_enabled: bool = True
    top_k: int = 5
    top_k_min_gap: float = 0.005
    rank_correlation_enabled: bool = True
    rank_correlation_floor: float = 0.9
    max_share_enabled: bool = True
    max_share_default: float = 0.4
    max_shares: Mapping[str, float] = field(default_factory=dict)
    min_share_enabled: bool = True
    min_shares: Mapping[str, float] = field(default_factory=dict)
    group_share_tolerances: Mapping[str, float] = field(default_factory=dict)
    group_max_relative_changes: Mapping[str, float] = field(default_factory=dict)
    group_max_shares: Mapping[str, float] = field(default_factory=dict)
    group_min_shares: Mapping[str, float] = field(default_factory=dict)
    source: str = "<defaults>"

    def __post_init__(self) -> None:
        for name in _MAPPINGS:
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if self.heads is not None:
            object.__setattr__(self, "heads", tuple(self.heads))
        where = "DriftRules"
        _check_unit(self.confidence, "confidence", where, low=0.5)
        for name in ("share_tolerance", "top_k_min_gap", "max_share_default"):
            _check_share(getattr(self, name), name, where)
        _check_unit(self.rank_correlation_floor, "rank_correlation_floor", where, low=-1.0)
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise ParameterError(
                f"The 'top_k' parameter of {where} must be an int >= 1. Got {self.top_k!r} instead."
            )
        for name in _MAPPINGS:
            check = _check_factor if "relative" in name else _check_share
            for feature, value in getattr(self, name).items():
                check(value, f"{name}[{feature!r}]", where)
        _check_factor(self.max_relative_change, "max_relative_change", where)
        if self.min_share_for_relative is not None:
            _check_share(self.min_share_for_relative, "min_share_for_relative", where)
        if self.level not in CHECK_LEVELS:
            raise ParameterError(
                f"The 'level' parameter of {where} must be one of {', '.join(CHECK_LEVELS)}. "
                f"Got {self.level!r} instead."
            )

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels checked, features first: ("feature",), ("group",) or both."""
        return ("feature", "group") if self.level == "both" else (self.level,)

    def share_tolerance_of(self, feature: str, level: str = "feature") -> float:
        """The share-change tolerance of `feature` (a group's, at the group level)."""
        overrides = self.share_tolerances if level == "feature" else self.group_share_tolerances
        return overrides.get(feature, self.share_tolerance)

    def max_relative_change_of(self, feature: str, level: str = "feature") -> float:
        """The largest relative share change of `feature` (a group's, at the group level)."""
        overrides = (
            self.max_relative_changes if level == "feature" else self.group_max_relative_changes
        )
        return overrides.get(feature, self.max_relative_change)

    def relative_floor(self, subjects: int) -> float:
        """The share above which `relative_change` applies, among `subjects` features (or
        groups): `min_share_for_relative`, or half the average share, 1 / (2 x subjects)."""
        if self.min_share_for_relative is not None:
            return self.min_share_for_relative
        return 1.0 / (2 * max(subjects, 1))

    def max_share_of(self, feature: str, level: str = "feature") -> float | None:
        """The share cap of `feature`; at the group level, the group's listed cap, or None
        (groups are capped only when listed)."""
        if level == "group":
            return self.group_max_shares.get(feature)
        return self.max_shares.get(feature, self.max_share_default)

    def min_shares_of(self, level: str = "feature") -> Mapping[str, float]:
        """The listed minimum shares: of features, or of groups."""
        return self.min_shares if level == "feature" else self.group_min_shares

    def enabled(self, rule: str) -> bool:
        """Whether `rule` (one of RULE_NAMES) runs."""
        return bool(getattr(self, f"{rule}_enabled"))

    def to_dict(self) -> dict[str, Any]:
        """The rules as a TOML-shaped document (JSON-safe), for reports. `level`,
        `relative_change` and `groups` are listed only when they differ from the defaults, so
        reports of checks that do not use them read as before they existed."""
        document: dict[str, Any] = {
            "confidence": self.confidence,
            "heads": list(self.heads) if self.heads is not None else None,
            "share_change": {
                "enabled": self.share_change_enabled,
                "tolerance": self.share_tolerance,
                "features": dict(self.share_tolerances),
            },
            "top_k": {
                "enabled": self.top_k_enabled,
                "k": self.top_k,
                "min_gap": self.top_k_min_gap,
            },
            "rank_correlation": {
                "enabled": self.rank_correlation_enabled,
                "floor": self.rank_correlation_floor,
            },
            "max_share": {
                "enabled": self.max_share_enabled,
                "default": self.max_share_default,
                "features": dict(self.max_shares),
            },
            "min_share": {"enabled": self.min_share_enabled, "features": dict(self.min_shares)},
        }
        if self.level != "feature":
            document["level"] = self.level
        relative = {
            "enabled": self.relative_change_enabled,
            "max_relative_change": self.max_relative_change,
            "min_share_for_relative": self.min_share_for_relative,
            "features": dict(self.max_relative_changes),
        }
        if relative != _DEFAULT_RELATIVE:
            document["relative_change"] = relative
        groups = {rule: dict(getattr(self, f"group_{field}")) for rule, field in _GROUP_FIELDS}
        if any(groups.values()):
            document["groups"] = groups
        return document


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _check_unit(value: object, name: str, where: str, *, low: float) -> None:
    if not _is_number(value) or not low <= float(value) < 1.0:  # type: ignore[arg-type]
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a number in [{low}, 1). "
            f"Got {value!r} instead."
        )


def _check_share(value: object, name: str, where: str) -> None:
    if not _is_number(value) or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a share in [0, 1]. Got {value!r} instead."
        )


def _check_factor(value: object, name: str, where: str) -> None:
    if not _is_number(value) or not float(value) > 0.0:  # type: ignore[arg-type]
        raise ParameterError(
            f"The {name!r} parameter of {where} must be a number > 0 (0.5 = 50% of the "
            f"reference share). Got {value!r} instead."
        )


def _table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    table = raw.get(key, {})
    if not isinstance(table, Mapping):
        raise InputFileError(f"{where}: [{key}] must be a table")
    for name in table:
        if name not in _TABLE_KEYS[key]:
            raise UnknownKeyError(
                f"{where} [{key}]: unknown key {name!r}; "
                f"allowed: {', '.join(sorted(_TABLE_KEYS[key]))}"
            )
    return table


def _value(table: Mapping[str, Any], key: str, where: str, expected: str, ok: Any) -> Any:
    value = table[key]
    if not ok(value):
        raise InputFileError(f"{where}: {key!r} must be {expected}; got {value!r}")
    return value


def _shares(
    table: Mapping[str, Any], where: str, key: str = "features", *, factors: bool = False
) -> dict[str, float]:
    """The `key` table of name = share (or, with `factors`, name = relative change > 0)."""
    features = table.get(key, {})
    noun = "feature" if key == "features" else "group"
    value_name = "relative change" if factors else "share"
    if not isinstance(features, Mapping):
        raise InputFileError(f"{where}: {key!r} must be a table of {noun} = {value_name}")
    out = {}
    for feature, value in features.items():
        if factors and (not _is_number(value) or not float(value) > 0.0):
            raise InputFileError(
                f"{where}: {key}.{feature} must be a relative change > 0 (0.5 = 50%); got {value!r}"
            )
        if not factors and (not _is_number(value) or not 0.0 <= float(value) <= 1.0):
            raise InputFileError(
                f"{where}: {key}.{feature} must be a share in [0, 1]; got {value!r}"
            )
        out[str(feature)] = float(value)
    return out


def _enabled(table: Mapping[str, Any], where: str) -> bool:
    if "enabled" not in table:
        return True
    return bool(_value(table, "enabled", where, "true or false", lambda v: isinstance(v, bool)))


#: The defaults (docs/drift.md says how they were chosen).
DEFAULT_RULES = DriftRules()


def load_rules(path: Path | str) -> DriftRules:
    """Read a rules TOML file; keys left out keep their defaults.

    Raises InputFileError naming the file when it is missing or not TOML, or a value is out of
    range, and UnknownKeyError naming the file, the table and the key for an unknown key.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"{path}: rules file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputFileError(f"{path}: cannot read rules ({reason})") from None
    where = str(path)
    for key in raw:
        if key not in _TOP_KEYS:
            raise UnknownKeyError(
                f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(_TOP_KEYS))}"
            )
    number = (lambda v: _is_number(v), "a number")
    share = (lambda v: _is_number(v) and 0.0 <= v <= 1.0, "a share in [0, 1]")
    kwargs: dict[str, Any] = {"source": where}
    if "confidence" in raw:
        kwargs["confidence"] = _value(
            raw, "confidence", where, "a number in [0.5, 1)",
            lambda v: _is_number(v) and 0.5 <= v < 1.0,
        )  # fmt: skip
    if "heads" in raw:
        kwargs["heads"] = tuple(
            _value(
                raw, "heads", where, "a non-empty list of head names",
                lambda v: isinstance(v, list) and v and all(isinstance(h, str) for h in v),
            )
        )  # fmt: skip
    table = _table(raw, "share_change", where)
    context = f"{where} [share_change]"
    kwargs["share_change_enabled"] = _enabled(table, context)
    if "tolerance" in table:
        kwargs["share_tolerance"] = _value(table, "tolerance", context, share[1], share[0])
    kwargs["share_tolerances"] = _shares(table, context)
    if "level" in raw:
        kwargs["level"] = _value(
            raw, "level", where, f"one of {', '.join(CHECK_LEVELS)}", lambda v: v in CHECK_LEVELS
        )
    table = _table(raw, "relative_change", where)
    context = f"{where} [relative_change]"
    # Off by default: writing the table turns it on (unless it says `enabled = false`).
    kwargs["relative_change_enabled"] = "relative_change" in raw and _enabled(table, context)
    factor = (lambda v: _is_number(v) and v > 0, "a number > 0 (0.5 = 50% of the share)")
    if "max_relative_change" in table:
        kwargs["max_relative_change"] = _value(
            table, "max_relative_change", context, factor[1], factor[0]
        )
    if "min_share_for_relative" in table:
        kwargs["min_share_for_relative"] = _value(
            table, "min_share_for_relative", context, share[1], share[0]
        )
    kwargs["max_relative_changes"] = _shares(table, context, factors=True)
    table = _table(raw, "top_k", where)
    context = f"{where} [top_k]"
    kwargs["top_k_enabled"] = _enabled(table, context)
    if "k" in table:
        kwargs["top_k"] = _value(
            table, "k", context, "an integer >= 1",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        )  # fmt: skip
    if "min_gap" in table:
        kwargs["top_k_min_gap"] = _value(table, "min_gap", context, share[1], share[0])
    table = _table(raw, "rank_correlation", where)
    context = f"{where} [rank_correlation]"
    kwargs["rank_correlation_enabled"] = _enabled(table, context)
    if "floor" in table:
        kwargs["rank_correlation_floor"] = _value(
            table, "floor", context, "a number in [-1, 1)",
            lambda v: number[0](v) and -1.0 <= v < 1.0,
        )  # fmt: skip
    table = _table(raw, "max_share", where)
    context = f"{where} [max_share]"
    kwargs["max_share_enabled"] = _enabled(table, context)
    if "default" in table:
        kwargs["max_share_default"] = _value(table, "default", context, share[1], share[0])
    kwargs["max_shares"] = _shares(table, context)
    table = _table(raw, "min_share", where)
    context = f"{where} [min_share]"
    kwargs["min_share_enabled"] = _enabled(table, context)
    kwargs["min_shares"] = _shares(table, context)
    table = _table(raw, "groups", where)
    context = f"{where} [groups]"
    for rule, name in _GROUP_FIELDS:
        kwargs[f"group_{name}"] = _shares(table, context, rule, factors=rule == "relative_change")
    return DriftRules(**kwargs)
