"""The ground truth as a torch ranker, loadable like any team's own model (format `entrypoint`).

The demo workspace lists it as the `truth` model: its attributions are the true effects of the
features (in logged units, so on rows with the planted bug it shows what the bug does to the
true engagement model too), which is what tests compare explanations against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rankaudit.synth.truth import GroundTruth

__all__ = ["GroundTruthModule", "build_truth_module", "save_truth_model"]

_NUMERIC_TRANSFORMS = ("identity", "log1p", "hours_log1p", "centered_length", "evening")


class GroundTruthModule(nn.Module):
    """Per head: sigmoid(intercept + appeal_scale * appeal[author] + sum of terms); no position
    bias (rankers see no position). Inputs follow the rankaudit torch contract."""

    def __init__(
        self,
        numeric_features: Sequence[str],
        heads: Sequence[str],
        intercepts: Sequence[float],
        appeal_scales: Sequence[float],
        terms: Sequence[Mapping[str, Any]],
        n_authors: int,
        ios_index: int,
    ) -> None:
        super().__init__()
        self.numeric_features = list(numeric_features)
        self.heads = list(heads)
        self.terms = [dict(t) for t in terms]
        self.ios_index = ios_index
        self.register_buffer("intercepts", torch.tensor(list(intercepts), dtype=torch.float32))
        self.register_buffer(
            "appeal_scales", torch.tensor(list(appeal_scales), dtype=torch.float32)
        )
        # Row 0: an unknown author, appeal 0.
        self.appeal = nn.Embedding(n_authors + 1, 1)

    def _transform(self, name: str, x: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        if name == "one_hot_ios":
            return (x_cat[:, 1] == self.ios_index).to(torch.float32)
        if name == "identity":
            return x
        if name == "log1p":
            return torch.sign(x) * torch.log1p(torch.abs(x))
        if name == "hours_log1p":
            return torch.log1p(torch.clamp(x, min=0.0) / 60.0)
        if name == "centered_length":
            return (x - 100.0) / 100.0
        return torch.cos(2 * torch.pi * (x - 20.0) / 24.0)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        logits = self.intercepts + self.appeal(x_cat[:, 0]) * self.appeal_scales
        columns = {name: x_num[:, j] for j, name in enumerate(self.numeric_features)}
        extra = torch.zeros_like(logits)
        for term in self.terms:
            value = torch.ones(x_num.shape[0])
            for feature, name in zip(term["features"], term["transforms"], strict=True):
                # `client` is categorical: its transform reads x_cat, the numeric slot is unused.
                numeric = columns[feature] if feature in columns else x_num[:, 0]
                value = value * self._transform(name, numeric, x_cat)
            extra[:, term["head"]] += term["weight"] * value
        return torch.sigmoid(logits + extra)


def build_truth_module(**hyperparameters: Any) -> nn.Module:
    """Entry-point factory named in the truth model's rankaudit-model.json."""
    return GroundTruthModule(**hyperparameters)


def save_truth_model(truth: GroundTruth, directory: Path) -> None:
    """Write the truth as a torch `entrypoint` model folder (manifest + safetensors)."""
    import json

    import safetensors.torch

    numeric = sorted(
        {
            f
            for _, _, terms in truth.truth.values()
            for t in terms
            for f in t.features
            if f != "client"
        }
    )
    heads = list(truth.truth)
    terms = [
        {
            "head": heads.index(head),
            "features": list(t.features),
            "transforms": list(t.transforms),
            "weight": t.weight,
        }
        for head, (_, _, head_terms) in truth.truth.items()
        for t in head_terms
    ]
    authors = sorted(truth.author_appeal)
    clients = ["android", "ios", "web"]
    hyperparameters: dict[str, Any] = {
        "numeric_features": numeric,
        "heads": heads,
        "intercepts": [truth.truth[h][0] for h in heads],
        "appeal_scales": [truth.truth[h][1] for h in heads],
        "terms": terms,
        "n_authors": len(authors),
        "ios_index": clients.index("ios") + 1,
    }
    module = GroundTruthModule(**hyperparameters)
    with torch.no_grad():
        module.appeal.weight.zero_()
        module.appeal.weight[1:, 0] = torch.tensor([truth.author_appeal[a] for a in authors])
    directory.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(module.state_dict(), str(directory / "model.safetensors"))
    manifest = {
        "format": "entrypoint",
        "entrypoint": "rankaudit.synth.truth_model:build_truth_module",
        "hyperparameters": hyperparameters,
        "weights": "model.safetensors",
        "numeric_features": numeric,
        "categorical_features": {"author_id": authors, "client": clients},
        "heads": {h: truth.heads[h] for h in heads},
    }
    (directory / "rankaudit-model.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
