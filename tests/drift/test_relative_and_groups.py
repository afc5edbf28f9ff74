"""The relative share-change rule (with its floor, at its exact boundaries) on hand-built
profiles, and checks at the level of feature groups on profiles of a known-truth linear model
whose one group's weights double between versions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xmlschema
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.drift import (
    DRIFT_SETTINGS,
    DriftProfile,
    DriftRules,
    ProfileMismatch,
    build_profile,
    check_drift,
    junit_xml,
    load_rules,
    markdown_summary,
    read_profile,
    request_sums,
)
from rankaudit.errors import InputFileError, ParameterError, RankauditError
from tests.drift.conftest import synthetic_profile

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))
#: Only the relative rule runs.
ONLY_RELATIVE = DriftRules(
    share_change_enabled=False, relative_change_enabled=True, max_share_enabled=False,
    top_k_enabled=False, rank_correlation_enabled=False,
)  # fmt: skip


def hand_profile(shares: Mapping[str, float], *, replicates: int = 20) -> DriftProfile:
    """A profile holding exactly `shares` (head `score`), every bootstrap replicate equal to
    them: the interval of any change is the change itself."""
    names = tuple(shares)
    values = np.array([shares[n] for n in names], dtype=np.float64)
    order = np.lexsort((np.array(names), -values))
    table = pd.DataFrame(
        {
            "head": "score",
            "feature": [names[i] for i in order],
            "rank": np.arange(1, len(names) + 1),
            **{k: values[order] for k in ("share", "share_low", "share_high", "mean_abs",
                                          "mean_abs_low", "mean_abs_high", "signed_mean")},
        }
    )  # fmt: skip
    return DriftProfile(
        method="ig", reference="request", heads=("score",), features=names,
        settings={"seed": 0}, confidence=0.95, importance=table,
        replicates={"score": np.tile(values, (replicates, 1))},
        metadata={"model": {"name": "m"}},
    )  # fmt: skip


def _relative_findings(before: DriftProfile, after: DriftProfile, **rules: object) -> list[str]:
    from dataclasses import replace

    result = check_drift(before, after, rules=replace(ONLY_RELATIVE, **rules))  # type: ignore[arg-type]
    return [str(f.feature) for f in result.findings if f.rule == "relative_change"]


def test_on_200_features_a_doubled_share_is_caught_by_the_relative_rule_only() -> None:
    names = [f"f{i:03d}" for i in range(200)]
    before = {n: 0.005 for n in names}
    after = dict(before, f007=0.010, f008=0.0)  # f007 doubles, f008 vanishes: 0.5 points each
    absolute = check_drift(hand_profile(before), hand_profile(after))
    assert absolute.passed  # the 2-point default cannot see a 0.5% share double
    result = check_drift(
        hand_profile(before), hand_profile(after),
        rules=DriftRules(relative_change_enabled=True, top_k_enabled=False,
                         rank_correlation_enabled=False),
    )  # fmt: skip
    found = [(f.rule, f.feature) for f in result.findings]
    assert found == [("relative_change", "f008"), ("relative_change", "f007")]
    rose = next(f for f in result.findings if f.feature == "f007")
    assert (rose.before, rose.after, rose.threshold) == (0.005, 0.010, 0.5)
    assert (rose.low, rose.high) == pytest.approx((1.0, 1.0))  # +100% of its share
    assert "f007 share rose by 100% of itself, from 0.50% to 1.00%" in rose.message
    assert "above a share of 0.25%" in rose.message  # the default floor, 1 / (2 x 200)
    moves = result.moves.set_index("feature")
    assert moves.loc["f007", "drifted"]
    assert moves.loc["f008", "drifted"]
    assert not moves.loc["f009", "drifted"]
    assert sum(c.rule == "relative_change" for c in result.cases) == 200


def test_the_floor_keeps_tiny_shares_out() -> None:
    before = {"big": 0.70, "mid": 0.28, "tiny": 0.02}
    after = {"big": 0.69, "mid": 0.28, "tiny": 0.03}  # tiny +50%... past a 40% limit
    # Default floor 1 / (2 x 3) = 1/6: only `big` and `mid` are tested, neither moved enough.
    assert (
        _relative_findings(hand_profile(before), hand_profile(after), max_relative_change=0.4) == []
    )
    assert _relative_findings(
        hand_profile(before), hand_profile(after), max_relative_change=0.4,
        min_share_for_relative=0.0,
    ) == ["tiny"]  # fmt: skip
    case = next(
        c for c in check_drift(hand_profile(before), hand_profile(after), rules=ONLY_RELATIVE).cases
        if c.subject == "tiny"
    )  # fmt: skip
    assert case.passed
    assert "is not above the floor of 16.67%: not tested" in case.detail


def test_exact_boundaries_do_not_fire() -> None:
    before = {"x": 0.25, "y": 0.75}
    at_limit = {"x": 0.375, "y": 0.625}  # x: +0.125 = exactly 50% of 0.25
    past_limit = {"x": 0.375 + 2**-20, "y": 0.625 - 2**-20}
    floor = {"min_share_for_relative": 0.1}  # the default, 1 / (2 x 2), would skip x
    assert _relative_findings(hand_profile(before), hand_profile(at_limit), **floor) == []
    assert _relative_findings(hand_profile(before), hand_profile(past_limit), **floor) == ["x"]
    # A share exactly at the floor is not tested; just above it, it is.
    assert _relative_findings(
        hand_profile(before), hand_profile(past_limit), min_share_for_relative=0.25
    ) == []  # fmt: skip
    assert _relative_findings(
        hand_profile(before), hand_profile(past_limit), min_share_for_relative=0.25 - 2**-20
    ) == ["x"]  # fmt: skip
    # Per-feature limits: x may move by 60%.
    assert _relative_findings(
        hand_profile(before), hand_profile(past_limit), max_relative_changes={"x": 0.6}, **floor
    ) == []  # fmt: skip


def test_a_relative_change_that_is_noise_does_not_count() -> None:
    before = synthetic_profile(seed=1, requests=60, noise=1.5)
    after = synthetic_profile(seed=2, requests=60, noise=1.5)
    result = check_drift(before, after, rules=replace_rules(min_share_for_relative=0.0,
                                                             max_relative_change=0.01))  # fmt: skip
    moved = result.moves.set_index("feature")
    # Every share moved by more than 1% of itself, but no move is resolved by the bootstrap.
    assert (np.abs(moved["change"]) > 0.01 * moved["share_before"]).all()
    significant = (moved["change_low"] > 0) | (moved["change_high"] < 0)
    assert {f.feature for f in result.findings} == set(moved.index[significant])


def replace_rules(**changes: object) -> DriftRules:
    from dataclasses import replace

    return replace(ONLY_RELATIVE, **changes)  # type: ignore[arg-type]


def test_the_rule_is_off_by_default_and_on_with_its_table(tmp_path: Path) -> None:
    assert not DriftRules().relative_change_enabled
    assert "relative_change" not in DriftRules().to_dict()
    path = tmp_path / "drift.toml"
    path.write_text(
        'level = "both"\n[relative_change]\nmax_relative_change = 0.3\n'
        "min_share_for_relative = 0.01\nfeatures = { a = 0.8 }\n"
        "[groups]\nshare_change = { g1 = 0.05 }\nmax_share = { g1 = 0.9 }\n"
    )
    rules = load_rules(path)
    assert rules.relative_change_enabled
    assert rules.level == "both"
    assert rules.max_relative_change_of("a") == 0.8
    assert rules.max_relative_change_of("b") == 0.3
    assert rules.relative_floor(200) == 0.01
    assert rules.share_tolerance_of("g1", "group") == 0.05
    assert rules.share_tolerance_of("g1") == 0.02
    assert rules.max_share_of("g1", "group") == 0.9
    assert rules.max_share_of("g2", "group") is None  # groups are capped only when listed
    assert rules.to_dict()["relative_change"]["max_relative_change"] == 0.3
    path.write_text("[relative_change]\nenabled = false\n")
    assert not load_rules(path).relative_change_enabled
    assert DriftRules().relative_floor(200) == 0.0025


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "[relative_change]\nmax_relative_change = 0\n",
            "'max_relative_change' must be a number > 0",
        ),
        (
            "[relative_change]\nmin_share_for_relative = 2\n",
            "'min_share_for_relative' must be a share",
        ),
        ("[relative_change]\nfeatures = { a = -1 }\n", "features.a must be a relative change > 0"),
        ("[relative_change]\nfloor = 0.1\n", "[relative_change]: unknown key 'floor'"),
        ('level = "all"\n', "'level' must be one of feature, group, both"),
        ("[groups]\ntop_k = { a = 1 }\n", "[groups]: unknown key 'top_k'"),
        ("[groups]\nmax_share = { tweet = 2 }\n", "[groups]: max_share.tweet must be a share"),
    ],
)
def test_bad_relative_and_group_rules_name_the_key(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "drift.toml"
    path.write_text(content)
    with pytest.raises(RankauditError) as info:
        load_rules(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


# --- groups ---------------------------------------------------------------------------------

#: A known-truth linear model: features, their groups and weights (version 1).
WEIGHTS = {"a1": 1.0, "a2": 0.8, "b1": 0.5, "b2": 0.4, "c1": 0.6, "c2": 0.5}
GROUPS = {"alpha": ("a1", "a2"), "beta": ("b1", "b2"), "gamma": ("c1", "c2")}


def linear_profile(weights: Mapping[str, float], *, seed: int, requests: int = 300) -> DriftProfile:
    """The profile of a linear model f(x) = w . x explained against the request reference:
    attribution w_i (x_i - mean of x_i over the request), exact for a linear model."""
    rng = np.random.default_rng(seed)
    names = list(weights)
    w = np.array([weights[n] for n in names])
    records = []
    for r in range(requests):
        n_rows = int(rng.integers(10, 30))
        x = rng.normal(size=(n_rows, len(names)))
        x[:, 1] += 0.5 * x[:, 0]  # correlated members: a group's |sum| is not the sum of |.|
        attribution = w * (x - x.mean(axis=0))
        for t in range(n_rows):
            for j, name in enumerate(names):
                records.append((f"r{r:04d}", f"t{t}", name, attribution[t, j]))
    frame = pd.DataFrame(records, columns=["request_id", "tweet_id", "feature", "attribution"])
    frame = frame.assign(head="score", completeness_relative=0.0)
    sums = request_sums(frame, heads=["score"], groups=GROUPS)
    return build_profile(
        sums, method="ig", reference="request", settings=DRIFT_SETTINGS, seed=seed,
        metadata={"model": {"name": f"linear-{seed}"}},
    )  # fmt: skip


@pytest.fixture(scope="module")
def versions() -> dict[str, DriftProfile]:
    doubled = {n: (2 * v if n.startswith("b") else v) for n, v in WEIGHTS.items()}
    return {
        "v1": linear_profile(WEIGHTS, seed=1),
        "v1_again": linear_profile(WEIGHTS, seed=2),
        "v2": linear_profile(doubled, seed=2),
    }


def test_a_group_is_its_own_attribution() -> None:
    """Members that cancel in a row cancel in their group: |1 + (-1)| = 0, not 2."""
    frame = pd.DataFrame(
        {"request_id": ["r1"] * 4 + ["r2"] * 4, "tweet_id": ["t1", "t1", "t2", "t2"] * 2,
         "feature": ["x", "y"] * 4, "attribution": [1.0, -1.0, 2.0, 1.0, 0.5, 0.5, -3.0, 0.0],
         "head": "score", "completeness_relative": 0.0}
    )  # fmt: skip
    sums = request_sums(frame, heads=["score"], groups={"g": ("x", "y")})
    assert sums.group_magnitude is not None
    assert sums.group_magnitude[0, :, 0].tolist() == [0.0 + 3.0, 1.0 + 3.0]
    assert sums.magnitude[0].sum(axis=1).tolist() == [5.0, 4.0]


def test_group_level_flags_the_group_whose_weights_doubled(
    versions: dict[str, DriftProfile],
) -> None:
    v1, v2 = versions["v1"], versions["v2"]
    assert v1.group_attribution == "mean_abs_of_sum"
    rules = DriftRules(level="group", relative_change_enabled=True, share_change_enabled=False,
                       max_share_enabled=False, top_k_enabled=False,
                       rank_correlation_enabled=False)  # fmt: skip
    result = check_drift(v1, v2, rules=rules)
    assert [(f.rule, f.feature, f.level) for f in result.findings] == [
        ("relative_change", "beta", "group")
    ]
    assert result.first_group == "beta"
    assert result.first_feature is None
    beta = result.findings[0]
    # Doubling the weights doubles beta's magnitude: its share goes from s to 2s / (1 + s).
    s = beta.before
    assert beta.after == pytest.approx(2 * s / (1 + s), rel=0.1)
    assert "group beta share rose by" in beta.message
    assert set(result.moves["level"]) == {"group"}
    assert len(result.moves) == 3
    # The same model on another sample: nothing at any level.
    assert check_drift(v1, versions["v1_again"], rules=replace_level(rules, "both")).passed
    # Both levels: the group and its members, features first.
    both = check_drift(v1, v2, rules=replace_level(rules, "both"))
    assert {(f.level, f.feature) for f in both.findings} == {
        ("group", "beta"),
        ("feature", "b1"),
        ("feature", "b2"),
    }
    assert both.first_feature in ("b1", "b2")


def replace_level(rules: DriftRules, level: str) -> DriftRules:
    from dataclasses import replace

    return replace(rules, level=level)  # type: ignore[arg-type]


def test_default_rules_at_group_level_and_outputs(versions: dict[str, DriftProfile]) -> None:
    result = check_drift(versions["v1"], versions["v2"], rules=DriftRules(level="group"))
    # The absolute rule also flags alpha and gamma, which lost a few points each to beta;
    # beta, whose own share moved most, comes first.
    assert result.findings[0].rule == "share_change"
    assert result.first_group == "beta"
    assert "max_share" not in {f.rule for f in result.findings}
    # alpha holds over 40% (the per-feature default cap) but groups are capped only when listed.
    assert result.moves.set_index("feature").loc["alpha", "share_after"] > 0.4
    capped = check_drift(
        versions["v1"],
        versions["v2"],
        rules=DriftRules(level="group", group_max_shares={"alpha": 0.4}),
    )
    assert ("max_share", "alpha") in {(f.rule, f.feature) for f in capped.findings}
    document = result.to_dict()
    assert document["rules"]["level"] == "group"
    assert document["findings"][0]["level"] == "group"
    assert document["moves"][0]["level"] == "group"
    xml = junit_xml(result)
    SCHEMA.validate(xml)
    assert 'classname="drift.share_change.score.groups" name="beta"' in xml
    assert 'classname="drift.top_k.score.groups" name="groups"' in xml
    markdown = markdown_summary(result)
    assert "| head | level | feature |" in markdown
    assert "| score | group | beta |" in markdown
    # The feature level on the same profiles reads as before groups existed.
    plain = check_drift(versions["v1"], versions["v2"]).to_dict()
    assert "level" not in plain["rules"]
    assert "level" not in plain["findings"][0]


def test_group_profiles_round_trip_and_old_profiles_still_load(
    versions: dict[str, DriftProfile], tmp_path: Path
) -> None:
    path = versions["v1"].write(tmp_path / "v1.json")
    back = read_profile(path)
    assert back.groups == GROUPS
    assert back.group_attribution == "mean_abs_of_sum"
    assert back.to_json() == versions["v1"].to_json()
    pd.testing.assert_frame_equal(
        back.group_importance, versions["v1"].group_importance, check_like=True
    )
    # A profile without groups (as written before groups existed) has none of the keys ...
    old = synthetic_profile(seed=1)
    document = json.loads(old.to_json())
    assert not {"groups", "group_importance"} & set(document)
    old_path = old.write(tmp_path / "old.json")
    loaded = read_profile(old_path)
    assert not loaded.has_groups
    # ... checks at the feature level, and is refused, naming the fix, at the group level.
    assert check_drift(loaded, synthetic_profile(seed=2)).passed
    with pytest.raises(ProfileMismatch, match=r"holds no feature groups.*--level feature"):
        check_drift(loaded, synthetic_profile(seed=2), rules=DriftRules(level="group"))


def test_groups_must_match_and_rules_must_name_known_groups(
    versions: dict[str, DriftProfile], tmp_path: Path
) -> None:
    v1 = versions["v1"]
    document = json.loads(v1.to_json())
    document["groups"] = {"alpha": ["a1", "a2", "b1"], "beta": ["b2"], "gamma": ["c1", "c2"]}
    path = tmp_path / "regrouped.json"
    path.write_text(json.dumps(document))
    regrouped = read_profile(path)
    with pytest.raises(ProfileMismatch, match="group their features differently"):
        check_drift(v1, regrouped, rules=DriftRules(level="group"))
    with pytest.raises(ParameterError, match=r"\[groups\] min_share: unknown group 'delta'"):
        check_drift(v1, v1, rules=DriftRules(level="both", group_min_shares={"delta": 0.1}))
    document["groups"] = {"alpha": ["a1", "a2"]}
    path.write_text(json.dumps(document))
    with pytest.raises(InputFileError, match="'groups': feature groups must cover"):
        read_profile(path)


def test_cli_level_option(versions: dict[str, DriftProfile], tmp_path: Path) -> None:
    before = versions["v1"].write(tmp_path / "v1.json")
    after = versions["v2"].write(tmp_path / "v2.json")
    out = tmp_path / "check.json"
    result = CliRunner().invoke(
        app, ["drift", "check", "--reference", str(before), "--current", str(after),
              "--level", "both", "--json", str(out)], env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    assert "group beta share rose" in result.stdout
    assert json.loads(out.read_text())["rules"]["level"] == "both"
    bad = CliRunner().invoke(
        app, ["drift", "check", "--reference", str(before), "--current", str(after),
              "--level", "groups"],
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "'--level' option must be one of feature, group, both" in bad.stderr
