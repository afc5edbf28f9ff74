"""A team's own nn.Module, loaded through `package.module:factory`, scores the demo logs; a
pickled whole module is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from rankaudit.data.readers import read_timelines
from rankaudit.errors import ModelLoadError
from rankaudit.models import ModelConfig, load_ranker
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
NUMERIC = ["topic_similarity", "real_graph_weight", "tweet_fav_count", "author_follower_count"]
CLIENTS = ["android", "ios", "web"]


def _manifest(weights: str) -> dict[str, object]:
    return {
        "format": "entrypoint",
        "entrypoint": "user_models.nets:make_ranker",
        "hyperparameters": {"n_numeric": len(NUMERIC), "vocab_size": len(CLIENTS)},
        "weights": weights,
        "numeric_features": NUMERIC,
        "categorical_features": {"client": CLIENTS},
        "heads": {"favorite": 0.5, "reply": 13.5},
    }


@pytest.mark.usefixtures("user_models_on_path")
def test_user_module_scores_the_demo_logs(tmp_path: Path) -> None:
    from user_models.nets import make_ranker

    torch.manual_seed(0)
    module = make_ranker(len(NUMERIC), len(CLIENTS)).eval()
    safetensors.torch.save_file(module.state_dict(), tmp_path / "model.safetensors")
    (tmp_path / "rankaudit-model.json").write_text(json.dumps(_manifest("model.safetensors")))
    ranker = load_ranker(ModelConfig(name="mine", kind="torch", path=tmp_path, trust_code=True))

    workspace = load_workspace(DEMO)
    frame = read_timelines(workspace.logs, workspace.spec).head(5000)
    heads = ranker.head_scores(frame)
    x_num = torch.tensor(frame[NUMERIC].to_numpy(dtype=np.float32))
    x_cat = torch.tensor(
        frame["client"].map({c: i + 1 for i, c in enumerate(CLIENTS)}).to_numpy()[:, None]
    )
    with torch.no_grad():
        expected = module(x_num, x_cat).numpy()
    np.testing.assert_allclose(heads.to_numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        ranker.score(frame), 0.5 * expected[:, 0] + 13.5 * expected[:, 1], rtol=1e-5
    )
    assert ranker.heads == ("favorite", "reply")


@pytest.mark.usefixtures("user_models_on_path")
def test_pickled_whole_module_is_refused(tmp_path: Path) -> None:
    from user_models.nets import make_ranker

    torch.save(make_ranker(len(NUMERIC), len(CLIENTS)), tmp_path / "model.pt")
    (tmp_path / "rankaudit-model.json").write_text(json.dumps(_manifest("model.pt")))
    with pytest.raises(ModelLoadError, match=r"pickled whole nn\.Module.*state_dict"):
        load_ranker(ModelConfig(name="mine", kind="torch", path=tmp_path, trust_code=True))
