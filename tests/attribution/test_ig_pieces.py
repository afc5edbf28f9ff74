"""IG between kinks: the paths of a ReLU network are cut where its units switch, each piece
integrated on its own; a pair and its reverse are integrated once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rankaudit.attribution.groups import request_groups
from rankaudit.attribution.ig import TorchIntegratedGradients
from rankaudit.attribution.paths import Nodes, find_pieces, gauss_legendre_nodes
from rankaudit.attribution.refine import Mirror
from rankaudit.attribution.settings import AttributionSettings

W = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.8, -1.2], [-1.5, 0.4, 0.9], [2.0, 1.0, 1.0]])
BIAS = torch.tensor([0.1, -0.2, 0.3, -0.5])
OUT = torch.tensor([1.0, -0.7, 2.0, 0.4])


def relu_sum(x: torch.Tensor) -> torch.Tensor:
    """f(x) = sum_k out_k relu(W_k x + bias_k): piecewise linear, kinks known in closed form."""
    w, bias, out = (t.to(x.dtype) for t in (W, BIAS, OUT))
    return (torch.relu(x @ w.T + bias) @ out)[:, None]


def exact_ig(x: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """IG of relu_sum from b to x: unit k contributes out_k W_k (x - b) times the length of
    [0, 1] on which it is active (its pre-activation is linear along the path)."""
    d = x - b
    start, slope = b @ W.T + BIAS, d @ W.T  # pre-activation = start + a * slope
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = (-start / slope).numpy()
    active = np.where(
        slope.numpy() > 0,
        1.0 - np.clip(cross, 0, 1),
        np.where(slope.numpy() < 0, np.clip(cross, 0, 1), (start.numpy() > 0).astype(float)),
    )
    out: np.ndarray = np.einsum("pk,k,kf,pf->pf", active, OUT.numpy(), W.numpy(), d.numpy())
    return out


def integrate(x: torch.Tensor, b: torch.Tensor, nodes: Nodes) -> np.ndarray:
    d = x - b
    pair = torch.as_tensor(nodes.pair)
    alpha = torch.as_tensor(nodes.alpha, dtype=torch.float64)
    weight = torch.as_tensor(nodes.weight, dtype=torch.float64)
    path = (b.double()[pair] + alpha[:, None] * d.double()[pair]).requires_grad_(True)
    (grad,) = torch.autograd.grad(relu_sum(path).sum(), path)
    out = torch.zeros(x.shape, dtype=torch.float64)
    out.index_add_(0, pair, grad * weight[:, None] * d.double()[pair])
    return out.numpy()


def test_cutting_at_the_kinks_integrates_a_relu_network_exactly() -> None:
    torch.manual_seed(0)
    x, b = torch.randn(12, 3) * 2, torch.randn(12, 3) * 2
    pieces = find_pieces(relu_sum, [x], [b], [], grid=16, chunk_rows=40)
    assert pieces.kinked
    # The cuts are the analytic kinks: where a pre-activation crosses zero inside the path.
    start, slope = (b @ W.T + BIAS).numpy(), ((x - b) @ W.T).numpy()
    for p in range(len(x)):
        crossing = -start[p] / slope[p]
        truth = np.sort(crossing[(crossing > 0) & (crossing < 1)])
        cuts = pieces.start[pieces.pair == p][1:]
        np.testing.assert_allclose(cuts, truth, atol=1e-6)
    exact = exact_ig(x, b)
    one_point = integrate(x, b, pieces.nodes(first=1, scale=1, chosen=np.arange(len(x))))
    np.testing.assert_allclose(one_point, exact, atol=1e-5)
    # One Gauss-Legendre rule over the whole path is not exact at 32 points.
    assert np.abs(integrate(x, b, gauss_legendre_nodes(len(x), 32)) - exact).max() > 1e-4


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(3, 5), nn.Linear(5, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.act(self.a(x)) - 0.1, 0.2)
        out: torch.Tensor = self.b(torch.relu(h + 0.05))
        return out


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_the_recorder_sees_modules_functions_and_in_place_relus_but_not_smooth_or_scripted() -> (
    None
):
    torch.manual_seed(1)
    module = Mixed().eval()
    x, b = torch.randn(6, 3) * 3, torch.randn(6, 3) * 3
    pieces = find_pieces(module, [x], [b], [], grid=64, chunk_rows=1000)
    assert pieces.kinked
    assert len(pieces.pair) > len(x)
    smooth = nn.Sequential(nn.Linear(3, 5), nn.SiLU(), nn.Linear(5, 1)).eval()
    flat = find_pieces(smooth, [x], [b], [], grid=64, chunk_rows=1000)
    assert not flat.kinked
    assert len(flat.pair) == len(x)
    scripted = torch.jit.script(module)
    assert not find_pieces(scripted, [x], [b], [], grid=64, chunk_rows=1000).kinked


def test_pieces_are_deterministic_whatever_the_chunking() -> None:
    torch.manual_seed(2)
    x, b = torch.randn(9, 3) * 2, torch.randn(9, 3) * 2
    one = find_pieces(relu_sum, [x], [b], [], grid=32, chunk_rows=33 * 2)
    other = find_pieces(relu_sum, [x], [b], [], grid=32, chunk_rows=33 * 9)
    for field in ("pair", "start", "length"):
        np.testing.assert_array_equal(getattr(one, field), getattr(other, field))


def test_a_pair_and_its_reverse_are_integrated_once() -> None:
    same = np.eye(5, dtype=bool)  # the request reference: every row is also a baseline
    mirror = Mirror(same)
    assert len(mirror.rows) == 10
    for i in range(5):
        for j in range(5):
            if i == j:
                assert mirror.source[i, j] == -1
                continue
            k = mirror.source[i, j]
            assert {(mirror.rows[k], mirror.bases[k]), (i, j)} <= {(i, j), (j, i)}
            assert mirror.sign[i, j] == (
                1.0 if (mirror.rows[k], mirror.bases[k]) == (i, j) else -1.0
            )
    # Rows 0 and 2 identical: baseline 0 matches both; every distinct pair still has a source.
    duplicate = np.eye(4, dtype=bool)
    duplicate[2, 0] = duplicate[0, 2] = True
    mirror = Mirror(duplicate)
    assert ((mirror.source >= 0) == ~duplicate).all()


def test_reversed_pairs_are_negated_and_rows_converge(ranker: Any, frame: pd.DataFrame) -> None:
    model = ranker("masknet")
    settings = AttributionSettings()
    explainer = TorchIntegratedGradients(model, (*model.heads, "score"), settings)
    x_num, x_cat = model.encode(frame.head(6))
    rows, bases = np.array([0, 1, 2]), np.array([3, 4, 5])
    forward = explainer._pair_sums(x_num, x_cat, x_num, x_cat, rows, bases, 64)
    backward = explainer._pair_sums(x_num, x_cat, x_num, x_cat, bases, rows, 64)
    np.testing.assert_allclose(forward, -backward, rtol=1e-4, atol=1e-6)
    # Between kinks, two points a piece agree with 2,048 Gauss-Legendre points per pair.
    x, b, fixed, f = explainer._paths(x_num[rows], x_cat[rows], x_num[bases], x_cat[bases])
    pieces = find_pieces(f, x, b, fixed, grid=128, chunk_rows=8192)
    assert pieces.kinked
    piecewise = explainer._pair_sums(
        x_num, x_cat, x_num, x_cat, rows, bases, pieces.nodes(32, 2, np.arange(3))
    )
    fine = explainer._pair_sums(x_num, x_cat, x_num, x_cat, rows, bases, 2048)
    assert np.abs(piecewise - fine).max() <= 2e-3 * np.abs(fine).max()  # measured: 6e-4
    whole = explainer._pair_sums(x_num, x_cat, x_num, x_cat, rows, bases, 32)
    assert np.abs(whole - fine).max() >= 1e-2 * np.abs(fine).max()  # measured: 3.2e-2
    # Request reference, default settings: every row within 1% (or flagged).
    converged = [explainer.explain(g).converged for g in request_groups(frame, settings)]
    assert np.concatenate(converged).mean() >= 0.95
