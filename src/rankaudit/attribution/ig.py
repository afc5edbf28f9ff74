"""Integrated Gradients for torch rankers, with captum's Gauss-Legendre path rule.

For every (row, baseline) pair of a group, IG integrates the gradient along the straight path
from the baseline to the row; a row's attribution is the mean over its baselines, so it explains
f(row) - mean f(baselines) exactly in the limit of many steps.

- Numeric features are integrated in their raw units (built-in models normalise inside).
- Categorical features of built-in models are integrated in embedding space (what captum's
  LayerIntegratedGradients does on the embedding layer), the embedding dimensions summed into
  one attribution per feature.
- Other torch formats (an entry point, TorchScript, torch.export) cannot be split at the
  embedding layer: numeric features are integrated with the row's categories held fixed, and the
  remaining jump f(b_num, x_cat) - f(b_num, b_cat) is split between the categorical features by
  exact Shapley values (2^k evaluations for k categorical features).

All heads and the final score are explained from one forward pass per chunk (one backward per
target), in chunks sized to stay in cache; `tests/attribution` checks that the values equal
captum's `IntegratedGradients` with the same method and steps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from captum.attr._utils.approximation_methods import approximation_parameters

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.attribution.settings import FINAL, AttributionSettings

__all__ = ["TorchIntegratedGradients"]

#: Rows (pairs x steps) per forward/backward chunk: large enough to amortise the per-call cost,
#: small enough to keep activations in cache (measured in benchmarks/attribution.py).
CHUNK_ROWS = 8192


class TorchIntegratedGradients:
    method = "ig"

    def __init__(
        self, ranker: Any, targets: tuple[str, ...], settings: AttributionSettings
    ) -> None:
        self.ranker = ranker
        self.module = ranker.module
        self.targets = targets
        self.settings = settings
        self.numeric = tuple(ranker.numeric_features)
        self.categorical = tuple(ranker.vocabularies)
        self.features = (*self.numeric, *self.categorical)
        self.embedded = hasattr(self.module, "forward_inputs") and hasattr(self.module, "inputs")
        heads = tuple(ranker.heads)
        columns = []
        for target in targets:
            if target == FINAL:
                weights = [float(ranker.head_weights[h]) for h in heads] if heads else [1.0]
            else:
                weights = [1.0 if h == target else 0.0 for h in heads]
            columns.append(weights)
        # outputs [M, n_heads] @ projection [n_heads, n_targets] -> every target at once.
        self.projection = torch.tensor(columns, dtype=torch.float32).T
        # IG is linear in the explained function: when every head is explained, the final
        # score's attributions are the weighted sum of the heads', one backward pass fewer.
        self.derive_final = FINAL in targets and bool(heads) and set(heads) <= set(targets)
        integrated = [i for i, t in enumerate(targets) if not (self.derive_final and t == FINAL)]
        self.integrated = integrated
        self.integration_projection = self.projection[:, integrated]
        self.final_weights = [
            (targets.index(h), float(ranker.head_weights[h])) for h in heads if self.derive_final
        ]

    # -- the explained function ------------------------------------------------------------

    def _embed(self, x_cat: torch.Tensor) -> torch.Tensor:
        embeddings = self.module.inputs.embeddings
        if not len(embeddings):
            return torch.zeros((x_cat.shape[0], 0, 1))
        return torch.stack([e(x_cat[:, j]) for j, e in enumerate(embeddings)], dim=1)

    def _targets(self, out: torch.Tensor, projection: torch.Tensor | None = None) -> torch.Tensor:
        if out.ndim == 1:
            out = out[:, None]
        return out @ (self.projection if projection is None else projection)

    def _f_embedded(
        self, num: torch.Tensor, emb: torch.Tensor, projection: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = (
            [self.module.inputs.normaliser(num), *emb.unbind(dim=1)]
            if emb.shape[1]
            else [self.module.inputs.normaliser(num)]
        )
        return self._targets(self.module.forward_inputs(torch.cat(parts, dim=1)), projection)

    def _f_raw(
        self, num: torch.Tensor, cat: torch.Tensor, projection: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._targets(self.module(num, cat), projection)

    # -- IG ----------------------------------------------------------------------------------

    def _integrate(
        self,
        x: Sequence[torch.Tensor],
        b: Sequence[torch.Tensor],
        fixed: Sequence[torch.Tensor],
        steps: int,
        forward: Callable[..., torch.Tensor],
    ) -> list[torch.Tensor]:
        """IG of aligned (row, baseline) pairs: per target, attributions [P, features of x].

        `x`/`b` are integrated (2-D numeric, or 3-D embeddings summed over their last axis);
        `fixed` inputs are held at their values along the path.
        """
        step_sizes, alphas = approximation_parameters("gausslegendre")
        weights = torch.tensor(step_sizes(steps), dtype=torch.float32)
        alpha = torch.tensor(alphas(steps), dtype=torch.float32)
        chunk = max(1, CHUNK_ROWS // steps)
        results: list[list[torch.Tensor]] | None = None
        for start in range(0, x[0].shape[0], chunk):
            xs = [t[start : start + chunk] for t in x]
            bs = [t[start : start + chunk] for t in b]
            diffs = [xi - bi for xi, bi in zip(xs, bs, strict=True)]
            paths = []
            for bi, di in zip(bs, diffs, strict=True):
                view = (steps,) + (1,) * bi.ndim
                path = bi.unsqueeze(0) + alpha.view(view) * di.unsqueeze(0)
                paths.append(path.reshape(-1, *bi.shape[1:]).detach().requires_grad_(True))
            held = [t[start : start + chunk].repeat(steps, *([1] * (t.ndim - 1))) for t in fixed]
            out = forward(*paths, *held)
            if results is None:
                results = [[] for _ in range(out.shape[1])]
            last = out.shape[1] - 1
            for t in range(out.shape[1]):
                grads = torch.autograd.grad(out[:, t].sum(), paths, retain_graph=t < last)
                per_input = []
                for grad, di in zip(grads, diffs, strict=True):
                    view = (steps,) + (1,) * di.ndim
                    attribution = (grad.reshape(steps, *di.shape) * weights.view(view)).sum(0) * di
                    if attribution.ndim == 3:  # an embedding: one value per feature
                        attribution = attribution.sum(dim=2)
                    per_input.append(attribution)
                results[t].append(torch.cat(per_input, dim=1).detach())
        assert results is not None
        return [torch.cat(parts, dim=0) for parts in results]

    def _categorical_shapley(
        self, b_num: torch.Tensor, x_cat: torch.Tensor, b_cat: torch.Tensor
    ) -> torch.Tensor:
        """Exact Shapley split of f(b_num, x_cat) - f(b_num, b_cat) over the categorical
        features: [targets, P, k]."""
        k = len(self.categorical)
        pairs = b_num.shape[0]
        values = {}
        with torch.no_grad():
            for subset in itertools.product((False, True), repeat=k):
                mask = torch.tensor(subset, dtype=torch.bool)
                values[subset] = self._f_raw(b_num, torch.where(mask, x_cat, b_cat)).T
        out = torch.zeros((len(self.targets), pairs, k))
        for j in range(k):
            for subset, value in values.items():
                if subset[j]:
                    continue
                size = sum(subset)
                weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                with_j = tuple(True if i == j else s for i, s in enumerate(subset))
                out[:, :, j] += weight * (values[with_j] - value)
        return out

    def _pairs(
        self,
        x_num: torch.Tensor,
        x_cat: torch.Tensor,
        b_num: torch.Tensor,
        b_cat: torch.Tensor,
        steps: int,
    ) -> list[torch.Tensor]:
        """Attributions per target for aligned (row, baseline) pairs: [P, n_features] each."""
        projection = self.integration_projection
        if self.embedded:
            with torch.no_grad():
                x_emb, b_emb = self._embed(x_cat), self._embed(b_cat)

            def embedded(num: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
                return self._f_embedded(num, emb, projection)

            if self.categorical:
                integrated = self._integrate([x_num, x_emb], [b_num, b_emb], [], steps, embedded)
            else:
                empty = torch.zeros((0, 0, 1))
                integrated = self._integrate(
                    [x_num],
                    [b_num],
                    [],
                    steps,
                    lambda n: embedded(n, empty.expand(n.shape[0], 0, 1)),
                )
        else:
            integrated = self._integrate(
                [x_num], [b_num], [x_cat], steps, lambda n, c: self._f_raw(n, c, projection)
            )
            if self.categorical:
                jumps = self._categorical_shapley(b_num, x_cat, b_cat)
                integrated = [
                    torch.cat([values, jumps[target]], dim=1)
                    for values, target in zip(integrated, self.integrated, strict=True)
                ]
        out: list[torch.Tensor | None] = [None] * len(self.targets)
        for result, target in zip(integrated, self.integrated, strict=True):
            out[target] = result
        if self.derive_final:
            heads = [(out[index], weight) for index, weight in self.final_weights]
            final = torch.zeros_like(integrated[0])
            for values, weight in heads:
                assert values is not None
                final = final + weight * values
            out[self.targets.index(FINAL)] = final
        return [t for t in out if t is not None]

    def _scores(self, num: torch.Tensor, cat: torch.Tensor) -> np.ndarray:
        """[M, targets] float64, through the same function the attributions integrate."""
        with torch.no_grad():
            if self.embedded:
                return self._f_embedded(num, self._embed(cat)).double().numpy()
            return self._f_raw(num, cat).double().numpy()

    def explain(self, group: Group) -> GroupExplanation:
        x_num, x_cat = self.ranker.encode(group.rows)
        b_num, b_cat = self.ranker.encode(group.baselines)
        n, m = x_num.shape[0], b_num.shape[0]
        scores = self._scores(x_num, x_cat)
        base_scores = self._scores(b_num, b_cat)
        reference = np.broadcast_to(base_scores.mean(axis=0), scores.shape)
        expected = scores - reference
        attributions = np.zeros((len(self.targets), n, len(self.features)))
        converged = np.zeros(n, dtype=bool)
        todo = np.arange(n)
        steps = self.settings.ig_steps
        while len(todo):
            rows = torch.as_tensor(todo).repeat_interleave(m)
            bases = torch.arange(m).repeat(len(todo))
            per_target = self._pairs(x_num[rows], x_cat[rows], b_num[bases], b_cat[bases], steps)
            for t, values in enumerate(per_target):
                attributions[t, todo] = (
                    values.double().numpy().reshape(len(todo), m, -1).mean(axis=1)
                )
            error = np.abs(attributions[:, todo].sum(axis=2) - expected[todo].T)
            ok = (error <= self.settings.tolerance * np.abs(expected[todo].T)) | (
                error <= self.settings.absolute_floor
            )
            done = ok.all(axis=0)
            converged[todo[done]] = True
            if steps * 4 > self.settings.ig_max_steps:
                break
            todo = todo[~done]
            steps *= 4
        return GroupExplanation(
            attributions={t: attributions[i] for i, t in enumerate(self.targets)},
            scores={t: scores[:, i].copy() for i, t in enumerate(self.targets)},
            reference_scores={t: np.array(reference[:, i]) for i, t in enumerate(self.targets)},
            converged=converged,
        )
