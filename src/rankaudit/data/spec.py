"""The feature spec: every feature a ranker may read, with its kind, group, unit and missing policy.

The spec is a YAML (or JSON) file::

    features:
      - name: tweet_age_minutes
        kind: continuous          # continuous | binary | categorical
        group: tweet              # free text: features of one group are attributed together
                                  # (the demo uses tweet | author | viewer-author | viewer | context)
        description: Minutes since the tweet was created, at request time.
        unit: minutes
        missing: forbid           # forbid: NaN/inf is an error | fill: replaced by fill_value
        fill_value: 0.0           # only with missing: fill
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from rankaudit.data import schema
from rankaudit.errors import InputFileError, SchemaError

__all__ = ["Feature", "FeatureGroup", "FeatureKind", "FeatureSpec", "MissingPolicy", "load_spec"]

FeatureKind = Literal["continuous", "binary", "categorical"]
#: A feature group is free text (e.g. "tweet", "author", "query-document"); the five names the
#: demo uses are a convention, not a rule.
FeatureGroup = str
MissingPolicy = Literal["forbid", "fill"]

_FEATURE_KEYS = frozenset({"name", "kind", "group", "description", "unit", "missing", "fill_value"})


@dataclass(frozen=True)
class Feature:
    """One feature of the spec. `fill_value` is set only when `missing == "fill"`."""

    name: str
    kind: FeatureKind
    group: FeatureGroup
    description: str
    unit: str
    missing: MissingPolicy = "forbid"
    fill_value: float | str | None = None

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"


@dataclass(frozen=True)
class FeatureSpec:
    """An ordered, name-unique collection of features."""

    features: tuple[Feature, ...]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for feature in self.features:
            if feature.name in seen:
                raise SchemaError(f"{self.source}: feature {feature.name!r} is listed twice")
            seen.add(feature.name)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.features)

    def __getitem__(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def numeric_names(self) -> tuple[str, ...]:
        """Continuous and binary features, in spec order."""
        return tuple(f.name for f in self.features if not f.is_categorical)

    @property
    def categorical_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if f.is_categorical)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for f in self.features:
            item: dict[str, Any] = {
                "name": f.name,
                "kind": f.kind,
                "group": f.group,
                "description": f.description,
                "unit": f.unit,
                "missing": f.missing,
            }
            if f.missing == "fill":
                item["fill_value"] = f.fill_value
            out.append(item)
        return {"features": out}


def _choice(value: object, allowed: tuple[str, ...], where: str, key: str) -> str:
    if value not in allowed:
        raise SchemaError(f"{where}: '{key}' must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _parse_feature(raw: object, where: str) -> Feature:
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{where}: each feature must be a mapping with name, kind, group, ...")
    unknown = sorted(set(raw) - _FEATURE_KEYS)
    if unknown:
        raise SchemaError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(_FEATURE_KEYS))}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name})"
    if schema.is_label_column(name) or name in (schema.REQUEST_ID, schema.SERVED_AT):
        raise SchemaError(f"{where}: {name!r} is a reserved column and cannot be a feature")
    for key in ("kind", "group", "description", "unit"):
        if key not in raw:
            raise SchemaError(f"{where}: missing required key {key!r}")
    kind = _choice(raw["kind"], get_args(FeatureKind), where, "kind")
    group = raw["group"]
    if not isinstance(group, str) or not group.strip():
        raise SchemaError(f"{where}: 'group' must be a non-empty string; got {group!r}")
    missing = _choice(raw.get("missing", "forbid"), get_args(MissingPolicy), where, "missing")
    fill_value = raw.get("fill_value")
    if missing == "fill":
        if fill_value is None:
            raise SchemaError(f"{where}: 'missing: fill' needs a 'fill_value'")
        if kind != "categorical" and (
            not isinstance(fill_value, int | float) or not math.isfinite(fill_value)
        ):
            raise SchemaError(f"{where}: 'fill_value' must be a finite number; got {fill_value!r}")
        fill_value = str(fill_value) if kind == "categorical" else float(fill_value)
    elif fill_value is not None:
        raise SchemaError(f"{where}: 'fill_value' is only allowed with 'missing: fill'")
    return Feature(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        group=group.strip(),
        description=str(raw["description"]),
        unit=str(raw["unit"]),
        missing=missing,  # type: ignore[arg-type]
        fill_value=fill_value,
    )


def spec_from_dict(raw: object, source: str = "<memory>") -> FeatureSpec:
    """Build a spec from its parsed YAML/JSON form; raises SchemaError naming the bad entry."""
    if not isinstance(raw, Mapping) or set(raw) != {"features"}:
        raise SchemaError(f"{source}: a feature spec must be a mapping with one key, 'features'")
    items = raw["features"]
    if not isinstance(items, list) or not items:
        raise SchemaError(f"{source}: 'features' must be a non-empty list")
    features = tuple(
        _parse_feature(item, f"{source}: features[{i}]") for i, item in enumerate(items)
    )
    return FeatureSpec(features=features, source=source)


def load_spec(path: Path) -> FeatureSpec:
    """Read a feature spec from a `.yaml`/`.yml` or `.json` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read feature spec ({exc.strerror})") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaError(
            f"{path}: not valid {path.suffix.lstrip('.').upper()} ({first})"
        ) from None
    return spec_from_dict(raw, source=str(path))
