"""Train the demo's rankers: a LightGBM baseline per head and the deep multi-task torch ranker.

Both are trained on the requests served before the hold-out time, with the last training day
kept for early stopping. Training is single-threaded and seeded so that files are identical
from one build to the next on one machine; CPUs with other instruction sets round torch's
kernels differently, which `rankaudit.synth.rebuild` allows for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from rankaudit.data import schema
from rankaudit.data.spec import FeatureSpec
from rankaudit.models.base import write_atomic
from rankaudit.models.threads import torch_threads
from rankaudit.models.torch_nets import build_builtin
from rankaudit.models.torch_ranker import encode_features, save_builtin_torch

__all__ = ["train_baseline", "train_deep"]

_VALIDATION_DAYS = 1


def split_validation(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split training rows in time: the last day validates, the rest trains."""
    cut = frame[schema.SERVED_AT].max() - pd.Timedelta(days=_VALIDATION_DAYS)
    late = frame[schema.SERVED_AT] > cut
    return frame.loc[~late], frame.loc[late]


def train_baseline(
    frame: pd.DataFrame,
    features: Sequence[str],
    heads: Mapping[str, float],
    out: Path,
    *,
    seed: int,
) -> None:
    """Train one LightGBM binary classifier per head and write them with a multi-head manifest.

    Writes `<out>/<head>.txt` and `<out>/heads.json`.
    """
    import lightgbm as lgb

    train, valid = split_validation(frame)
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {"format": "rankaudit-multihead", "heads": {}}
    x_train = train[list(features)].to_numpy(dtype=np.float64)
    x_valid = valid[list(features)].to_numpy(dtype=np.float64)
    for head, weight in heads.items():
        label = schema.label_column(head)
        data = lgb.Dataset(
            x_train, train[label].to_numpy(), feature_name=list(features), free_raw_data=False
        )
        check = lgb.Dataset(x_valid, valid[label].to_numpy(), reference=data)
        booster = lgb.train(
            params,
            data,
            num_boost_round=400,
            valid_sets=[check],
            callbacks=[lgb.early_stopping(40, verbose=False)],
        )
        text = booster.model_to_string(num_iteration=booster.best_iteration)
        write_atomic(out / f"{head}.txt", text.encode("utf-8"))
        manifest["heads"][head] = {"file": f"{head}.txt", "weight": weight}  # type: ignore[index]
    write_atomic(
        out / "heads.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    )


def train_deep(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    heads: Mapping[str, float],
    log_scaled: frozenset[str],
    out: Path,
    *,
    seed: int,
    max_epochs: int | None = None,
) -> None:
    """Train the multi-task ranker (parallel MaskNet, embeddings for categorical features) and
    save it as a builtin torch model directory (`rankaudit-model.json` + safetensors)."""
    numeric = list(spec.numeric_names)
    categorical = list(spec.categorical_names)
    vocabularies = {c: sorted(frame[c].astype(str).unique().tolist()) for c in categorical}
    train, valid = split_validation(frame)
    transformed = train[numeric].to_numpy(dtype=np.float64, copy=True)
    flags = [name in log_scaled for name in numeric]
    for j, flag in enumerate(flags):
        if flag:
            transformed[:, j] = np.sign(transformed[:, j]) * np.log1p(np.abs(transformed[:, j]))
    mean = transformed.mean(axis=0)
    std = transformed.std(axis=0)
    std[std == 0] = 1.0
    hyperparameters = {
        "n_numeric": len(numeric),
        "vocab_sizes": [len(vocabularies[c]) for c in categorical],
        "n_outputs": len(heads),
        "log_features": flags,
        "mean": [round(float(v), 8) for v in mean],
        "std": [round(float(v), 8) for v in std],
    }
    labels = [schema.label_column(h) for h in heads]
    with torch_threads(1):  # one reduction order: identical weights build after build
        torch.manual_seed(seed)
        module = build_builtin("multitask", hyperparameters)
        x_num, x_cat = encode_features(train, numeric, vocabularies)
        y = torch.as_tensor(train[labels].to_numpy(dtype=np.float32, copy=True))
        v_num, v_cat = encode_features(valid, numeric, vocabularies)
        v_y = torch.as_tensor(valid[labels].to_numpy(dtype=np.float32, copy=True))
        optimizer = torch.optim.Adam(module.parameters(), lr=2e-3, weight_decay=1e-6)
        generator = torch.Generator().manual_seed(seed)
        epochs = max_epochs or int(np.clip(round(1_000_000 / max(len(train), 1)), 2, 16))
        best_loss, best_state = float("inf"), None
        for _ in range(epochs):
            module.train()
            for batch in torch.randperm(len(y), generator=generator).split(512):
                optimizer.zero_grad()
                probs = module(x_num[batch], x_cat[batch]).clamp(1e-6, 1 - 1e-6)
                loss = (
                    functional.binary_cross_entropy(probs, y[batch], reduction="none")
                    .mean(dim=0)
                    .sum()
                )
                loss.backward()
                optimizer.step()
            module.eval()
            with torch.inference_mode():
                probs = module(v_num, v_cat).clamp(1e-6, 1 - 1e-6)
                valid_loss = float(
                    functional.binary_cross_entropy(probs, v_y, reduction="none").mean(dim=0).sum()
                )
            if valid_loss < best_loss:
                best_loss = valid_loss
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        assert best_state is not None
        module.load_state_dict(best_state)
    module.eval()
    save_builtin_torch(
        out,
        module,
        architecture="multitask",
        hyperparameters=hyperparameters,
        numeric_features=numeric,
        vocabularies=vocabularies,
        heads=dict(heads),
    )
