"""The `torch` kind with a plain module: `forward(x)` on the numeric features, no wrapper.

A plain module is declared (`"inputs": "numeric"`) or detected from its `forward`; it reads the
features its manifest lists or, without `numeric_features`, the spec's numeric features in spec
order. Scores must equal the module's own output, and IG must treat it like any torch model.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from torch import nn

from rankaudit.attribution import FINAL, AttributionSettings, attribute_frame
from rankaudit.data.spec import Feature, FeatureSpec
from rankaudit.errors import ModelLoadError
from rankaudit.models import ModelConfig, load_ranker
from rankaudit.models.torch_inputs import PlainInputs, forward_signature
from rankaudit.models.torch_ranker import MANIFEST_NAME, TorchRanker

from .conftest import NUMERIC

#: Deliberately neither the frame's column order nor alphabetical, with a categorical inside.
SPEC_ORDER = ("real_graph_weight", "client", "tweet_age_minutes", "has_image", "author_followers")
SPEC_NUMERIC = ("real_graph_weight", "tweet_age_minutes", "has_image", "author_followers")
LISTED = tuple(reversed(NUMERIC))
LINEAR_W = [0.7, -0.002, 1.5, 0.0003]
FACTORY = "rankaudit_test_plain_nets"

# The user's own code: an nn.Sequential MLP, a linear module, one with an optional argument.
NETS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Log1p(nn.Module):
        def forward(self, x):
            return torch.sign(x) * torch.log1p(x.abs())


    def make_mlp(n_in, hidden=8, n_out=1):
        layers = [Log1p(), nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out)]
        if n_out > 1:
            layers.append(nn.Sigmoid())
        return nn.Sequential(*layers)


    class Linear(nn.Module):
        def __init__(self, n_in):
            super().__init__()
            self.layer = nn.Linear(n_in, 1)

        def forward(self, x):
            return self.layer(x)[:, 0]


    def make_linear(n_in):
        return Linear(n_in)


    class Scaled(nn.Module):
        # Two positional parameters: only a declaration says that it is plain.
        def __init__(self, n_in):
            super().__init__()
            self.layer = nn.Linear(n_in, 1)

        def forward(self, x, scale=2.0):
            return self.layer(x) * scale


    def make_scaled(n_in):
        return Scaled(n_in)
    """
)


def _spec() -> FeatureSpec:
    features = tuple(
        Feature(
            name=name,
            kind="categorical" if name == "client" else "continuous",
            group="tweet",
            description=name,
            unit="",
        )
        for name in SPEC_ORDER
    )
    return FeatureSpec(features, source="features.yaml")


@pytest.fixture
def nets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The user's factory module, written into tmp_path and imported from there."""
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{FACTORY}.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(code))
    try:
        yield importlib.import_module(FACTORY)
    finally:
        sys.modules.pop(FACTORY, None)


@pytest.fixture
def logs(frame: pd.DataFrame) -> pd.DataFrame:
    # The attribution result names the viewer.
    return frame.assign(user_id=frame["request_id"].str.replace("r", "u"))


