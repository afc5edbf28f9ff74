"""Torch modules whose attributions are known in closed form (loaded through entry points)."""

from __future__ import annotations

import torch
from torch import nn


class Linear(nn.Module):
    """score = x @ w + c over numeric features; categorical inputs ignored."""

    def __init__(self, n_numeric: int) -> None:
        super().__init__()
        self.layer = nn.Linear(n_numeric, 1)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layer(x_num)[:, 0]
        return out


class Product(nn.Module):
    """score = x0 * x1: a pure interaction."""

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return x_num[:, 0] * x_num[:, 1]


class CategoryShift(nn.Module):
    """Two heads: sigmoid(a * x0 + shift[category]); exercises the categorical Shapley split."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.shift = nn.Embedding(vocab_size + 1, 2)
        self.scale = nn.Linear(1, 2)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.scale(x_num[:, :1]) + self.shift(x_cat[:, 0]))


def linear(n_numeric: int) -> nn.Module:
    return Linear(n_numeric)


def product() -> nn.Module:
    return Product()


def category_shift(vocab_size: int) -> nn.Module:
    return CategoryShift(vocab_size)
