"""Attributions that stay readable with hundreds of features.

Two ways to shorten one explanation (a table with one row per feature and one attribution
column per method) without losing its sum:

- `top_contributions`: the `top` largest rows and one more row, "all other features (K)",
  holding the sum of the K others;
- `group_contributions`: one row per feature group of the spec, the sum of its members.

Both only regroup the same numbers, so per method the rows still add up to the sum of every
feature's attribution (score − reference, up to the method's completeness error): efficiency
is kept. Rows are ordered by |attribution| (the largest over the methods), ties by name, so
equal inputs give equal tables. Sums are exactly rounded (`math.fsum`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import ParameterError

__all__ = [
    "DEFAULT_TOP",
    "OTHER_FEATURES",
    "OTHER_GROUPS",
    "UNGROUPED",
    "By",
    "GroupMembers",
    "check_by",
    "check_top",
    "feature_groups",
    "group_contributions",
    "group_members",
    "other_label",
    "rank_contributions",
    "top_contributions",
]

#: Rows shown before "all other features" when nothing else is asked for.
DEFAULT_TOP = 12
#: The label of the summed row (followed by the count of what it sums, in parentheses).
OTHER_FEATURES = "all other features"
OTHER_GROUPS = "all other groups"
#: The group of a feature that the spec does not list (or when there is no spec).
UNGROUPED = "(no group)"

#: What one row of a shortened explanation stands for.
By = Literal["feature", "group"]


def check_by(value: object, where: str) -> By:
    """`value` as a `By`; raises ParameterError naming `where` and the valid values."""
    valid = get_args(By)
    if value not in valid:
        raise ParameterError(
            f"The 'by' parameter of {where} must be one of {', '.join(valid)}. Got {value!r} instead."
        )
    return value  # type: ignore[return-value]


def check_top(value: object, where: str) -> int:
    """`value` as a row count >= 1; raises ParameterError naming `where`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ParameterError(
            f"The 'top' parameter of {where} must be an int >= 1. Got {value!r} instead."
        )
    return int(value)


def other_label(by: By, count: int) -> str:
    """'all other features (K)' or 'all other groups (K)'."""
    return f"{OTHER_FEATURES if by == 'feature' else OTHER_GROUPS} ({count})"


#: Feature groups: group name -> its member features, groups in order of their first member.
GroupMembers = Mapping[str, tuple[str, ...]]


def feature_groups(spec: FeatureSpec | None, features: Iterable[str] = ()) -> dict[str, str]:
    """feature -> its group (the spec's free text), for every feature of `spec` and of
    `features`; a feature the spec does not list, or every feature without a spec, is in
    `UNGROUPED`."""
    groups = {} if spec is None else {f.name: f.group for f in spec}
    for name in features:
        groups.setdefault(str(name), UNGROUPED)
    return groups


def group_members(features: Sequence[str], spec: FeatureSpec | None) -> dict[str, tuple[str, ...]]:
    """The groups of `features` by the spec's free-text `group` (empty without a spec).

    Groups come in the order of their first member in `features`, members in `features`
    order. A feature the spec does not list (a model may read a column outside it) is a group
    of its own, named after the feature: these are SHAP's players when it plays groups, and
    the groups a drift profile measures.
    """
    if spec is None:
        return {}
    groups: dict[str, list[str]] = {}
    for name in features:
        group = spec[name].group if name in spec else name
        groups.setdefault(group, []).append(name)
    return {g: tuple(members) for g, members in groups.items()}


def rank_contributions(
    table: pd.DataFrame, methods: Sequence[str], *, name: str = "feature"
) -> pd.DataFrame:
    """`table` (one row per `name`, one attribution column per method) ordered by the largest
    |attribution| over `methods`, descending, ties by `name` ascending; a new 0..n-1 index."""
    size = table[list(methods)].abs().max(axis=1) if methods else 0.0
    ordered = table.assign(_size=size, _name=table[name].astype(str)).sort_values(
        ["_size", "_name"], ascending=[False, True], kind="stable"
    )
    return ordered.drop(columns=["_size", "_name"]).reset_index(drop=True)


def top_contributions(
    table: pd.DataFrame,
    methods: Sequence[str],
    *,
    top: int = DEFAULT_TOP,
    name: str = "feature",
) -> pd.DataFrame:
    """The `top` largest rows of `table` (ranked as `rank_contributions` does), plus, when K
    rows are left, one row named `other_label` holding per method the sum of those K rows
    (other columns empty). Adds `members` (features a row stands for: 1 per feature, the
    group's size per group, the total for the summed row; a `members` column of `table` is
    used when present) and `other` (True on the summed row only). Per method, the result's
    column sums equal `table`'s. Raises ParameterError for `top` < 1."""
    top = check_top(top, "top_contributions")
    ranked = rank_contributions(table, methods, name=name)
    if "members" not in ranked:
        ranked = ranked.assign(members=np.ones(len(ranked), dtype=np.int64))
    shown = ranked.head(top).assign(other=False)
    rest = ranked.iloc[top:]
    if rest.empty:
        return shown.reset_index(drop=True)
    summed: dict[str, object] = {
        name: other_label("feature" if name == "feature" else "group", len(rest)),
        "members": int(rest["members"].sum()),
        "other": True,
    }
    for method in methods:
        summed[method] = math.fsum(rest[method].to_numpy(dtype=np.float64))
    row = pd.DataFrame([summed]).reindex(columns=shown.columns)
    out = pd.concat([shown, row.astype({"other": bool})], ignore_index=True)
    return out.astype({"members": np.int64, "other": bool})


def group_contributions(
    table: pd.DataFrame, groups: Mapping[str, str], methods: Sequence[str]
) -> pd.DataFrame:
    """One row per feature group: `group`, `members` (its features in `table`), `features`
    (their names, as `rank_contributions` orders them) and per method the exactly rounded sum
    of the members' attributions. `table` has one row per `feature`; a feature missing from
    `groups` is in `UNGROUPED`. Groups are ordered by the largest |sum| over `methods`, ties
    by group name."""
    ranked = rank_contributions(table, methods)
    names = ranked["feature"].astype(str)
    member_of = names.map(lambda f: groups.get(f, UNGROUPED)).to_numpy(dtype=object)
    rows = []
    for group in dict.fromkeys(member_of):
        mask = member_of == group
        row: dict[str, object] = {
            "group": str(group),
            "members": int(mask.sum()),
            "features": tuple(names[mask]),
        }
        for method in methods:
            row[method] = math.fsum(ranked.loc[mask, method].to_numpy(dtype=np.float64))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["group", "members", "features", *methods])
    return rank_contributions(frame.astype({"members": np.int64}), methods, name="group")