def _write(
    directory: Path, module: nn.Module | None = None, weights: str = "", **fields: Any
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if module is not None and weights.endswith(".safetensors"):
        safetensors.torch.save_file(module.state_dict(), str(directory / weights))
    elif module is not None:
        torch.save(module.state_dict(), directory / weights)
    if fields.get("format") == "entrypoint":
        fields["weights"] = weights
    (directory / MANIFEST_NAME).write_text(json.dumps(fields))
    return directory


def _load(directory: Path, spec: FeatureSpec | None = None) -> TorchRanker:
    ranker = load_ranker(ModelConfig("mine", "torch", path=directory, spec=spec, trust_code=True))
    assert isinstance(ranker, TorchRanker)
    return ranker


def _own_output(module: nn.Module, frame: pd.DataFrame, order: tuple[str, ...]) -> np.ndarray:
    """The module called by hand on the features in `order`, independently of the adapter."""
    with torch.no_grad():
        out: torch.Tensor = module.eval()(torch.tensor(frame[list(order)].to_numpy(np.float32)))
    return out.double().numpy()


def _mlp(nets: Any, n_out: int = 1) -> nn.Module:
    torch.manual_seed(5)
    module: nn.Module = nets.make_mlp(n_in=4, hidden=8, n_out=n_out)
    return module


# --- entrypoint -----------------------------------------------------------------------------

ENTRYPOINT_CASES = [
    pytest.param("model.safetensors", LISTED, None, id="safetensors-listed-no-spec"),
    pytest.param("state_dict.pt", LISTED, _spec(), id="pt-listed-spec-ignored"),
    pytest.param("model.safetensors", None, _spec(), id="safetensors-from-spec"),
    pytest.param("state_dict.pt", None, _spec(), id="pt-from-spec"),
]


@pytest.mark.parametrize(("weights", "listed", "spec"), ENTRYPOINT_CASES)
def test_entrypoint_mlp_scores_like_its_own_forward(
    tmp_path: Path,
    frame: pd.DataFrame,
    nets: Any,
    weights: str,
    listed: tuple[str, ...] | None,
    spec: FeatureSpec | None,
) -> None:
    module = _mlp(nets)
    fields: dict[str, Any] = {
        "format": "entrypoint",
        "entrypoint": f"{FACTORY}:make_mlp",
        "hyperparameters": {"n_in": 4, "hidden": 8},
    }
    if listed is not None:
        fields["numeric_features"] = list(listed)
    ranker = _load(_write(tmp_path / "mlp", module, weights, **fields), spec)
    order = listed if listed is not None else SPEC_NUMERIC
    expected = _own_output(module, frame, order)[:, 0]
    scores = ranker.score(frame)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-6)
    assert ranker.inputs == "numeric"
    assert ranker.feature_names == ranker.numeric_features == order
    assert ranker.categorical_features == ()
    assert ranker.heads == ()
    assert isinstance(ranker.module, PlainInputs)
    assert not ranker.module.training
    assert not ranker.module.plain.training
    assert ranker.description == (
        f"torch entrypoint ({FACTORY}:make_mlp), forward(x) on 4 numeric features, single score"
    )
    assert ranker.notes[0].startswith("inputs: forward(input) takes one tensor")
    if listed is None:
        assert ranker.notes[1:] == (
            f"numeric_features: not in {MANIFEST_NAME}; took the 4 numeric feature(s) of the "
            f"feature spec (features.yaml) in spec order: {', '.join(SPEC_NUMERIC)}",
            "forward(x) reads no categorical features; not fed: client",
        )
    else:
        assert len(ranker.notes) == 1
    # Batching feeds the same rows in the same column order.
    batched = load_ranker(
        ModelConfig(
            "mine",
            "torch",
            path=tmp_path / "mlp",
            spec=spec,
            options={"batch_size": 7},
            trust_code=True,
        )
    )
    np.testing.assert_allclose(batched.score(frame), scores, rtol=0, atol=1e-6)


def test_spec_order_is_part_of_the_fingerprint(
    tmp_path: Path, frame: pd.DataFrame, nets: Any
) -> None:
    directory = _write(
        tmp_path / "mlp",
        _mlp(nets),
        "model.safetensors",
        format="entrypoint",
        entrypoint=f"{FACTORY}:make_mlp",
        hyperparameters={"n_in": 4, "hidden": 8},
    )
    spec = _spec()
    reordered = FeatureSpec(tuple(reversed(spec.features)), source="features.yaml")
    first, again, other = (
        _load(directory, spec),
        _load(directory, spec),
        _load(directory, reordered),
    )
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert other.numeric_features == tuple(reversed(SPEC_NUMERIC))
    assert not np.allclose(first.score(frame), other.score(frame))


def test_multi_head_plain_module(tmp_path: Path, frame: pd.DataFrame, nets: Any) -> None:
    module = _mlp(nets, n_out=2)
    heads = {"reply": 13.5, "favorite": 0.5}
    directory = _write(
        tmp_path / "mlp",
        module,
        "model.safetensors",
        format="entrypoint",
        entrypoint=f"{FACTORY}:make_mlp",
        hyperparameters={"n_in": 4, "hidden": 8, "n_out": 2},
        numeric_features=list(NUMERIC),
        heads=heads,
    )
    ranker = _load(directory)
    expected = _own_output(module, frame, NUMERIC)
    np.testing.assert_allclose(ranker.head_scores(frame).to_numpy(), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ranker.score(frame), expected @ [13.5, 0.5], rtol=0, atol=1e-5)
    assert ranker.heads == ("reply", "favorite")


# --- declared vs detected -------------------------------------------------------------------


