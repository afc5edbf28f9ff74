"""Rankers of every kind, built in a temporary folder, for the attribution contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch

from rankaudit.data.readers import prepare
from rankaudit.models import ModelConfig, load_ranker
from rankaudit.models.linear import save_linear
from rankaudit.models.torch_nets import build_builtin
from rankaudit.models.torch_ranker import save_builtin_torch
from rankaudit.synth.features import DEMO_SPEC
from tests.attribution import known_models

NUMERIC = ["topic_similarity", "real_graph_weight", "tweet_age_minutes", "social_proof_count"]
LINEAR_WEIGHTS = [1.5, 2.0, -0.001, 0.3]


@pytest.fixture(scope="session")
def frame(tiny_log: pd.DataFrame) -> pd.DataFrame:
    """Prepared rows of 4 requests."""
    requests = tiny_log["request_id"].drop_duplicates().head(4)
    return prepare(
        tiny_log.loc[tiny_log["request_id"].isin(requests)].reset_index(drop=True), DEMO_SPEC
    )


def _entrypoint(folder: Path, factory: str, module: torch.nn.Module, hyper: dict[str, Any],
                numeric: list[str], vocabularies: dict[str, list[str]], heads: dict[str, float]) -> Path:  # fmt: skip
    folder.mkdir(parents=True)
    safetensors.torch.save_file(module.state_dict(), str(folder / "model.safetensors"))
    manifest = {
        "format": "entrypoint", "entrypoint": f"tests.attribution.known_models:{factory}",
        "hyperparameters": hyper, "weights": "model.safetensors", "numeric_features": numeric,
        "categorical_features": vocabularies, "heads": heads,
    }  # fmt: skip
    (folder / "rankaudit-model.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="session")
def rankers(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> dict[str, Any]:
    """name -> loaded ranker, one per kind and torch path."""
    root = tmp_path_factory.mktemp("rankers")
    out: dict[str, Any] = {}

    def load(name: str, kind: str, path: Path | None, **options: Any) -> None:
        out[name] = load_ranker(
            ModelConfig(name=name, kind=kind, path=path, options=options, trust_code=True)
        )

    save_linear(root / "linear.json", NUMERIC, LINEAR_WEIGHTS, 0.5, "identity")
    load("linear", "linear", root / "linear.json")
    save_linear(root / "logistic.json", NUMERIC, [0.8, 1.0, -0.002, 0.2], -1.0, "logistic")
    load("logistic", "linear", root / "logistic.json")

    torch.manual_seed(1)
    linear = known_models.linear(len(NUMERIC))
    with torch.no_grad():
        linear.layer.weight.copy_(torch.tensor([LINEAR_WEIGHTS]))
        linear.layer.bias.fill_(0.5)
    load(
        "torch_linear",
        "torch",
        _entrypoint(root / "tl", "linear", linear, {"n_numeric": len(NUMERIC)}, NUMERIC, {}, {}),
    )
    load(
        "product",
        "torch",
        _entrypoint(root / "pr", "product", known_models.product(), {}, NUMERIC[:2], {}, {}),
    )
    clients = ["android", "ios", "web"]
    shift = known_models.category_shift(len(clients))
    load("category_shift", "torch", _entrypoint(root / "cs", "category_shift", shift, {"vocab_size": 3},
         NUMERIC[:1], {"client": clients}, {"favorite": 0.5, "reply": 13.5}))  # fmt: skip

    numeric = list(DEMO_SPEC.numeric_names)
    vocabularies = {c: sorted(frame[c].astype(str).unique()) for c in DEMO_SPEC.categorical_names}
    hyper: dict[str, Any] = {
        "n_numeric": len(numeric), "vocab_sizes": [len(v) for v in vocabularies.values()], "n_outputs": 2,
        "log_features": [n.endswith(("count", "minutes", "days", "50d")) for n in numeric],
        "mean": [float(frame[n].mean()) for n in numeric], "std": [float(frame[n].std() or 1.0) for n in numeric],
    }  # fmt: skip
    torch.manual_seed(2)
    masknet = build_builtin("multitask", hyper)
    save_builtin_torch(root / "masknet", masknet, architecture="multitask", hyperparameters=hyper,
                       numeric_features=numeric, vocabularies=vocabularies, heads={"favorite": 0.5, "reply": 13.5})  # fmt: skip
    load("masknet", "torch", root / "masknet")

    import lightgbm as lgb

    x = frame[NUMERIC].to_numpy()
    y = (frame["topic_similarity"] + 0.3 * np.log1p(frame["social_proof_count"]) > 0.2).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 5, "deterministic": True,
              "num_threads": 1, "verbosity": -1, "seed": 0}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=NUMERIC), num_boost_round=20)
    booster.save_model(str(root / "gbdt.txt"))
    load("lightgbm", "lightgbm", root / "gbdt.txt")
    load("served", "logged", None)
    load("chronological", "chronological", None)
    return out


@pytest.fixture
def ranker(rankers: dict[str, Any]) -> Callable[[str], Any]:
    return rankers.__getitem__
