"""A user's own two-head ranker, loaded through an `entrypoint`."""

from __future__ import annotations

import torch
from torch import nn


class TwoHeadNet(nn.Module):
    """log1p-scaled numeric features plus one embedding -> two sigmoid heads."""

    def __init__(self, n_numeric: int, vocab_size: int, hidden: int = 8) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size + 1, 3, padding_idx=0)
        self.body = nn.Sequential(nn.Linear(n_numeric + 3, hidden), nn.Tanh())
        self.out = nn.Linear(hidden, 2)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        x = torch.cat([torch.log1p(x_num.abs()), self.embedding(x_cat[:, 0])], dim=1)
        out: torch.Tensor = torch.sigmoid(self.out(self.body(x)))
        return out


def make_ranker(n_numeric: int, vocab_size: int, hidden: int = 8) -> nn.Module:
    """The factory named in rankaudit-model.json: `user_models.nets:make_ranker`."""
    return TwoHeadNet(n_numeric, vocab_size, hidden)


def make_not_a_module(**_: object) -> object:
    """A broken factory: returns something that is not an nn.Module."""
    return {"not": "a module"}
