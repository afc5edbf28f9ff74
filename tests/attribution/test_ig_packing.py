"""Requests packed together: IG explains several groups in shared forward/backward chunks, and
each group's explanation is the one it gets alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution import base
from rankaudit.attribution.api import attribute_frame
from rankaudit.attribution.base import GroupExplanation, explain_groups
from rankaudit.attribution.groups import Group, request_groups
from rankaudit.attribution.ig import TorchIntegratedGradients
from rankaudit.attribution.paths import Nodes, Pieces, join_nodes
from rankaudit.attribution.settings import AttributionSettings


@pytest.mark.parametrize("name", ["masknet", "category_shift"])
def test_a_packed_group_is_explained_as_it_is_alone(
    ranker: Any, frame: pd.DataFrame, name: str
) -> None:
    # masknet: embeddings integrated, ReLU kinks, rows refined; category_shift: an entry
    # point whose categories are split by exact Shapley values.
    model = ranker(name)
    settings = AttributionSettings()
    explainer = TorchIntegratedGradients(model, (*model.heads, "score"), settings)
    groups = list(request_groups(frame, settings))
    assert len(groups) == 4
    alone = [explainer.explain(g) for g in groups]
    packed = explainer.explain_pack(groups)
    assert len(packed) == len(groups)
    for one, many, group in zip(alone, packed, groups, strict=True):
        np.testing.assert_array_equal(one.converged, many.converged)
        for target in one.attributions:
            # Only float32 rounding of the shared chunks differs (measured: 5e-10).
            np.testing.assert_allclose(
                many.attributions[target], one.attributions[target], rtol=1e-6, atol=1e-8
            )
            np.testing.assert_array_equal(many.scores[target], one.scores[target])
        assert many.attributions["score"].shape == (len(group.rows), len(explainer.features))


def test_a_pack_takes_fewer_integration_calls_than_its_groups_alone(
    ranker: Any, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ranker("masknet")
    settings = AttributionSettings()
    explainer = TorchIntegratedGradients(model, (*model.heads, "score"), settings)
    groups = list(request_groups(frame, settings))
    calls: list[int] = []
    integrate = explainer._integrate

    def counted(x: Any, b: Any, fixed: Any, nodes: Nodes | int, forward: Any) -> Any:
        calls.append(int(x[0].shape[0]))
        return integrate(x, b, fixed, nodes, forward)

    monkeypatch.setattr(explainer, "_integrate", counted)
    for group in groups:
        explainer.explain(group)
    alone, alone_pairs = len(calls), sum(calls)
    assert alone > len(groups)  # the groups refine: rounds after the first
    calls.clear()
    explainer.explain_pack(groups)
    # One call per refinement round of the slowest group, the same pairs in all.
    assert sum(calls) == alone_pairs
    assert len(calls) < alone
    assert len(calls) <= max(1, alone - len(groups) + 1)


class _Recording:
    """A packing attributor that records the packs it is given."""

    method = "fake"
    features = ("a",)
    targets = ("score",)

    def __init__(self) -> None:
        self.packs: list[list[int]] = []

    def _one(self, group: Group) -> GroupExplanation:
        n = len(group.rows)
        return GroupExplanation(
            attributions={"score": np.full((n, 1), float(n))},
            scores={"score": np.zeros(n)},
            reference_scores={"score": np.zeros(n)},
            converged=np.ones(n, dtype=bool),
        )

    def explain(self, group: Group) -> GroupExplanation:
        return self.explain_pack([group])[0]

    def explain_pack(self, groups: Sequence[Group]) -> list[GroupExplanation]:
        self.packs.append([len(g.rows) for g in groups])
        return [self._one(g) for g in groups]


def _group(rows: int) -> Group:
    frame = pd.DataFrame({"tweet_id": [f"t{i}" for i in range(rows)]})
    return Group(rows=frame, baselines=frame)


def test_consecutive_groups_are_packed_up_to_the_pair_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "PACK_PAIRS", 20)
    sizes = [2, 3, 4, 5, 1, 1, 2]  # pairs 4, 9, 16, 25, 1, 1, 4
    attributor = _Recording()
    out = list(explain_groups(attributor, (_group(s) for s in sizes)))
    # A pack closes at the group that reaches the budget; the rest is the last pack.
    assert attributor.packs == [[2, 3, 4], [5], [1, 1, 2]]
    assert [len(g.rows) for g, _ in out] == sizes  # in order, each with its own explanation
    assert [float(e.attributions["score"][0, 0]) for _, e in out] == [float(s) for s in sizes]


def test_an_attributor_that_does_not_pack_explains_group_by_group(
    ranker: Any, frame: pd.DataFrame
) -> None:
    model = ranker("lightgbm")
    settings = AttributionSettings()
    from rankaudit.attribution.registry import make_attributor

    attributor = make_attributor(model, "shap", heads=None, settings=settings)
    assert not isinstance(attributor, base.Packing)
    groups = list(request_groups(frame, settings))
    out = list(explain_groups(attributor, groups))
    assert [g for g, _ in out] == groups
    for (_, explanation), group in zip(out, groups, strict=True):
        expected = attributor.explain(group)
        np.testing.assert_array_equal(
            explanation.attributions["score"], expected.attributions["score"]
        )


def test_tweets_of_a_packed_call_equal_the_whole_call(ranker: Any, frame: pd.DataFrame) -> None:
    model = ranker("masknet")
    options: dict[str, Any] = {"methods": ("ig",), "reference": "request"}
    whole = attribute_frame(model, frame, **options).frame
    tweets = list(frame.groupby("request_id", sort=False)["tweet_id"].last())
    some = attribute_frame(model, frame, tweets=tweets, **options).frame
    keys = ["tweet_id", "head", "feature"]
    merged = some.merge(whole, on=keys, suffixes=("", "_whole"))
    assert len(merged) == len(some) > 0
    np.testing.assert_allclose(
        merged["attribution"], merged["attribution_whole"], rtol=1e-6, atol=1e-8
    )


def test_nodes_join_and_pieces_select_renumber_pairs() -> None:
    first = Nodes(np.array([0, 0, 1]), np.array([0.2, 0.8, 0.5]), np.array([0.5, 0.5, 1.0]))
    second = Nodes(np.array([0, 1, 1]), np.array([0.5, 0.1, 0.9]), np.array([1.0, 0.5, 0.5]))
    joined = join_nodes([first, second], [2, 2])
    np.testing.assert_array_equal(joined.pair, [0, 0, 1, 2, 3, 3])
    np.testing.assert_array_equal(joined.alpha, [0.2, 0.8, 0.5, 0.5, 0.1, 0.9])
    pieces = Pieces(
        pair=np.array([0, 0, 1, 2, 2, 2]),
        start=np.array([0.0, 0.5, 0.0, 0.0, 0.2, 0.7]),
        length=np.array([0.5, 0.5, 1.0, 0.2, 0.5, 0.3]),
        kinked=True,
    )
    middle = pieces.select(1, 3)
    np.testing.assert_array_equal(middle.pair, [0, 1, 1, 1])
    np.testing.assert_array_equal(middle.start, [0.0, 0.0, 0.2, 0.7])
    assert pieces.select(3, 4).pair.size == 0
