"""The `torch` kind: builtin architectures, user entrypoints, TorchScript and torch.export."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from torch import nn

from rankaudit.errors import ModelLoadError, SchemaError
from rankaudit.models import ModelConfig, load_ranker, save_builtin_torch
from rankaudit.models.torch_nets import Normaliser, build_builtin
from rankaudit.models.torch_ranker import MANIFEST_NAME, TorchRanker

from .conftest import CLIENTS, NUMERIC

# Deliberately not alphabetical: the file must keep the module's output order.
HEADS = {"reply": 13.5, "favorite": 0.5, "negative_feedback": -74.0}
VOCABS = {"client": list(CLIENTS)}
LOG_FEATURES = [True, True, False, False]


def _hyperparameters(frame: pd.DataFrame, n_outputs: int, **extra: Any) -> dict[str, Any]:
    x = np.array(frame[list(NUMERIC)].to_numpy(dtype=np.float64))
    x[:, :2] = np.sign(x[:, :2]) * np.log1p(np.abs(x[:, :2]))
    return {
        "n_numeric": len(NUMERIC),
        "vocab_sizes": [len(CLIENTS)],
        "n_outputs": n_outputs,
        "log_features": LOG_FEATURES,
        "mean": x.mean(axis=0).tolist(),
        "std": (x.std(axis=0) + 1e-3).tolist(),
        **extra,
    }


def _inputs(frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode by hand, independently of the adapter: vocab[i] -> i + 1, unseen -> 0."""
    x_num = torch.tensor(frame[list(NUMERIC)].to_numpy(dtype=np.float32))
    lookup = {c: i + 1 for i, c in enumerate(CLIENTS)}
    x_cat = torch.tensor([[lookup.get(str(v), 0)] for v in frame["client"]], dtype=torch.int64)
    return x_num, x_cat


def _save(
    directory: Path,
    frame: pd.DataFrame,
    architecture: str,
    heads: Mapping[str, float],
    **extra: Any,
) -> nn.Module:
    torch.manual_seed(0)
    hyper = _hyperparameters(frame, max(len(heads), 1), **extra)
    module = build_builtin(architecture, hyper)
    save_builtin_torch(
        directory,
        module,
        architecture=architecture,
        hyperparameters=hyper,
        numeric_features=list(NUMERIC),
        vocabularies=VOCABS,
        heads=heads,
    )
    return module


def _load(directory: Path, **options: object) -> TorchRanker:
    ranker = load_ranker(
        ModelConfig("deep", "torch", path=directory, options=options, trust_code=True)
    )
    assert isinstance(ranker, TorchRanker)
    return ranker


def _direct(module: nn.Module, frame: pd.DataFrame) -> np.ndarray:
    with torch.no_grad():
        out: torch.Tensor = module(*_inputs(frame))
    return out.double().numpy()


def _write_manifest(directory: Path, **fields: Any) -> None:
    manifest = {
        "numeric_features": list(NUMERIC),
        "categorical_features": VOCABS,
        "heads": {"favorite": 0.5, "reply": 13.5},
        **fields,
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))


# --- builtin --------------------------------------------------------------------------------

BUILTIN_CASES = [
    pytest.param("mlp", HEADS, {}, id="mlp-heads"),
    pytest.param("mlp", {}, {"output": "score", "hidden": [16]}, id="mlp-score"),
    pytest.param("multitask", HEADS, {"n_blocks": 2, "block_dim": 8}, id="multitask"),
]


