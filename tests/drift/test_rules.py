"""Rules files: defaults, overrides, and one error naming the file and key for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankaudit.drift import DEFAULT_RULES, DriftRules, load_rules
from rankaudit.errors import InputFileError, ParameterError, UnknownKeyError

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "drift" / "drift.toml"


def test_defaults_are_the_documented_ones() -> None:
    assert DEFAULT_RULES.confidence == 0.95
    assert DEFAULT_RULES.heads is None
    assert DEFAULT_RULES.share_tolerance == 0.02
    assert (DEFAULT_RULES.top_k, DEFAULT_RULES.top_k_min_gap) == (5, 0.005)
    assert DEFAULT_RULES.rank_correlation_floor == 0.9
    assert DEFAULT_RULES.max_share_default == 0.4
    assert dict(DEFAULT_RULES.min_shares) == {}
    assert all(DEFAULT_RULES.enabled(r) for r in ("share_change", "top_k", "max_share"))


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "drift.toml"
    path.write_text("")
    rules = load_rules(path)
    assert rules.to_dict() == DEFAULT_RULES.to_dict()
    assert rules.source == str(path)


def test_the_committed_example_overrides_every_rule() -> None:
    rules = load_rules(FIXTURE)
    assert rules.heads == ("score",)
    assert rules.share_tolerance == 0.02
    assert rules.share_tolerance_of("real_graph_weight") == 0.015
    assert rules.share_tolerance_of("in_network") == 0.02
    assert rules.top_k == 5
    assert rules.rank_correlation_floor == 0.9
    assert rules.max_share_of("topic_similarity") == 0.35
    assert rules.max_share_of("in_network") == 0.4
    assert dict(rules.min_shares) == {"author_reputation": 0.02}


def test_rules_can_be_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "drift.toml"
    path.write_text("[top_k]\nenabled = false\n[rank_correlation]\nenabled = false\n")
    rules = load_rules(path)
    assert not rules.enabled("top_k")
    assert not rules.enabled("rank_correlation")
    assert rules.enabled("share_change")


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        ("tolerance = 0.1\n", UnknownKeyError, "drift.toml: unknown key 'tolerance'; allowed:"),
        (
            "[share_change]\ntolerence = 0.1\n",
            UnknownKeyError,
            "drift.toml [share_change]: unknown key 'tolerence'; allowed: enabled, features, "
            "tolerance",
        ),
        ("[top_k\nk = 3\n", InputFileError, "drift.toml: not valid TOML"),
        ("[top_k]\nk = 0\n", InputFileError, "drift.toml [top_k]: 'k' must be an integer >= 1"),
        (
            "[share_change]\ntolerance = 2\n",
            InputFileError,
            "'tolerance' must be a share in [0, 1]; got 2",
        ),
        (
            "[max_share]\nfeatures = { author_id = 1.5 }\n",
            InputFileError,
            "drift.toml [max_share]: features.author_id must be a share in [0, 1]; got 1.5",
        ),
        ("top_k = 3\n", InputFileError, "drift.toml: [top_k] must be a table"),
        ("heads = []\n", InputFileError, "'heads' must be a non-empty list of head names"),
        ("[top_k]\nenabled = 1\n", InputFileError, "'enabled' must be true or false"),
    ],
)
def test_bad_rules_name_the_file_and_key(
    tmp_path: Path, content: str, error: type[Exception], message: str
) -> None:
    path = tmp_path / "drift.toml"
    path.write_text(content)
    with pytest.raises(error) as info:
        load_rules(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_a_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"nope\.toml: rules file not found"):
        load_rules(tmp_path / "nope.toml")


def test_rules_validate_in_python_too() -> None:
    with pytest.raises(ParameterError, match="'top_k' parameter of DriftRules must be an int"):
        DriftRules(top_k=0)
    with pytest.raises(ParameterError, match="'share_tolerance' parameter of DriftRules"):
        DriftRules(share_tolerance=-0.1)
    rules = DriftRules(max_shares={"x": 0.2})
    with pytest.raises(TypeError):
        rules.max_shares["x"] = 0.3  # type: ignore[index]