def test_declared_and_detected_plain_modules_score_alike(
    tmp_path: Path, frame: pd.DataFrame, nets: Any
) -> None:
    module = _mlp(nets)
    fields = {
        "format": "entrypoint",
        "entrypoint": f"{FACTORY}:make_mlp",
        "hyperparameters": {"n_in": 4, "hidden": 8},
        "numeric_features": list(NUMERIC),
    }
    detected = _load(_write(tmp_path / "detected", module, "model.safetensors", **fields))
    declared = _load(
        _write(tmp_path / "declared", module, "model.safetensors", inputs="numeric", **fields)
    )
    assert detected.inputs == declared.inputs == "numeric"
    np.testing.assert_array_equal(declared.score(frame), detected.score(frame))
    assert declared.notes == ()
    assert len(detected.notes) == 1


def test_a_declaration_is_needed_when_forward_takes_an_optional_second_argument(
    tmp_path: Path, frame: pd.DataFrame, nets: Any
) -> None:
    torch.manual_seed(6)
    module = nets.make_scaled(4)
    fields = {
        "format": "entrypoint",
        "entrypoint": f"{FACTORY}:make_scaled",
        "hyperparameters": {"n_in": 4},
        "numeric_features": list(NUMERIC),
    }
    declared = _load(
        _write(tmp_path / "declared", module, "model.safetensors", inputs="numeric", **fields)
    )
    # Raw follower counts make outputs in the hundreds: float32 agrees to 1e-6 relative.
    np.testing.assert_allclose(
        declared.score(frame), _own_output(module, frame, NUMERIC)[:, 0], rtol=1e-6, atol=1e-6
    )
    # Undeclared, forward(x, scale) is taken for the two-tensor contract: scale = x_cat [N, 0].
    with pytest.raises(ModelLoadError) as info:
        _load(_write(tmp_path / "undeclared", module, "model.safetensors", **fields))
    assert str(info.value) == (
        f"{tmp_path / 'undeclared' / MANIFEST_NAME}: mine (torch): forward returned shape (2, 0) "
        "for 2 rows; a single-score model must return (2,) or (2, 1); forward(x, scale) was fed "
        '(x_num, x_cat): if it takes the numeric features alone, declare "inputs": "numeric"'
    )


SIGNATURES = [
    pytest.param(nn.Sequential(nn.Linear(2, 1)), ("input",), 1, id="sequential"),
    pytest.param(nn.Linear(2, 1), ("input",), 1, id="linear"),
    pytest.param(nn.Bilinear(2, 2, 1), ("input1", "input2"), 2, id="two-tensor"),
]