@pytest.mark.parametrize(("architecture", "heads", "extra"), BUILTIN_CASES)
def test_builtin_round_trip_scores_identically(
    tmp_path: Path,
    frame: pd.DataFrame,
    architecture: str,
    heads: dict[str, float],
    extra: dict[str, Any],
) -> None:
    module = _save(tmp_path / "deep", frame, architecture, heads, **extra)
    ranker = _load(tmp_path / "deep")
    assert _load(tmp_path / "deep" / MANIFEST_NAME).fingerprint == ranker.fingerprint
    scoring = frame.copy()
    scoring.loc[scoring.index[:3], "client"] = "smart_tv"
    before = scoring.copy()
    expected = _direct(module, scoring)
    scores = ranker.score(scoring)
    assert scores.dtype == np.float64
    assert scores.shape == (len(scoring),)
    pd.testing.assert_frame_equal(scoring, before)
    assert not ranker.module.training
    if heads:
        weights = np.array(list(heads.values()))
        np.testing.assert_allclose(scores, expected @ weights, rtol=1e-12, atol=1e-12)
        head_scores = ranker.head_scores(scoring)
        assert list(head_scores.columns) == list(heads)
        assert head_scores.index.equals(scoring.index)
        np.testing.assert_array_equal(head_scores.to_numpy(), expected)
        assert ((head_scores > 0) & (head_scores < 1)).all().all()
        np.testing.assert_allclose(scores, head_scores.to_numpy() @ weights, rtol=1e-12)
        assert ranker.heads == tuple(heads)
        assert dict(ranker.head_weights) == heads
    else:
        np.testing.assert_array_equal(scores, expected)
        with pytest.raises(ModelLoadError, match=r"deep \(torch\) is a single-score ranker"):
            ranker.head_scores(scoring)
    assert ranker.feature_names == (*NUMERIC, "client")
    assert ranker.categorical_features == ("client",)
    assert ranker.required_columns == ranker.feature_names


def test_descriptions(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "a", frame, "multitask", HEADS)
    _save(tmp_path / "b", frame, "mlp", {}, output="score")
    assert _load(tmp_path / "a").description == (
        "torch multitask (parallel MaskNet), 5 features, 3 heads"
    )
    assert _load(tmp_path / "b").description == "torch mlp (MLP), 5 features, single score"


def test_batching_does_not_change_scores(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "multitask", HEADS)
    whole = _load(tmp_path / "deep").score(frame)
    batched = _load(tmp_path / "deep", batch_size=7).score(frame)
    np.testing.assert_allclose(batched, whole, rtol=1e-6, atol=1e-6)
    assert _load(tmp_path / "deep").score(frame.iloc[:0]).shape == (0,)


