"""Shared fixtures: a small workspace written from the demo simulator (no training)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rankaudit.models.linear import save_linear
from rankaudit.synth.features import DEMO_SPEC
from rankaudit.synth.truth import HEAD_WEIGHTS
from rankaudit.synth.world import WorldConfig, build_world, iter_timelines

LINEAR_FEATURES = ("topic_similarity", "real_graph_weight", "tweet_age_minutes")
LINEAR_COEFFICIENTS = (1.5, 2.0, -0.001)


def small_log(users: int = 30, seed: int = 3) -> pd.DataFrame:
    """Logged timelines of `users` simulated viewers, in contract form."""
    return pd.concat(
        list(iter_timelines(build_world(WorldConfig(users=users, seed=seed)))), ignore_index=True
    )


def set_cell(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A log change for bad-input tests: `value` in one cell (the column widened to float or
    object first when the value needs it)."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        if not isinstance(value, int) or isinstance(value, bool):
            out[column] = out[column].astype(np.float64 if isinstance(value, float) else object)
        out.loc[row, column] = value
        return out

    return change


def use_pickled_torch_model(root: Path) -> None:
    """Make the workspace's `baseline` a torch model whose weights file is a pickled whole
    nn.Module: what every command must refuse without unpickling it."""
    import torch

    folder = root / "models/pickled"
    folder.mkdir(parents=True)
    torch.save(torch.nn.Linear(2, 1), folder / "model.pt")
    (folder / "rankaudit-model.json").write_text(
        '{"format": "entrypoint", "entrypoint": "torch.nn:Linear", "hyperparameters": '
        '{"in_features": 2, "out_features": 1}, "weights": "model.pt", '
        '"numeric_features": ["has_image", "has_video"], "categorical_features": {}, '
        '"heads": {}, "output": "score"}'
    )
    config = root / "rankaudit.toml"
    old = 'kind = "linear"\npath = "models/linear.json"'
    config.write_text(config.read_text().replace(old, 'kind = "torch"\npath = "models/pickled"', 1))


def write_workspace(
    root: Path, frame: pd.DataFrame, *, log_name: str = "timelines.parquet"
) -> Path:
    """Write logs, the demo spec, a linear 'baseline', and served/chronological models."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / log_name
    if log_name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif log_name.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    (root / "features.yaml").write_text(yaml.safe_dump(DEMO_SPEC.to_dict(), sort_keys=False))
    save_linear(root / "models/linear.json", LINEAR_FEATURES, LINEAR_COEFFICIENTS, 0.0, "identity")
    heads = "".join(f"{head} = {weight}\n" for head, weight in HEAD_WEIGHTS.items())
    toml = (
        'name = "tiny"\nlogs = "logs"\nspec = "features.yaml"\n\n'
        f"[heads]\n{heads}\n"
        '[models.baseline]\nkind = "linear"\npath = "models/linear.json"\n\n'
        '[models.served]\nkind = "logged"\n\n[models.deep]\nkind = "chronological"\n'
    )
    (root / "rankaudit.toml").write_text(toml)
    return root


@pytest.fixture(scope="session")
def tiny_log() -> pd.DataFrame:
    return small_log()


@pytest.fixture
def make_workspace(tmp_path: Path, tiny_log: pd.DataFrame) -> Callable[..., Path]:
    def make(frame: pd.DataFrame | None = None, **kwargs: str) -> Path:
        return write_workspace(tmp_path / "ws", tiny_log if frame is None else frame, **kwargs)

    return make
