"""A learning-to-rank world the demo never shaped: an svmlight file with graded relevance (0-4),
many sparse-ish features and queries of 10-30 documents, and three rankers trained on it the way
teams train theirs (a LightGBM lambdarank booster on a numpy array, an XGBoost rank:ndcg ranker on
a DataFrame, a torch MLP whose forward(x) takes one float tensor)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

N_FEATURES = 160
N_QUERIES = 110


@dataclass(frozen=True)
class LtrData:
    """Rows in file order: query id per row, graded labels, the dense feature matrix."""

    qid: np.ndarray
    grade: np.ndarray
    x: np.ndarray

    @property
    def group_sizes(self) -> list[int]:
        _, first, counts = np.unique(self.qid, return_index=True, return_counts=True)
        return [int(c) for _, c in sorted(zip(first, counts, strict=True))]


def make_data(
    seed: int = 17, *, n_features: int = N_FEATURES, n_queries: int = N_QUERIES
) -> LtrData:
    """Queries of 10-30 documents; grades from a hidden score with interactions, cut into 0-4."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(10, 31, size=n_queries)
    qid = np.repeat(np.arange(1, n_queries + 1) * 7, sizes)
    n = int(sizes.sum())
    x = rng.normal(size=(n, n_features))
    # About a third of the features are sparse counts (zero most of the time), as in LETOR data.
    sparse = np.arange(n_features) % 3 == 0
    x[:, sparse] = np.where(rng.random((n, int(sparse.sum()))) < 0.7, 0.0, np.abs(x[:, sparse]))
    x = np.round(x, 4)
    weights = np.zeros(n_features)
    weights[:12] = rng.normal(scale=1.0, size=12)
    hidden = x @ weights + 0.8 * x[:, 12] * x[:, 13] + rng.normal(scale=0.5, size=n)
    cuts = np.quantile(hidden, [0.45, 0.7, 0.85, 0.95])
    grade = np.searchsorted(cuts, hidden).astype(np.int64)
    return LtrData(qid=qid, grade=grade, x=x)


def write_svmlight(data: LtrData, path: Path) -> None:
    """`<grade> qid:<q> <id>:<value> ...` with 1-based feature ids; zeros are left out."""
    lines = []
    for grade, q, row in zip(data.grade, data.qid, data.x, strict=True):
        pairs = " ".join(f"{j + 1}:{v:g}" for j, v in enumerate(row) if v != 0.0)
        lines.append(f"{grade} qid:{q} {pairs}\n")
    path.write_text("".join(lines))


def feature_names(n_features: int = N_FEATURES) -> list[str]:
    return [f"f{j + 1}" for j in range(n_features)]


def train_lightgbm(data: LtrData, path: Path) -> None:
    """A lambdarank booster trained on a numpy array: its features are Column_0..Column_159."""
    import lightgbm as lgb

    model = lgb.LGBMRanker(
        objective="lambdarank", n_estimators=30, num_leaves=15, learning_rate=0.1,
        min_child_samples=10, random_state=0, deterministic=True, n_jobs=1, verbose=-1,
    )  # fmt: skip
    model.fit(data.x, data.grade, group=data.group_sizes)
    model.booster_.save_model(str(path))


def train_xgboost(data: LtrData, path: Path) -> None:
    """An XGBRanker (rank:ndcg) trained on a DataFrame with the importer's feature names."""
    import xgboost as xgb

    frame = pd.DataFrame(data.x, columns=feature_names(data.x.shape[1]))
    model = xgb.XGBRanker(
        objective="rank:ndcg", n_estimators=30, max_depth=4, learning_rate=0.1,
        random_state=0, n_jobs=1, tree_method="hist",
    )  # fmt: skip
    model.fit(frame, data.grade, qid=data.qid)
    model.save_model(str(path))


def train_mlp(data: LtrData, directory: Path) -> None:
    """A torch MLP with forward(x), trained with a pointwise loss on the grades, saved as
    safetensors with a manifest that names its factory and nothing else about its inputs."""
    import safetensors.torch
    import torch

    from tests.realworld.mlp import make_mlp

    torch.manual_seed(0)
    n_inputs = data.x.shape[1]
    module = make_mlp(n_inputs=n_inputs, hidden=32)
    x = torch.tensor(data.x, dtype=torch.float32)
    y = torch.tensor(data.grade, dtype=torch.float32)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.01)
    for _ in range(60):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(module(x).squeeze(-1), y)
        loss.backward()
        optimiser.step()
    directory.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(module.state_dict(), str(directory / "model.safetensors"))
    # The model folder ships its own code, as a team's exported model would.
    shutil.copyfile(Path(__file__).with_name("mlp.py"), directory / "team_mlp.py")
    manifest = {
        "format": "entrypoint",
        "entrypoint": "team_mlp:make_mlp",
        "hyperparameters": {"n_inputs": n_inputs, "hidden": 32},
        "weights": "model.safetensors",
    }
    (directory / "rankaudit-model.json").write_text(json.dumps(manifest, indent=2) + "\n")