def test_encode_maps_vocabulary_and_unseen_values(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    ranker = _load(tmp_path / "deep")
    rows = frame.iloc[:4].assign(client=["ios", "smart_tv", "android", "web"])
    x_num, x_cat = ranker.encode(rows)
    assert x_num.dtype == torch.float32
    assert x_cat.dtype == torch.int64
    assert x_cat[:, 0].tolist() == [2, 0, 1, 3]
    # Raw feature values: normalisation happens inside the module.
    np.testing.assert_array_equal(x_num.numpy(), rows[list(NUMERIC)].to_numpy(np.float32))
    # A pandas Categorical column (with an unused, unseen category) encodes the same way.
    as_category = rows.assign(
        client=pd.Categorical(rows["client"], categories=[*CLIENTS, "tv2", "smart_tv"])
    )
    assert ranker.encode(as_category)[1][:, 0].tolist() == [2, 0, 1, 3]
    # Index 0 embeds to zeros, so an unseen value carries no learned signal.
    embedding = ranker.module.get_submodule("inputs.embeddings.0")
    assert isinstance(embedding, nn.Embedding)
    assert torch.count_nonzero(embedding.weight[0]) == 0


def test_integer_categories_compare_as_strings(tmp_path: Path, frame: pd.DataFrame) -> None:
    torch.manual_seed(0)
    hyper = _hyperparameters(frame, 1, vocab_sizes=[3])
    module = build_builtin("mlp", hyper)
    directory = tmp_path / "deep"
    save_builtin_torch(
        directory,
        module,
        architecture="mlp",
        hyperparameters=hyper,
        numeric_features=list(NUMERIC),
        vocabularies={"client": [10, 20, 30]},
        heads={"favorite": 1.0},
    )
    ranker = _load(directory)
    rows = frame.iloc[:4].assign(client=[20, 99, 10, 30])
    assert ranker.encode(rows)[1][:, 0].tolist() == [2, 0, 1, 3]
    assert ranker.encode(rows.assign(client=["20", "99", "10", "30"]))[1][:, 0].tolist() == [
        2,
        0,
        1,
        3,
    ]


def test_normalisation_lives_in_the_state_dict(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "multitask", HEADS)
    hyper = _hyperparameters(frame, len(HEADS))
    state = safetensors.torch.load_file(str(tmp_path / "deep" / "model.safetensors"))
    assert state["inputs.normaliser.log_mask"].tolist() == LOG_FEATURES
    np.testing.assert_allclose(state["inputs.normaliser.mean"].numpy(), hyper["mean"], rtol=1e-6)
    np.testing.assert_allclose(state["inputs.normaliser.std"].numpy(), hyper["std"], rtol=1e-6)
    # The formula: sign(x) * log1p(|x|) on flagged features, then (x - mean) / std, no clamp.
    normaliser = Normaliser([True, False], [1.0, 2.0], [2.0, 4.0])
    x = torch.tensor([[-3.0, 10.0], [1e6, -2.0]])
    expected = torch.tensor(
        [
            [(-np.log1p(3.0) - 1.0) / 2.0, (10.0 - 2.0) / 4.0],
            [(np.log1p(1e6) - 1.0) / 2.0, (-2.0 - 2.0) / 4.0],
        ],
        dtype=torch.float32,
    )
    torch.testing.assert_close(normaliser(x), expected)


def test_saved_manifest_keys_and_determinism(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "a", frame, "mlp", HEADS)
    _save(tmp_path / "b", frame, "mlp", HEADS)
    text = (tmp_path / "a" / MANIFEST_NAME).read_text()
    assert text == (tmp_path / "b" / MANIFEST_NAME).read_text()
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (
        tmp_path / "b" / "model.safetensors"
    ).read_bytes()
    assert text.endswith("}\n")
    manifest = json.loads(text)
    assert list(manifest) == [
        "architecture",
        "categorical_features",
        "format",
        "heads",
        "hyperparameters",
        "numeric_features",
        "weights",
    ]
    assert list(manifest["heads"]) == list(HEADS)  # output order kept, not sorted
    assert list(manifest["hyperparameters"]) == sorted(manifest["hyperparameters"])
    assert manifest["format"] == "builtin"
    assert manifest["weights"] == "model.safetensors"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "model.safetensors",
        MANIFEST_NAME,
    ]
    _save(tmp_path / "c", frame, "mlp", {}, output="score")
    assert json.loads((tmp_path / "c" / MANIFEST_NAME).read_text())["output"] == "score"


def test_save_refuses_a_module_that_does_not_fit(tmp_path: Path, frame: pd.DataFrame) -> None:
    module = build_builtin("mlp", _hyperparameters(frame, 3, hidden=[8]))
    with pytest.raises(ValueError, match="does not match architecture 'mlp'"):
        save_builtin_torch(
            tmp_path,
            module,
            architecture="mlp",
            hyperparameters=_hyperparameters(frame, 3),
            numeric_features=list(NUMERIC),
            vocabularies=VOCABS,
            heads=HEADS,
        )
    with pytest.raises(ValueError, match=r"hyperparameters\.n_outputs is 3"):
        save_builtin_torch(
            tmp_path,
            module,
            architecture="mlp",
            hyperparameters=_hyperparameters(frame, 3, hidden=[8]),
            numeric_features=list(NUMERIC),
            vocabularies=VOCABS,
            heads={"favorite": 1.0},
        )
    with pytest.raises(ValueError, match="valid architectures: mlp, multitask"):
        build_builtin("transformer", {})
    assert not any(tmp_path.iterdir())


