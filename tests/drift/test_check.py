"""check_drift on synthetic profiles with known shifts: each rule fires when, and only when, its
change is both significant and past its tolerance; mismatched profiles are refused."""

from __future__ import annotations

import numpy as np
import pytest

from rankaudit.drift import DriftRules, ProfileMismatch, check_drift
from rankaudit.errors import ParameterError
from tests.drift.conftest import FEATURES, SHARES, shifted, synthetic_profile

ONLY_SHARES = DriftRules(top_k_enabled=False, rank_correlation_enabled=False)


def test_the_same_model_on_two_samples_passes() -> None:
    result = check_drift(synthetic_profile(seed=1), synthetic_profile(seed=2))
    assert result.passed
    assert result.findings == ()
    assert result.first_feature is None
    # 8 share_change + 8 max_share + top_k + rank_correlation cases, all passing.
    assert len(result.cases) == 18
    assert all(c.passed for c in result.cases)
    assert np.abs(result.moves["change"]).max() < 0.02


def test_a_feature_losing_its_share_is_named_first() -> None:
    before = synthetic_profile(seed=1)
    after = synthetic_profile(shifted(SHARES, 1, 0.02), seed=2)  # b: 22% -> 2%
    result = check_drift(before, after)
    assert not result.passed
    first = result.findings[0]
    assert (first.rule, first.head, first.feature) == ("share_change", "score", "b")
    assert first.before == pytest.approx(0.22, abs=0.01)
    assert first.after == pytest.approx(0.02, abs=0.005)
    assert first.high < 0  # the interval of the change excludes zero
    assert first.low < first.high
    assert first.threshold == 0.02
    assert "b share fell from" in first.message
    assert result.first_feature == "b"
    assert result.moves["feature"].iloc[0] == "b"
    assert bool(result.moves["drifted"].iloc[0])
    # The others gained 0.20 / 0.78 = 26% of what they had: a (30% -> 37.7%) also drifted,
    # but it kept most of its share, so it comes after b.
    drifted = set(result.moves.loc[result.moves["drifted"], "feature"])
    assert {"a", "b", "c"} <= drifted
    assert {f.feature for f in result.findings if f.rule == "share_change"} == drifted


def test_a_change_below_the_tolerance_does_not_count() -> None:
    # c: 16% -> 17.5%: significant with 4,000 requests, but under the 2-point tolerance.
    before = synthetic_profile(seed=1, requests=4000)
    after = synthetic_profile(shifted(SHARES, 2, 0.175), seed=2, requests=4000)
    result = check_drift(before, after, rules=ONLY_SHARES)
    row = result.moves.set_index("feature").loc["c"]
    assert row["change_low"] > 0  # significant ...
    assert abs(row["change"]) < 0.02  # ... but small
    assert result.passed
    tight = check_drift(before, after, rules=DriftRules(share_tolerance=0.01))
    assert [f.feature for f in tight.findings if f.rule == "share_change"] == ["c"]


def test_a_large_but_noisy_change_does_not_count() -> None:
    # 5 requests of very noisy sums: big point moves, intervals that include zero.
    before = synthetic_profile(seed=1, requests=5, noise=2.0)
    after = synthetic_profile(seed=2, requests=5, noise=2.0)
    result = check_drift(before, after, rules=ONLY_SHARES)
    moves = result.moves
    assert (np.abs(moves["change"]) > 0.02).any()
    assert not (moves["drifted"] & (moves["change_low"] <= 0) & (moves["change_high"] >= 0)).any()
    assert result.passed == (not moves["drifted"].any())


def test_per_feature_tolerances_apply() -> None:
    before = synthetic_profile(seed=1)
    after = synthetic_profile(shifted(SHARES, 1, 0.02), seed=2)
    lenient = DriftRules(
        share_tolerance=0.5,
        share_tolerances={"b": 0.1},
        top_k_enabled=False,
        rank_correlation_enabled=False,
    )
    result = check_drift(before, after, rules=lenient)
    assert [(f.rule, f.feature) for f in result.findings] == [("share_change", "b")]


def test_caps_and_minimum_shares() -> None:
    before = synthetic_profile(seed=1)
    after = synthetic_profile(shifted(SHARES, 0, 0.5), seed=2)  # a: 30% -> 50%
    rules = DriftRules(
        share_tolerance=0.9, top_k_enabled=False, rank_correlation_enabled=False,
        min_shares={"h": 0.05, "c": 0.01},
    )  # fmt: skip
    result = check_drift(before, after, rules=rules)
    by_rule = {(f.rule, f.feature): f for f in result.findings}
    assert set(by_rule) == {("max_share", "a"), ("min_share", "h")}
    cap = by_rule[("max_share", "a")]
    assert cap.threshold == 0.4
    assert cap.low > 0.4
    assert "above its cap of 40.0%" in cap.message
    assert by_rule[("min_share", "h")].high < 0.05
    # The reference itself is within the cap: the same check on it passes.
    assert check_drift(before, synthetic_profile(seed=3), rules=rules).findings[0].rule == (
        "min_share"
    )
    loose = DriftRules(max_shares={"a": 0.6}, share_tolerance=0.9, top_k_enabled=False)
    assert check_drift(before, after, rules=loose).passed


