"""`rankaudit-model.json`, the manifest of a `torch` model directory: its keys per format, and
the feature lists a module is fed.

docs/contract.md ("The torch model manifest") documents every key; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from rankaudit.errors import ModelLoadError
from rankaudit.models.base import check_keys, finite_float, string_list

if TYPE_CHECKING:
    from rankaudit.data.spec import FeatureSpec

__all__ = [
    "MANIFEST_NAME",
    "ModuleInputs",
    "TorchFormat",
    "TorchManifest",
    "parse_manifest",
    "resolve_numeric_features",
]

MANIFEST_NAME = "rankaudit-model.json"
TorchFormat = Literal["builtin", "entrypoint", "torchscript", "export"]
#: What `forward` takes: one float tensor of the numeric features (`forward(x)`), or those plus
#: an int64 tensor of vocabulary indices (`forward(x_num, x_cat)`, the default).
ModuleInputs = Literal["numeric", "numeric+categorical"]
TWO_TENSOR: ModuleInputs = "numeric+categorical"
#: Feature names a note lists before it only counts the rest.
_NAMES_SHOWN = 8

_COMMON_OPTIONAL = ("numeric_features", "categorical_features", "heads", "output")
#: format -> (required keys besides 'format', optional keys besides the common ones).
_FORMAT_KEYS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # The builtin architectures take both tensors and size their input layer from the features.
    "builtin": (("architecture", "hyperparameters", "weights", "numeric_features"), ()),
    "entrypoint": (("entrypoint", "weights"), ("hyperparameters", "inputs")),
    "torchscript": (("file",), ("inputs",)),
    "export": (("file",), ("inputs",)),
}


@dataclass(frozen=True)
class TorchManifest:
    """The validated content of rankaudit-model.json.

    `numeric_features` is None when the manifest leaves it out (a `forward(x)` module then reads
    the spec's numeric features); `inputs` is None when the manifest does not declare it (it is
    then detected from the module's `forward`).
    """

    path: Path
    raw: Mapping[str, Any]
    format: TorchFormat
    numeric_features: tuple[str, ...] | None
    vocabularies: Mapping[str, tuple[str, ...]]
    heads: Mapping[str, float]
    inputs: ModuleInputs | None

    @property
    def directory(self) -> Path:
        return self.path.parent

    def file(self, key: str) -> Path:
        """Return the file named by `key`, resolved against the model directory."""
        value = self.raw[key]
        if not isinstance(value, str) or not value:
            raise ModelLoadError(f"{self.path}: {key!r} must be a file name in {self.directory}")
        path = self.directory / value
        if not path.is_file():
            raise ModelLoadError(f"{path}: {key} file not found (named by {self.path})")
        return path

    def hyperparameters(self) -> dict[str, Any]:
        """Return the `hyperparameters` object ({} when left out)."""
        value = self.raw.get("hyperparameters", {})
        if not isinstance(value, dict):
            raise ModelLoadError(f"{self.path}: 'hyperparameters' must be a JSON object")
        return value


def _parse_vocabularies(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ModelLoadError(
            f"{where}: 'categorical_features' must be an object: feature -> list of values"
        )
    vocabularies: dict[str, tuple[str, ...]] = {}
    for feature, values in value.items():
        ok = isinstance(values, list) and all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        )
        if not feature or not ok:
            raise ModelLoadError(
                f"{where}: categorical_features.{feature} must be a list of strings or integers"
            )
        # Values compare as strings, so 1 and "1" are the same category.
        vocab = tuple(str(v) for v in values)
        if len(set(vocab)) != len(vocab):
            duplicate = next(v for v in vocab if vocab.count(v) > 1)
            raise ModelLoadError(
                f"{where}: categorical_features.{feature} lists {duplicate!r} twice"
            )
        vocabularies[feature] = vocab
    return vocabularies


def _parse_inputs(raw: Mapping[str, Any], where: str) -> ModuleInputs | None:
    if "inputs" not in raw:
        return None
    value = raw["inputs"]
    if value not in get_args(ModuleInputs):
        raise ModelLoadError(
            f"{where}: 'inputs' must be 'numeric' (forward(x)) or 'numeric+categorical' "
            f"(forward(x_num, x_cat)); got {value!r}"
        )
    return cast(ModuleInputs, value)


def parse_manifest(raw: Mapping[str, Any], path: Path) -> TorchManifest:
    """Return the validated manifest `raw`, read from `path`; raise ModelLoadError naming the
    file and the key on the first problem."""
    where = str(path)
    fmt = raw.get("format")
    if not isinstance(fmt, str) or fmt not in _FORMAT_KEYS:
        raise ModelLoadError(
            f"{where}: 'format' must be one of {', '.join(get_args(TorchFormat))}; got {fmt!r}"
        )
    required, optional = _FORMAT_KEYS[fmt]
    optional = tuple(k for k in _COMMON_OPTIONAL + optional if k not in required)
    check_keys(raw, f"{where} (format {fmt!r})", required=("format", *required), optional=optional)
    numeric = (
        string_list(raw["numeric_features"], where, "numeric_features")
        if "numeric_features" in raw
        else None
    )
    vocabularies = _parse_vocabularies(raw.get("categorical_features", {}), where)
    both = sorted(set(numeric or ()) & set(vocabularies))
    if both:
        raise ModelLoadError(f"{where}: {both[0]!r} is both a numeric and a categorical feature")
    if numeric is not None and not numeric and not vocabularies:
        raise ModelLoadError(f"{where}: the model must read at least one feature")
    heads = raw.get("heads", {})
    if not isinstance(heads, dict):
        raise ModelLoadError(f"{where}: 'heads' must be an object: head -> weight ({{}} for none)")
    weights = {str(h): finite_float(w, where, f"heads.{h}") for h, w in heads.items()}
    output = raw.get("output", "heads" if weights else "score")
    if output not in ("heads", "score") or (output == "score") != (not weights):
        raise ModelLoadError(
            f"{where}: 'output' must be 'score' when 'heads' is {{}} and 'heads' otherwise; "
            f"got {output!r} with {len(weights)} head(s)"
        )
    return TorchManifest(
        path=path,
        raw=raw,
        format=cast(TorchFormat, fmt),
        numeric_features=numeric,
        vocabularies=MappingProxyType(vocabularies),
        heads=MappingProxyType(weights),
        inputs=_parse_inputs(raw, where),
    )


def resolve_numeric_features(
    manifest: TorchManifest, inputs: ModuleInputs, spec: FeatureSpec | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (the numeric features fed to the module in input order, notes saying where they
    came from) for a module taking `inputs`.

    A `forward(x)` module reads no categorical features; when the manifest leaves
    `numeric_features` out it is fed the numeric (continuous and binary) features of `spec` in
    spec order. A two-tensor module must list its own. Raises ModelLoadError otherwise.
    """
    where = str(manifest.path)
    if inputs == TWO_TENSOR:
        if manifest.numeric_features is None:
            raise ModelLoadError(
                f"{where}: missing required key 'numeric_features': a module with "
                "forward(x_num, x_cat) must list the numeric features of x_num in order"
            )
        return manifest.numeric_features, ()
    if manifest.vocabularies:
        raise ModelLoadError(
            f"{where}: 'categorical_features' lists {', '.join(manifest.vocabularies)} but the "
            "module's forward(x) takes numeric features only (inputs 'numeric'); remove "
            "'categorical_features' or give the module forward(x_num, x_cat)"
        )
    if manifest.numeric_features is not None:
        return manifest.numeric_features, ()
    if spec is None:
        raise ModelLoadError(
            f"{where}: 'numeric_features' is missing and there is no feature spec to take them "
            "from (the model is loaded outside a workspace); list the features forward(x) "
            "reads, in order, in 'numeric_features'"
        )
    numeric = spec.numeric_names
    if not numeric:
        raise ModelLoadError(
            f"{where}: 'numeric_features' is missing and the feature spec ({spec.source}) has "
            "no numeric features; list the features forward(x) reads in 'numeric_features'"
        )
    shown = ", ".join(numeric[:_NAMES_SHOWN])
    if len(numeric) > _NAMES_SHOWN:
        shown += f", ... ({len(numeric) - _NAMES_SHOWN} more)"
    notes = [
        f"numeric_features: not in {manifest.path.name}; took the {len(numeric)} numeric "
        f"feature(s) of the feature spec ({spec.source}) in spec order: {shown}"
    ]
    if spec.categorical_names:
        notes.append(
            f"forward(x) reads no categorical features; not fed: "
            f"{', '.join(spec.categorical_names)}"
        )
    return numeric, tuple(notes)