# --- entrypoint -----------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["model.safetensors", "state_dict.pt"])
def test_entrypoint_module_scores_like_a_direct_call(
    tmp_path: Path, frame: pd.DataFrame, user_models_on_path: None, weights: str
) -> None:
    from user_models.nets import make_ranker

    torch.manual_seed(3)
    module = make_ranker(n_numeric=4, vocab_size=3, hidden=6)
    directory = tmp_path / "user"
    directory.mkdir()
    if weights.endswith(".safetensors"):
        safetensors.torch.save_file(module.state_dict(), str(directory / weights))
    else:
        torch.save(module.state_dict(), directory / weights)
    _write_manifest(
        directory,
        format="entrypoint",
        entrypoint="user_models.nets:make_ranker",
        hyperparameters={"n_numeric": 4, "vocab_size": 3, "hidden": 6},
        weights=weights,
    )
    ranker = _load(directory)
    expected = _direct(module.eval(), frame)
    np.testing.assert_array_equal(ranker.head_scores(frame).to_numpy(), expected)
    np.testing.assert_allclose(ranker.score(frame), expected @ [0.5, 13.5], rtol=1e-12)
    assert ranker.description.startswith("torch entrypoint (user_models.nets:make_ranker)")


def test_entrypoint_module_shipped_in_the_model_directory(
    tmp_path: Path, frame: pd.DataFrame, user_models_on_path: None
) -> None:
    from user_models.nets import make_ranker

    name = "rankaudit_test_shipped_net"
    directory = tmp_path / "shipped"
    directory.mkdir()
    shutil.copy(Path(__file__).parent / "user_models" / "nets.py", directory / f"{name}.py")
    torch.manual_seed(4)
    module = make_ranker(n_numeric=4, vocab_size=3)
    safetensors.torch.save_file(module.state_dict(), str(directory / "model.safetensors"))
    _write_manifest(
        directory,
        format="entrypoint",
        entrypoint=f"{name}:make_ranker",
        hyperparameters={"n_numeric": 4, "vocab_size": 3},
        weights="model.safetensors",
    )
    try:
        first = _load(directory)
        np.testing.assert_array_equal(
            first.head_scores(frame).to_numpy(), _direct(module.eval(), frame)
        )
        assert str(directory) not in sys.path
        # Importing may have written __pycache__ into the directory; the identity holds.
        assert _load(directory).fingerprint == first.fingerprint
    finally:
        sys.modules.pop(name, None)


ENTRYPOINT_ERRORS = [
    ("not-an-entrypoint", "'entrypoint' must look like 'package.module:factory'"),
    ("no_such_pkg_for_rankaudit.nets:make", "cannot import 'no_such_pkg_for_rankaudit.nets'"),
    ("user_models.nets:no_such_factory", "has no attribute 'no_such_factory'"),
    ("user_models.nets:make_not_a_module", "returned dict, not a torch.nn.Module"),
    (
        "user_models.nets:TwoHeadNet",
        "calling user_models.nets:TwoHeadNet(**hyperparameters) failed",
    ),
]


@pytest.mark.parametrize(("entrypoint", "message"), ENTRYPOINT_ERRORS)
def test_entrypoint_errors_name_the_entrypoint(
    tmp_path: Path, user_models_on_path: None, entrypoint: str, message: str
) -> None:
    directory = tmp_path / "user"
    _write_manifest(
        directory,
        format="entrypoint",
        entrypoint=entrypoint,
        hyperparameters={"hidden": 6},
        weights="model.safetensors",
    )
    with pytest.raises(ModelLoadError) as info:
        _load(directory)
    assert str(info.value).startswith(str(directory / MANIFEST_NAME))
    assert message in str(info.value)