def test_a_swap_in_the_top_k() -> None:
    # e (8%, rank 5) falls to 1%; f (6%, rank 6) rises to 11%.
    shares = list(SHARES)
    shares[4], shares[5] = 0.01, 0.13
    total = sum(shares)
    after = synthetic_profile(tuple(s / total for s in shares), seed=2)
    result = check_drift(synthetic_profile(seed=1), after, rules=DriftRules(share_tolerance=0.9))
    findings = [f for f in result.findings if f.rule == "top_k"]
    assert len(findings) == 1
    assert {findings[0].feature, findings[0].other_feature} == {"e", "f"}
    assert "f entered the top 5" in findings[0].message
    assert "e left it" in findings[0].message
    # A tie at the boundary that flips by noise is not a finding: d and e swap by 0.5 points.
    tied = list(SHARES)
    tied[3], tied[4] = 0.10, 0.10
    result = check_drift(
        synthetic_profile(tuple(tied), seed=1),
        synthetic_profile(tuple(tied), seed=2),
        rules=DriftRules(top_k=4, share_tolerance=0.9),
    )
    assert result.passed


def test_rank_correlation_floor() -> None:
    reversed_shares = tuple(reversed(SHARES))
    result = check_drift(
        synthetic_profile(seed=1),
        synthetic_profile(reversed_shares, seed=2),
        rules=DriftRules(share_tolerance=0.9, top_k_enabled=False, max_share_enabled=False),
    )
    assert [f.rule for f in result.findings] == ["rank_correlation"]
    finding = result.findings[0]
    assert finding.after == pytest.approx(-1.0)
    assert finding.feature is None
    assert finding.high < 0.9


def test_heads_are_checked_separately_and_rules_can_pick_them() -> None:
    heads = ("favorite", "score")
    before = synthetic_profile(seed=1, heads=heads)
    after = synthetic_profile(shifted(SHARES, 1, 0.02), seed=2, heads=heads)
    result = check_drift(before, after)
    assert {f.head for f in result.findings} == {"favorite", "score"}
    only = check_drift(before, after, rules=DriftRules(heads=("favorite",)))
    assert {f.head for f in only.findings} == {"favorite"}
    with pytest.raises(ParameterError, match="head 'reply' is not profiled; profiled: favorite"):
        check_drift(before, after, rules=DriftRules(heads=("reply",)))


def test_rules_naming_unknown_features_are_refused() -> None:
    profile = synthetic_profile()
    with pytest.raises(ParameterError, match=r"\[min_share\]: unknown feature 'zz'"):
        check_drift(profile, profile, rules=DriftRules(min_shares={"zz": 0.1}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "shap"}, "different methods (ig vs shap); profile both with --method ig"),
        ({"reference": "global"}, "different references (request vs global)"),
        ({"heads": ("favorite",)}, "profile different heads (score vs favorite)"),
        ({"features": (*FEATURES[:-1], "zz")}, "only in the reference: h; only in the current: zz"),
    ],
)
def test_mismatched_profiles_are_refused(changes: dict[str, object], message: str) -> None:
    options: dict[str, object] = {"seed": 2}
    if "features" in changes:
        options["features"] = changes["features"]
    if "heads" in changes:
        options["heads"] = changes["heads"]
    for key in ("method", "reference"):
        if key in changes:
            options[key] = changes[key]
    with pytest.raises(ProfileMismatch) as info:
        check_drift(synthetic_profile(seed=1), synthetic_profile(**options))  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "profile of model m and profile of model m" in str(info.value)


def test_different_attribution_settings_are_refused() -> None:
    before = synthetic_profile(seed=1)
    after = synthetic_profile(seed=2)
    changed = type(after)(**{**after.__dict__, "settings": {**after.settings, "ig_steps": 32}})
    with pytest.raises(ProfileMismatch, match=r"different attribution settings \(ig_steps\)"):
        check_drift(before, changed)


def test_features_in_another_order_are_aligned() -> None:
    before = synthetic_profile(seed=1)
    order = tuple(reversed(FEATURES))
    after = synthetic_profile(tuple(reversed(SHARES)), seed=2, features=order)
    result = check_drift(before, after)
    assert result.passed
    row = result.moves.set_index("feature").loc["a"]
    assert row["share_after"] == pytest.approx(0.30, abs=0.01)


def test_result_serialises() -> None:
    result = check_drift(synthetic_profile(seed=1), synthetic_profile(shifted(SHARES, 1, 0.02)))
    document = result.to_dict()
    assert document["passed"] is False
    assert document["findings"][0]["feature"] == "b"
    assert document["cases"]["failed"] == len(result.findings)
    assert len(document["moves"]) == len(FEATURES)
    frame = result.to_frame()
    assert frame["feature"].iloc[0] == "b"
    assert list(frame.columns[:3]) == ["rule", "head", "feature"]
