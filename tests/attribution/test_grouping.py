"""Top contributions and feature groups: the same numbers regrouped, in a fixed order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution.grouping import (
    UNGROUPED,
    check_by,
    feature_groups,
    group_contributions,
    rank_contributions,
    top_contributions,
)
from rankaudit.data.spec import Feature, FeatureSpec
from rankaudit.errors import ParameterError

METHODS = ["shap", "ig"]


def _table(values: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"feature": f, "value": 1.0, "shap": s, "ig": i} for f, (s, i) in values.items()]
    )


def test_ties_in_magnitude_are_broken_by_name_whatever_the_input_order() -> None:
    values = {"c": (0.5, 0.1), "a": (-0.5, 0.0), "b": (0.2, -0.5), "d": (0.7, 0.0), "e": (0.0, 0.0)}
    expected = ["d", "a", "b", "c", "e"]  # |0.5| three times: a, b, c by name
    table = _table(values)
    for seed in range(5):
        shuffled = table.sample(frac=1.0, random_state=seed)
        assert rank_contributions(shuffled, METHODS)["feature"].tolist() == expected
    # Ranking by one method only: b drops to |0.2|.
    assert rank_contributions(table, ["shap"])["feature"].tolist() == ["d", "a", "c", "b", "e"]


def test_top_rows_and_the_rest_add_up_exactly() -> None:
    rng = np.random.default_rng(3)
    values = {
        f"x{i:03d}": (float(s), float(g)) for i, (s, g) in enumerate(rng.normal(size=(220, 2)))
    }
    table = _table(values)
    for top in (1, 5, 12, 219):
        shown = top_contributions(table, METHODS, top=top)
        assert len(shown) == top + 1
        assert shown["other"].tolist() == [False] * top + [True]
        assert shown["feature"].iat[-1] == f"all other features ({220 - top})"
        assert shown["members"].tolist() == [1] * top + [220 - top]
        ranked = rank_contributions(table, METHODS)
        assert shown["feature"].iloc[:top].tolist() == ranked["feature"].iloc[:top].tolist()
        for method in METHODS:
            assert shown[method].iat[-1] == math.fsum(ranked[method].iloc[top:])
            assert sum(shown[method]) == pytest.approx(math.fsum(table[method]), abs=1e-12)
    # Nothing left over: no summed row.
    everything = top_contributions(table, METHODS, top=220)
    assert len(everything) == 220
    assert not everything["other"].any()
    assert len(top_contributions(table, METHODS, top=500)) == 220


def test_groups_are_hand_sums_ordered_by_magnitude() -> None:
    table = _table(
        {"a": (1.0, 0.9), "b": (-3.0, -2.0), "c": (0.5, 0.5), "d": (2.5, 2.0), "e": (0.25, 0.0)}
    )
    groups = {"a": "one", "b": "two", "c": "one", "d": "three"}  # e is in no group
    grouped = group_contributions(table, groups, METHODS)
    assert grouped["group"].tolist() == ["two", "three", "one", UNGROUPED]
    assert grouped["members"].tolist() == [1, 1, 2, 1]
    assert grouped.set_index("group").loc["one", "features"] == ("a", "c")
    assert grouped.set_index("group").loc["one", "shap"] == 1.5
    assert grouped.set_index("group").loc["one", "ig"] == 1.4
    for method in METHODS:
        assert grouped[method].sum() == pytest.approx(table[method].sum(), abs=1e-15)
    # Equal |sum|: ordered by group name; the summed row counts groups and their features.
    tied = group_contributions(_table({"p": (1.0, 0.0), "q": (-1.0, 0.0), "r": (0.1, 0.0)}),
                               {"p": "y", "q": "x", "r": "z"}, METHODS)  # fmt: skip
    assert tied["group"].tolist() == ["x", "y", "z"]
    shown = top_contributions(tied, METHODS, top=1, name="group")
    assert shown["group"].tolist() == ["x", "all other groups (2)"]
    assert shown["members"].tolist() == [1, 2]
    assert shown["shap"].tolist() == [-1.0, 1.1]


def test_feature_groups_come_from_the_spec() -> None:
    spec = FeatureSpec(
        (
            Feature("a", "continuous", "query-document", "", ""),
            Feature("b", "binary", "query", "", ""),
        )
    )
    assert feature_groups(spec, ["a", "z"]) == {"a": "query-document", "b": "query", "z": UNGROUPED}
    assert feature_groups(None, ["a"]) == {"a": UNGROUPED}


def test_bad_options_are_parameter_errors() -> None:
    with pytest.raises(
        ParameterError,
        match=r"The 'top' parameter of top_contributions must be an int >= 1. Got 0 instead.",
    ):
        top_contributions(_table({"a": (1.0, 1.0)}), METHODS, top=0)
    with pytest.raises(
        ParameterError,
        match=r"The 'by' parameter of here must be one of feature, group. Got 'groups' instead.",
    ):
        check_by("groups", "here")