@pytest.mark.parametrize(("module", "names", "required"), SIGNATURES)
def test_forward_signature_of_python_and_torchscript_modules(
    module: nn.Module, names: tuple[str, ...], required: int
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
    for candidate in (module, scripted):
        signature = forward_signature(candidate)
        assert signature is not None
        assert (signature.names, signature.required, signature.variadic) == (
            names,
            required,
            False,
        )
        assert signature.takes_one == (len(names) == 1)


# --- TorchScript and torch.export -----------------------------------------------------------


@pytest.mark.parametrize("inputs", [None, "numeric"])
def test_torchscript_plain_module(
    tmp_path: Path, frame: pd.DataFrame, nets: Any, inputs: str | None
) -> None:
    module = _mlp(nets).eval()
    directory = tmp_path / "ts"
    fields: dict[str, Any] = {"format": "torchscript", "file": "model.ts"}
    if inputs is not None:
        fields["inputs"] = inputs
    _write(directory, **fields)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated upstream
        torch.jit.save(torch.jit.script(module), str(directory / "model.ts"))
    ranker = _load(directory, _spec())
    assert ranker.inputs == "numeric"
    assert ranker.numeric_features == SPEC_NUMERIC
    np.testing.assert_allclose(
        ranker.score(frame), _own_output(module, frame, SPEC_NUMERIC)[:, 0], rtol=0, atol=1e-6
    )
    assert ranker.description == (
        "torch TorchScript (model.ts), forward(x) on 4 numeric features, single score"
    )


def test_export_plain_module(tmp_path: Path, frame: pd.DataFrame, nets: Any) -> None:
    module = _mlp(nets).eval()
    directory = _write(tmp_path / "ex", format="export", file="model.pt2")
    example = torch.tensor(frame[list(SPEC_NUMERIC)].to_numpy(np.float32)[:8])
    program = torch.export.export(
        module, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    torch.export.save(program, str(directory / "model.pt2"))
    ranker = _load(directory, _spec())
    assert ranker.inputs == "numeric"
    np.testing.assert_allclose(
        ranker.score(frame), _own_output(module, frame, SPEC_NUMERIC)[:, 0], rtol=0, atol=1e-6
    )
    # The last chunk of a batched run may hold a single row.
    single = load_ranker(
        ModelConfig(
            "mine", "torch", path=directory, spec=_spec(), options={"batch_size": len(frame) - 1}
        )
    )
    np.testing.assert_allclose(single.score(frame), ranker.score(frame), rtol=0, atol=1e-6)


# --- the attribution engine sees a two-tensor module ----------------------------------------

SETTINGS = AttributionSettings(background_size=8, shap_permutations=3)


def _attribute(ranker: TorchRanker, logs: pd.DataFrame, method: str, reference: str) -> Any:
    background = logs.sample(8, random_state=0) if reference == "global" else None
    return attribute_frame(
        ranker,
        logs,
        methods=[method],
        reference=reference,
        settings=SETTINGS,
        background=background,
    ).frame


def _completeness(out: pd.DataFrame) -> pd.DataFrame:
    return out.groupby(["tweet_id", "head"], sort=False).agg(
        total=("attribution", "sum"),
        score=("score", "first"),
        ref=("reference_score", "first"),
        converged=("converged", "first"),
    )


@pytest.mark.parametrize("reference", ["global", "request"])
def test_ig_on_a_linear_plain_module_is_w_times_x_minus_reference(
    tmp_path: Path, logs: pd.DataFrame, nets: Any, reference: str
) -> None:
    module = nets.make_linear(4)
    with torch.no_grad():
        module.layer.weight.copy_(torch.tensor([LINEAR_W]))
        module.layer.bias.fill_(0.25)
    directory = _write(
        tmp_path / "linear",
        module,
        "model.safetensors",
        format="entrypoint",
        entrypoint=f"{FACTORY}:make_linear",
        hyperparameters={"n_in": 4},
    )
    ranker = _load(directory, _spec())
    out = _attribute(ranker, logs, "ig", reference)
    w = np.array(LINEAR_W)
    background = logs.sample(8, random_state=0)
    for request, rows in logs.groupby("request_id", sort=False):
        reference_rows = background if reference == "global" else rows
        x = rows[list(SPEC_NUMERIC)].to_numpy()
        expected = w * (x - reference_rows[list(SPEC_NUMERIC)].to_numpy().mean(axis=0))
        got = (
            out.loc[out["request_id"] == request]
            .pivot_table(index="tweet_id", columns="feature", values="attribution", sort=False)
            .loc[rows["tweet_id"], list(SPEC_NUMERIC)]
        )
        np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-5, atol=1e-5)
    assert set(out["feature"]) == set(SPEC_NUMERIC)


@pytest.mark.parametrize(
    ("method", "reference"), [("ig", "global"), ("ig", "request"), ("shap", "request")]
)
def test_attributions_of_a_plain_mlp_are_complete(
    tmp_path: Path, logs: pd.DataFrame, nets: Any, method: str, reference: str
) -> None:
    module = _mlp(nets, n_out=2)
    heads = {"favorite": 0.5, "reply": 13.5}
    directory = _write(
        tmp_path / "mlp",
        module,
        "model.safetensors",
        format="entrypoint",
        entrypoint=f"{FACTORY}:make_mlp",
        hyperparameters={"n_in": 4, "hidden": 8, "n_out": 2},
        heads=heads,
    )
    ranker = _load(directory, _spec())
    out = _attribute(ranker, logs, method, reference)
    sums = _completeness(out)
    assert set(sums.index.get_level_values("head")) == {"favorite", "reply", FINAL}
    gap = (sums["total"] - (sums["score"] - sums["ref"])).abs()
    scale = (sums["score"] - sums["ref"]).abs()
    if method == "ig":
        # Within the engine's own tolerance, and every row says so.
        limit = np.maximum(SETTINGS.tolerance * scale, SETTINGS.absolute_floor)
        assert sums["converged"].all()
        assert (gap <= limit).all(), (gap / limit).max()
    else:
        assert (gap <= 1e-5 * (1 + scale)).all(), gap.max()
    # The explained score is the module's own output.
    final = sums.xs(FINAL, level="head")["score"]
    rows = logs.set_index("tweet_id").loc[final.index]
    expected = _own_output(module, rows, SPEC_NUMERIC) @ [0.5, 13.5]
    np.testing.assert_allclose(final.to_numpy(), expected, rtol=1e-5, atol=1e-5)


# --- bad manifests --------------------------------------------------------------------------

BAD = [
    pytest.param(
        {"inputs": "tabular", "numeric_features": list(NUMERIC)},
        True,
        "'inputs' must be 'numeric' (forward(x)) or 'numeric+categorical' (forward(x_num, "
        "x_cat)); got 'tabular'",
        id="unknown-inputs",
    ),
    pytest.param(
        {},
        False,
        "'numeric_features' is missing and there is no feature spec to take them from",
        id="no-features-no-spec",
    ),
    pytest.param(
        {"numeric_features": list(NUMERIC), "categorical_features": {"client": ["ios"]}},
        True,
        "'categorical_features' lists client but the module's forward(x) takes numeric "
        "features only",
        id="detected-plain-with-categoricals",
    ),
    pytest.param(
        {"inputs": "numeric", "categorical_features": {"client": ["ios"]}},
        True,
        "'categorical_features' lists client but the module's forward(x) takes numeric "
        "features only",
        id="declared-plain-with-categoricals",
    ),
    pytest.param(
        {"inputs": "numeric+categorical", "numeric_features": list(NUMERIC)},
        True,
        "'inputs' is 'numeric+categorical' but the module's forward(input) takes 1 tensor(s)",
        id="declared-two-tensor-for-forward-x",
    ),
    pytest.param(
        {"inputs": "numeric", "numeric_features": list(NUMERIC)[:3]},
        True,
        "the module fails on a 2-row probe batch (RuntimeError: ",
        id="too-few-features",
    ),
]


@pytest.mark.parametrize(("fields", "with_spec", "message"), BAD)
def test_bad_plain_manifests(
    tmp_path: Path, nets: Any, fields: dict[str, Any], with_spec: bool, message: str
) -> None:
    directory = _write(
        tmp_path / "mlp",
        _mlp(nets),
        "model.safetensors",
        format="entrypoint",
        entrypoint=f"{FACTORY}:make_mlp",
        hyperparameters={"n_in": 4, "hidden": 8},
        **fields,
    )
    with pytest.raises(ModelLoadError) as info:
        _load(directory, _spec() if with_spec else None)
    text = str(info.value)
    assert text.startswith(f"{directory / MANIFEST_NAME}: ")
    assert message in text
    assert "\n" not in text


def test_too_many_spec_features_say_where_they_came_from(tmp_path: Path, nets: Any) -> None:
    spec = FeatureSpec(
        (*_spec().features, Feature("extra", "binary", "tweet", "extra", "")), source="f.yaml"
    )
    directory = _write(
        tmp_path / "mlp",
        _mlp(nets),
        "model.safetensors",
        format="entrypoint",
        entrypoint=f"{FACTORY}:make_mlp",
        hyperparameters={"n_in": 4, "hidden": 8},
    )
    with pytest.raises(ModelLoadError) as info:
        _load(directory, spec)
    assert str(info.value).endswith(
        "; forward(x) was fed 5 numeric feature(s) of the feature spec; list the module's own "
        "in 'numeric_features'"
    )


def test_a_two_tensor_module_still_lists_its_numeric_features(
    tmp_path: Path, user_models_on_path: None
) -> None:
    from user_models.nets import make_ranker

    directory = tmp_path / "two"
    directory.mkdir()
    safetensors.torch.save_file(make_ranker(4, 3).state_dict(), str(directory / "m.safetensors"))
    (directory / MANIFEST_NAME).write_text(
        json.dumps(
            {
                "format": "entrypoint",
                "entrypoint": "user_models.nets:make_ranker",
                "hyperparameters": {"n_numeric": 4, "vocab_size": 3},
                "weights": "m.safetensors",
                "categorical_features": {"client": ["android", "ios", "web"]},
            }
        )
    )
    with pytest.raises(ModelLoadError) as info:
        _load(directory, _spec())
    assert str(info.value) == (
        f"{directory / MANIFEST_NAME}: missing required key 'numeric_features': a module with "
        "forward(x_num, x_cat) must list the numeric features of x_num in order"
    )


def test_a_long_spec_list_is_shortened_in_the_note(tmp_path: Path) -> None:
    from rankaudit.models.torch_manifest import parse_manifest, resolve_numeric_features

    names = [f"f{j}" for j in range(1, 11)]
    spec = FeatureSpec(tuple(Feature(n, "continuous", "doc", n, "") for n in names), "f.yaml")
    manifest = parse_manifest({"format": "torchscript", "file": "m.ts"}, tmp_path / MANIFEST_NAME)
    numeric, notes = resolve_numeric_features(manifest, "numeric", spec)
    assert numeric == tuple(names)
    assert notes == (
        f"numeric_features: not in {MANIFEST_NAME}; took the 10 numeric feature(s) of the "
        "feature spec (f.yaml) in spec order: f1, f2, f3, f4, f5, f6, f7, f8, ... (2 more)",
    )
