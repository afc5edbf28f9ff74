"""A workspace with 220 features in 7 groups and rankers whose attributions are known exactly.

`baseline` is a `linear` model and `deep` the torch `Linear` of `tests.attribution.known_models`
(loaded through its entry point), both scoring `x @ w + c`: against any reference, every method's
attribution of feature k is `w_k * (x_k - mean of the reference rows' x_k)` (SHAP and IG are
exact for linear functions).

Two pairs of features are planted to tie in |attribution|: `f010` and `f003` are the same
column with weights `w` and `-w` (the largest weight of `baseline`), and `f100` / `f101` the same
column with the same weight of `deep`. Group names are free text and one holds markup, which
every surface must show as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import safetensors.torch
import torch
import yaml

from rankaudit.models.linear import save_linear
from tests.attribution import known_models

N_FEATURES = 220
#: Group name -> number of members (7 groups, 220 features).
GROUP_SIZES = {
    "tweet": 60,
    "author": 40,
    "viewer-author": 40,
    "viewer": 30,
    "context": 20,
    "engagement <b>history</b>": 20,
    "misc": 10,
}
FEATURES = tuple(f"f{i:03d}" for i in range(N_FEATURES))
REQUESTS = 4
CANDIDATES = 9


@dataclass(frozen=True)
class WideTruth:
    """What the tests compare with: the prepared log, each model's weights and intercept, and
    each feature's group."""

    root: Path
    log: pd.DataFrame
    weights: dict[str, np.ndarray]
    intercepts: dict[str, float]
    groups: dict[str, str]

    def attributions(self, model: str, row: pd.Series, reference: pd.DataFrame) -> pd.Series:
        """The exact attribution of every feature: w * (x - mean of the reference rows)."""
        x = row[list(FEATURES)].to_numpy(np.float64)
        mean = reference[list(FEATURES)].to_numpy(np.float64).mean(axis=0)
        return pd.Series(self.weights[model] * (x - mean), index=FEATURES)


def _groups() -> dict[str, str]:
    names = [g for g, size in GROUP_SIZES.items() for _ in range(size)]
    # Interleave the groups over the feature names, so a group is not a block of names.
    order = np.random.default_rng(7).permutation(N_FEATURES)
    return {FEATURES[i]: names[j] for j, i in enumerate(order)}


def write_wide_workspace(root: Path) -> WideTruth:
    """Write the workspace to `root` (logs, spec, both models, rankaudit.toml)."""
    rng = np.random.default_rng(0)
    rows = REQUESTS * CANDIDATES
    values = rng.normal(size=(rows, N_FEATURES))
    values[:, 3] = values[:, 10]
    values[:, 101] = values[:, 100]
    frame = pd.DataFrame(values, columns=list(FEATURES))
    request = np.repeat(np.arange(REQUESTS), CANDIDATES)
    frame.insert(0, "request_id", [f"r{r}" for r in request])
    frame.insert(1, "user_id", [f"u{r}" for r in request])
    frame.insert(2, "tweet_id", [f"t{i:03d}" for i in range(rows)])
    frame.insert(3, "author_id", [f"a{i % 5}" for i in range(rows)])
    frame.insert(
        4, "served_at", pd.Timestamp("2024-05-01", tz="UTC") + pd.to_timedelta(request, "h")
    )
    frame.insert(5, "label_favorite", (rng.random(rows) < 0.3).astype(np.int8))
    (root / "logs").mkdir(parents=True)
    frame.to_parquet(root / "logs" / "timelines.parquet", index=False)

    groups = _groups()
    spec = {
        "features": [
            {
                "name": f,
                "kind": "continuous",
                "group": groups[f],
                "description": f"feature {f}",
                "unit": "1",
            }
            for f in FEATURES
        ]
    }
    (root / "features.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    weights = {
        "baseline": rng.normal(scale=0.5, size=N_FEATURES),
        "deep": rng.normal(scale=0.5, size=N_FEATURES).astype(np.float32).astype(np.float64),
    }
    weights["baseline"][10] = 2.0
    weights["baseline"][3] = -2.0
    weights["deep"][100] = weights["deep"][101] = 1.25
    intercepts = {"baseline": 0.5, "deep": -0.25}
    (root / "models").mkdir()
    save_linear(
        root / "models" / "baseline.json", FEATURES, weights["baseline"], intercepts["baseline"]
    )
    module = known_models.linear(N_FEATURES)
    with torch.no_grad():
        module.layer.weight.copy_(torch.tensor(weights["deep"][None, :], dtype=torch.float32))
        module.layer.bias.fill_(intercepts["deep"])
    folder = root / "models" / "deep"
    folder.mkdir()
    safetensors.torch.save_file(module.state_dict(), str(folder / "model.safetensors"))
    manifest = {
        "format": "entrypoint", "entrypoint": "tests.attribution.known_models:linear",
        "hyperparameters": {"n_numeric": N_FEATURES}, "weights": "model.safetensors",
        "numeric_features": list(FEATURES), "categorical_features": {}, "heads": {},
    }  # fmt: skip
    (folder / "rankaudit-model.json").write_text(json.dumps(manifest))
    (root / "rankaudit.toml").write_text(
        'name = "wide"\nlogs = "logs"\nspec = "features.yaml"\n\n[heads]\nfavorite = 1.0\n\n'
        '[models.baseline]\nkind = "linear"\npath = "models/baseline.json"\n\n'
        '[models.deep]\nkind = "torch"\npath = "models/deep"\ntrust_code = true\n'
    )
    log = pd.read_parquet(root / "logs" / "timelines.parquet")
    return WideTruth(root=root, log=log, weights=weights, intercepts=intercepts, groups=groups)