def test_pickled_whole_module_is_refused(tmp_path: Path, user_models_on_path: None) -> None:
    from user_models.nets import make_ranker

    directory = tmp_path / "user"
    _write_manifest(
        directory,
        format="entrypoint",
        entrypoint="user_models.nets:make_ranker",
        hyperparameters={"n_numeric": 4, "vocab_size": 3},
        weights="model.pt",
    )
    torch.save(make_ranker(4, 3), directory / "model.pt")
    with pytest.raises(ModelLoadError) as info:
        _load(directory)
    message = str(info.value)
    assert message.startswith(
        f"{directory / 'model.pt'}: is a pickled whole nn.Module, which rankaudit will not "
        "unpickle; save its state_dict instead (torch.save(model.state_dict(), 'weights.pt') or "
        "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')) and load it "
        "through an 'entrypoint'"
    )
    assert "user_models.nets.TwoHeadNet" in message
    assert "\n" not in message


def test_training_checkpoint_is_not_a_state_dict(tmp_path: Path, user_models_on_path: None) -> None:
    from user_models.nets import make_ranker

    directory = tmp_path / "user"
    _write_manifest(
        directory,
        format="entrypoint",
        entrypoint="user_models.nets:make_ranker",
        hyperparameters={"n_numeric": 4, "vocab_size": 3},
        weights="ckpt.pt",
    )
    torch.save({"model": make_ranker(4, 3).state_dict(), "epoch": 3}, directory / "ckpt.pt")
    with pytest.raises(ModelLoadError, match=r"is not a state_dict: key\(s\) model, epoch"):
        _load(directory)


# --- torchscript and torch.export -----------------------------------------------------------


def _copy_for(directory: Path, source: Path, **fields: Any) -> None:
    builtin = json.loads((source / MANIFEST_NAME).read_text())
    _write_manifest(
        directory,
        heads=builtin["heads"],
        **fields,
    )


