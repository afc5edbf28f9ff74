"""The team's own model code: a plain MLP whose forward takes one float tensor."""

from __future__ import annotations

from torch import nn


def make_mlp(n_inputs: int, hidden: int) -> nn.Module:
    """Return Linear -> ReLU -> Linear -> ReLU -> Linear(1): one raw score per row."""
    return nn.Sequential(
        nn.Linear(n_inputs, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 1),
    )
