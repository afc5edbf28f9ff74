from pathlib import Path

import pytest

from rankaudit.data.spec import load_spec, spec_from_dict
from rankaudit.errors import SchemaError
from rankaudit.synth.features import DEMO_SPEC


def _feature(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "f",
        "kind": "continuous",
        "group": "tweet",
        "description": "d",
        "unit": "u",
    }
    base.update(overrides)
    return base


def test_round_trip_yaml_and_json(tmp_path: Path) -> None:
    import json

    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(DEMO_SPEC.to_dict()))
    (tmp_path / "s.json").write_text(json.dumps(DEMO_SPEC.to_dict()))
    for name in ("s.yaml", "s.json"):
        spec = load_spec(tmp_path / name)
        assert spec.features == DEMO_SPEC.features
    assert DEMO_SPEC["days_since_last_interaction"].fill_value == 365.0
    assert "client" in DEMO_SPEC.categorical_names
    assert "client" not in DEMO_SPEC.numeric_names
    assert len(DEMO_SPEC.numeric_names) + len(DEMO_SPEC.categorical_names) == len(DEMO_SPEC)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([_feature(kind="ordinal")], "'kind' must be one of continuous, binary, categorical"),
        ([_feature(group="  ")], "'group' must be a non-empty string"),
        ([_feature(group=3)], "'group' must be a non-empty string"),
        ([_feature(), _feature()], "listed twice"),
        ([_feature(missing="fill")], "needs a 'fill_value'"),
        ([_feature(fill_value=1.0)], "only allowed with 'missing: fill'"),
        ([_feature(colour="red")], "unknown key 'colour'"),
        ([_feature(name="label_favorite")], "reserved column"),
        (
            [{"name": "f", "kind": "binary", "group": "tweet", "unit": "u"}],
            "missing required key 'description'",
        ),
        ([], "non-empty list"),
    ],
)
def test_malformed_specs_name_the_problem(features: list[object], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        spec_from_dict({"features": features}, source="spec.yaml")


def test_a_group_is_free_text() -> None:
    spec = spec_from_dict({"features": [_feature(group="query-document")]}, source="spec.yaml")
    assert spec.features[0].group == "query-document"


def test_unparsable_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("features: [unclosed\n")
    with pytest.raises(SchemaError, match=r"spec\.yaml: not valid YAML"):
        load_spec(path)
