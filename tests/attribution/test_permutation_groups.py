"""Permutation SHAP over feature groups: exact on linear models (the group's summed
w_i (x_i - r_i)), efficient on models with interactions, equal to the per-feature values for
single-feature groups, seeded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution.grouping import group_members
from rankaudit.attribution.groups import Group, request_groups
from rankaudit.attribution.permutation import PermutationShap, TorchPermutationShap, players
from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.errors import AttributionError
from rankaudit.synth.features import DEMO_SPEC
from tests.attribution.conftest import LINEAR_WEIGHTS, NUMERIC

SETTINGS = AttributionSettings(shap_permutations=3, seed=4)
#: Two groups of the linear models' four features, listed out of feature order on purpose.
LINEAR_GROUPS = {"b": ["tweet_age_minutes", "social_proof_count"], "a": NUMERIC[:2]}


def _request(frame: pd.DataFrame) -> Group:
    """The first request's rows against its own candidates."""
    return next(request_groups(frame, SETTINGS))


def _efficiency_gap(explanation: Any, target: str) -> float:
    total = explanation.attributions[target].sum(axis=1)
    gap = total - (explanation.scores[target] - explanation.reference_scores[target])
    return float(np.abs(gap).max())


def test_linear_group_values_are_the_exact_group_sums(ranker: Any, frame: pd.DataFrame) -> None:
    group = _request(frame)
    attributor = PermutationShap(ranker("linear"), (FINAL,), SETTINGS, groups=LINEAR_GROUPS)
    assert attributor.features == ("a", "b")  # groups by their first member's position
    explanation = attributor.explain(group)
    delta = group.rows[NUMERIC].to_numpy() - group.baselines[NUMERIC].to_numpy().mean(axis=0)
    per_feature = np.asarray(LINEAR_WEIGHTS) * delta
    expected = np.stack([per_feature[:, :2].sum(axis=1), per_feature[:, 2:].sum(axis=1)], axis=1)
    np.testing.assert_allclose(explanation.attributions[FINAL], expected, rtol=0, atol=1e-9)
    assert _efficiency_gap(explanation, FINAL) <= 1e-9
    # The explained score is the ranker's own.
    np.testing.assert_allclose(
        explanation.scores[FINAL], ranker("linear").score(group.rows), rtol=0, atol=1e-12
    )


def test_a_single_feature_group_of_a_linear_model_is_its_feature_value(
    ranker: Any, frame: pd.DataFrame
) -> None:
    group = _request(frame)
    groups = {
        "age": ["tweet_age_minutes"],
        "rest": [n for n in NUMERIC if n != "tweet_age_minutes"],
    }
    explanation = PermutationShap(ranker("linear"), (FINAL,), SETTINGS, groups=groups).explain(
        group
    )
    column = group.rows["tweet_age_minutes"].to_numpy()
    expected = LINEAR_WEIGHTS[2] * (column - group.baselines["tweet_age_minutes"].mean())
    np.testing.assert_allclose(explanation.attributions[FINAL][:, 1], expected, atol=1e-9)


def test_interactions_keep_efficiency_exactly(ranker: Any, frame: pd.DataFrame) -> None:
    """The logistic link makes every feature interact; the group values still sum to
    f(x) - mean f(baselines), computed here from the ranker's own scores."""
    model = ranker("logistic")
    group = _request(frame)
    explanation = PermutationShap(model, (FINAL,), SETTINGS, groups=LINEAR_GROUPS).explain(group)
    expected = model.score(group.rows) - np.mean(model.score(group.baselines))
    np.testing.assert_allclose(
        explanation.attributions[FINAL].sum(axis=1), expected, rtol=0, atol=1e-9
    )


def test_torch_groups_are_efficient_seeded_and_cheaper(ranker: Any, frame: pd.DataFrame) -> None:
    model = ranker("masknet")
    group = _request(frame)
    per_feature = TorchPermutationShap(model, (*model.heads, FINAL), SETTINGS)
    groups = group_members(per_feature.features, DEMO_SPEC)
    assert 1 < len(groups) < len(per_feature.features)
    grouped = TorchPermutationShap(model, (*model.heads, FINAL), SETTINGS, groups=groups)
    assert grouped.features == tuple(groups)
    explanation = grouped.explain(group)
    for target in (*model.heads, FINAL):
        assert explanation.attributions[target].shape == (len(group.rows), len(groups))
        assert _efficiency_gap(explanation, target) <= 1e-9
    # The same scores and references as the per-feature game: only the players differ.
    reference = per_feature.explain(group)
    np.testing.assert_allclose(
        explanation.reference_scores[FINAL], reference.reference_scores[FINAL], atol=1e-12
    )
    again = grouped.explain(group)
    np.testing.assert_array_equal(again.attributions[FINAL], explanation.attributions[FINAL])


def test_single_feature_groups_give_the_per_feature_values(
    ranker: Any, frame: pd.DataFrame
) -> None:
    group = _request(frame)
    model = ranker("masknet")
    per_feature = TorchPermutationShap(model, (FINAL,), SETTINGS)
    singletons = {f"g_{name}": [name] for name in reversed(per_feature.features)}
    grouped = TorchPermutationShap(model, (FINAL,), SETTINGS, groups=singletons)
    assert grouped.features == tuple(f"g_{name}" for name in per_feature.features)
    np.testing.assert_array_equal(
        grouped.explain(group).attributions[FINAL], per_feature.explain(group).attributions[FINAL]
    )
    linear = ranker("linear")
    shap_singletons = {name: [name] for name in NUMERIC}
    np.testing.assert_array_equal(
        PermutationShap(linear, (FINAL,), SETTINGS, groups=shap_singletons)
        .explain(group)
        .attributions[FINAL],
        PermutationShap(linear, (FINAL,), SETTINGS).explain(group).attributions[FINAL],
    )


def test_a_pure_interaction_in_one_group_or_two(ranker: Any, frame: pd.DataFrame) -> None:
    """f = x0 * x1 against one baseline b: one group takes all of f(x) - f(b); two groups
    split it as Shapley does, d0 * (b1 + d1 / 2) and d1 * (b0 + d0 / 2)."""
    model = ranker("product")
    rows = frame.iloc[[0]]
    base = frame.iloc[[1]]
    group = Group(rows=rows, baselines=base)
    x = rows[NUMERIC[:2]].to_numpy(dtype=float)[0]
    b = base[NUMERIC[:2]].to_numpy(dtype=float)[0]
    d = x - b
    together = TorchPermutationShap(model, (FINAL,), SETTINGS, groups={"both": NUMERIC[:2]})
    value = together.explain(group).attributions[FINAL][0]
    np.testing.assert_allclose(value, [x[0] * x[1] - b[0] * b[1]], rtol=1e-5)
    apart = TorchPermutationShap(
        model, (FINAL,), SETTINGS, groups={"x0": NUMERIC[:1], "x1": NUMERIC[1:2]}
    ).explain(group)
    np.testing.assert_allclose(
        apart.attributions[FINAL][0], [d[0] * (b[1] + d[1] / 2), d[1] * (b[0] + d[0] / 2)],
        rtol=1e-4,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"a": NUMERIC[:2]}, "are in no group"),
        ({"a": NUMERIC, "b": NUMERIC[:1]}, "is in two groups"),
        ({"a": [*NUMERIC, "nope"]}, "names 'nope', which the model does not read"),
        ({"a": NUMERIC, "b": []}, "group 'b' has no members"),
    ],
)
def test_groups_must_split_the_features(groups: dict[str, list[str]], message: str) -> None:
    with pytest.raises(AttributionError, match=message):
        players(tuple(NUMERIC), groups)