def test_torchscript_and_export_score_like_the_builtin(tmp_path: Path, frame: pd.DataFrame) -> None:
    module = _save(tmp_path / "builtin", frame, "multitask", HEADS, n_blocks=2, block_dim=8)
    builtin = _load(tmp_path / "builtin")
    x_num, x_cat = builtin.encode(frame)

    _copy_for(tmp_path / "ts", tmp_path / "builtin", format="torchscript", file="model.ts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated upstream
        torch.jit.save(torch.jit.script(module), str(tmp_path / "ts" / "model.ts"))

    _copy_for(tmp_path / "ex", tmp_path / "builtin", format="export", file="model.pt2")
    batch = torch.export.Dim("batch")
    program = torch.export.export(
        module, (x_num[:8], x_cat[:8]), dynamic_shapes={"x_num": {0: batch}, "x_cat": {0: batch}}
    )
    torch.export.save(program, str(tmp_path / "ex" / "model.pt2"))

    expected = builtin.score(frame)
    for name, label in (("ts", "torch TorchScript (model.ts)"), ("ex", "torch.export program")):
        ranker = _load(tmp_path / name)
        np.testing.assert_allclose(ranker.score(frame), expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            ranker.head_scores(frame).to_numpy(),
            builtin.head_scores(frame).to_numpy(),
            rtol=0,
            atol=1e-6,
        )
        assert ranker.description.startswith(label)
    # The last chunk of a batched run may hold a single row.
    single = _load(tmp_path / "ex", batch_size=len(frame) - 1).score(frame)
    np.testing.assert_allclose(single, expected, rtol=0, atol=1e-6)


def test_export_with_a_fixed_batch_size_is_reported(tmp_path: Path, frame: pd.DataFrame) -> None:
    module = _save(tmp_path / "builtin", frame, "mlp", HEADS, hidden=[8])
    x_num, x_cat = _inputs(frame.iloc[:5])
    _copy_for(tmp_path / "ex", tmp_path / "builtin", format="export", file="model.pt2")
    torch.export.save(
        torch.export.export(module, (x_num, x_cat)), str(tmp_path / "ex" / "model.pt2")
    )
    with pytest.raises(ModelLoadError, match=r"export it with torch\.export\.Dim for the batch"):
        _load(tmp_path / "ex")


# --- bad files ------------------------------------------------------------------------------


def test_missing_weights_file(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    (tmp_path / "deep" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"model.safetensors: weights file not found"):
        _load(tmp_path / "deep")


def test_bad_manifest_json(tmp_path: Path) -> None:
    directory = tmp_path / "deep"
    directory.mkdir()
    (directory / MANIFEST_NAME).write_text('{"format": "builtin",')
    with pytest.raises(ModelLoadError) as info:
        _load(directory)
    assert str(info.value).startswith(
        f"{directory / MANIFEST_NAME}: model manifest is not valid JSON"
    )
    assert "\n" not in str(info.value)


def test_missing_manifest_and_non_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=f"{MANIFEST_NAME}: model manifest not found"):
        _load(tmp_path)
    file = tmp_path / "model.pt"
    file.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"must be a directory holding rankaudit-model\.json"):
        _load(file)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "onnx"}, "'format' must be one of builtin, entrypoint, torchscript, export"),
        ({"architecture": "transformer"}, "valid architectures: mlp, multitask"),
        ({"file": "model.ts"}, "unknown key 'file'"),
        ({"numeric_features": list(NUMERIC)[:3]}, "hyperparameters.n_numeric is 4"),
        ({"categorical_features": {"client": ["a", "a"]}}, "lists 'a' twice"),
        ({"output": "score"}, "'output' must be 'score' when 'heads' is {}"),
        ({"heads": {"favorite": "high"}}, "'heads.favorite' must be a finite number"),
    ],
)
def test_malformed_manifest_fields(
    tmp_path: Path, frame: pd.DataFrame, change: dict[str, Any], message: str
) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    path = tmp_path / "deep" / MANIFEST_NAME
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(ModelLoadError) as info:
        _load(tmp_path / "deep")
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_mismatched_state_dict_keys(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    weights = tmp_path / "deep" / "model.safetensors"
    state = safetensors.torch.load_file(str(weights))
    state["head.kernel"] = state.pop("head.weight")
    safetensors.torch.save_file(state, str(weights))
    with pytest.raises(ModelLoadError) as info:
        _load(tmp_path / "deep")
    assert str(info.value) == (
        f"{weights}: weights do not match the module: missing key 'head.weight' (1 missing in "
        "all); unexpected key 'head.kernel' (1 unexpected in all)"
    )


def test_wrong_tensor_shapes(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    weights = tmp_path / "deep" / "model.safetensors"
    state = safetensors.torch.load_file(str(weights))
    state["head.bias"] = torch.zeros(7)
    safetensors.torch.save_file(state, str(weights))
    with pytest.raises(ModelLoadError, match=r"weights do not match the module: .*size mismatch"):
        _load(tmp_path / "deep")


def test_corrupt_safetensors(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    weights = tmp_path / "deep" / "model.safetensors"
    weights.write_bytes(b"\x00garbage")
    with pytest.raises(ModelLoadError, match="not a readable safetensors file"):
        _load(tmp_path / "deep")


# --- identity and contract ------------------------------------------------------------------


def test_fingerprint_is_stable_and_follows_the_bytes(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    first = _load(tmp_path / "deep").fingerprint
    assert len(first) == 64
    assert _load(tmp_path / "deep").fingerprint == first
    weights = tmp_path / "deep" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # flips one bit of the last tensor's data; still loadable
    weights.write_bytes(bytes(data))
    assert _load(tmp_path / "deep").fingerprint != first


def test_missing_feature_column(tmp_path: Path, frame: pd.DataFrame) -> None:
    _save(tmp_path / "deep", frame, "mlp", HEADS)
    ranker = _load(tmp_path / "deep")
    with pytest.raises(SchemaError, match=r"deep \(torch\): .*: has_image, client$"):
        ranker.score(frame.drop(columns=["has_image", "client"]))
