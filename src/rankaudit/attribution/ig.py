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

All heads and the final score are explained from one forward pass and one vectorised backward
per chunk (`is_grads_batched`), in chunks sized to stay in cache, on the settings' device; `tests/attribution` checks that the values equal
captum's `IntegratedGradients` with the same method and steps.
"""

from __future__ import annotations

import functools
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
from rankaudit.models.torch_ranker import resolve_device

__all__ = ["TorchIntegratedGradients"]

#: Rows (pairs x steps) per forward/backward chunk: large enough to amortise the per-call cost,
#: small enough to keep activations in cache (measured in benchmarks/attribution.py).
CHUNK_ROWS = 8192


@functools.lru_cache(maxsize=32)
def _gauss_legendre(steps: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """captum's Gauss-Legendre step sizes and points on [0, 1] for `steps` points, computed
    once per count: `leggauss` costs milliseconds, and a report integrates thousands of times."""
    step_sizes, alphas = approximation_parameters("gausslegendre")
    return tuple(step_sizes(steps)), tuple(alphas(steps))


class TorchIntegratedGradients:
    method = "ig"

    def __init__(
        self, ranker: Any, targets: tuple[str, ...], settings: AttributionSettings
    ) -> None:
        self.ranker = ranker
        self.device = resolve_device(settings.device)
        # A ranker keeps its own module on the CPU for scoring; IG runs on a copy on the device.
        on_device = getattr(ranker, "module_on", None)
        self.module = ranker.module if on_device is None else on_device(self.device)
        #: One vectorised backward for every target: it saves per-call launches on an
        #: accelerator, but on the CPU it is slower than one backward per target (measured in
        #: benchmarks/attribution.py); off too once a module proves vmap cannot batch it.
        self.batched_heads = self.device.type != "cpu"
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
        self.projection = torch.tensor(columns, dtype=torch.float32, device=self.device).T
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
            return torch.zeros((x_cat.shape[0], 0, 1), device=self.device)
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
        step_sizes, alphas = _gauss_legendre(steps)
        weights = torch.tensor(step_sizes, dtype=torch.float32, device=self.device)
        alpha = torch.tensor(alphas, dtype=torch.float32, device=self.device)
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
            per_input = []
            for grad, di in zip(self._gradients(out, paths), diffs, strict=True):
                # grad: [targets, steps * P, ...] -> weighted sum over the path, times x - b.
                view = (1, steps) + (1,) * di.ndim
                grad = grad.reshape(grad.shape[0], steps, *di.shape)
                attribution = (grad * weights.view(view)).sum(1) * di.unsqueeze(0)
                if attribution.ndim == 4:  # an embedding: one value per feature
                    attribution = attribution.sum(dim=3)
                per_input.append(attribution)
            merged = torch.cat(per_input, dim=2).detach()
            for t in range(out.shape[1]):
                results[t].append(merged[t])
        if results is None:
            raise ValueError("IG needs at least one (row, baseline) pair")
        return [torch.cat(parts, dim=0) for parts in results]

    def _gradients(self, out: torch.Tensor, paths: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """d out[:, t] / d path for every target t: [targets, *path.shape] per input.

        One vectorised backward (`is_grads_batched`) for every target at once; a module whose
        operations vmap cannot batch falls back to one backward per target.
        """
        targets = out.shape[1]
        if targets == 1:
            return [g.unsqueeze(0) for g in torch.autograd.grad(out[:, 0].sum(), paths)]
        if self.batched_heads:
            eye = torch.eye(targets, dtype=out.dtype, device=out.device)
            seeds = eye[:, None, :].expand(targets, out.shape[0], targets)
            try:
                return list(
                    torch.autograd.grad(
                        out, paths, grad_outputs=seeds, is_grads_batched=True, retain_graph=True
                    )
                )
            except RuntimeError:  # an operation without a batching rule
                self.batched_heads = False
        per_target = [
            torch.autograd.grad(out[:, t].sum(), paths, retain_graph=t < targets - 1)
            for t in range(targets)
        ]
        return [torch.stack(grads) for grads in zip(*per_target, strict=True)]

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
                mask = torch.tensor(subset, dtype=torch.bool, device=self.device)
                values[subset] = self._f_raw(b_num, torch.where(mask, x_cat, b_cat)).T
        out = torch.zeros((len(self.targets), pairs, k), device=self.device)
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
                empty = torch.zeros((0, 0, 1), device=self.device)
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
                return self._f_embedded(num, self._embed(cat)).double().cpu().numpy()
            return self._f_raw(num, cat).double().cpu().numpy()

    def _to_device(self, num: torch.Tensor, cat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return num.to(self.device), cat.to(self.device)

    def _pair_sums(
        self,
        x_num: torch.Tensor,
        x_cat: torch.Tensor,
        b_num: torch.Tensor,
        b_cat: torch.Tensor,
        rows: np.ndarray,
        bases: np.ndarray,
        steps: int,
    ) -> np.ndarray:
        """Attributions of the pairs (rows[k], bases[k]) at `steps` points: [P, targets, F]."""
        index, base = torch.as_tensor(rows), torch.as_tensor(bases)
        per_target = self._pairs(x_num[index], x_cat[index], b_num[base], b_cat[base], steps)
        return np.stack([v.double().cpu().numpy() for v in per_target], axis=1)

    def explain(self, group: Group) -> GroupExplanation:
        """Explain every row against the mean of the group's baselines, refining pair by pair.

        Each (row, baseline) pair's own completeness error is known: the sum of its
        attributions against f(row) - f(baseline), and a row's error is the mean of its pairs'
        signed errors. A row that misses the tolerance on some output refines, on the output it
        misses most, only the pairs whose errors push it out (four times the points, up to
        `ig_pair_max_steps`), worst first and only as many as should bring it back, within the
        row's budget: the points that refining every pair up to `ig_max_steps` would cost.
        Rows still outside the tolerance are flagged `converged = False`.
        """
        settings = self.settings
        x_num, x_cat = self._to_device(*self.ranker.encode(group.rows))
        b_num, b_cat = self._to_device(*self.ranker.encode(group.baselines))
        n, m = x_num.shape[0], b_num.shape[0]
        n_targets, n_features = len(self.targets), len(self.features)
        scores = self._scores(x_num, x_cat)
        base_scores = self._scores(b_num, b_cat)
        reference = np.broadcast_to(base_scores.mean(axis=0), scores.shape)
        expected = scores - reference
        tolerance = np.maximum(settings.tolerance * np.abs(expected), settings.absolute_floor)
        # pair_expected[i, j, t] = f_t(row i) - f_t(baseline j): what pair (i, j) must sum to.
        pair_expected = scores[:, None, :] - base_scores[None, :, :]
        pairs = np.zeros((n, m, n_targets, n_features))
        steps = np.full((n, m), settings.ig_steps, dtype=np.int64)
        # A row compared with itself (the request reference) attributes exactly zero.
        same = _same_pairs(x_num, x_cat, b_num, b_cat)
        rows, bases = np.nonzero(~same)
        if len(rows):
            pairs[rows, bases] = self._pair_sums(
                x_num, x_cat, b_num, b_cat, rows, bases, settings.ig_steps
            )
        spent = np.full(n, m * settings.ig_steps, dtype=np.int64)
        budget = m * _schedule_cost(settings.ig_steps, settings.ig_max_steps)
        while True:
            row_error = np.abs(pairs.mean(axis=1).sum(axis=2) - expected)  # [n, targets]
            failing = row_error > tolerance
            todo = np.nonzero(failing.any(axis=1))[0]
            if not len(todo):
                break
            # The row's error is the mean of its pairs' signed errors: on the output that misses
            # most, the pairs erring the row's way, in units of the row's tolerance, push it out.
            worst = (row_error[todo] / tolerance[todo]).argmax(axis=1)
            signed = (pairs[todo].sum(axis=3) - pair_expected[todo])[np.arange(len(todo)), :, worst]
            direction = np.sign(signed.mean(axis=1))
            over = direction[:, None] * signed / tolerance[todo, worst][:, None]
            next_steps = steps[todo] * 4
            wanted = (over > 0.0) & ~same[todo] & (next_steps <= settings.ig_pair_max_steps)
            chosen = _within_budget(over, wanted, next_steps, budget - spent[todo])
            if not chosen.any():
                break
            picked_rows, picked_bases = np.nonzero(chosen)
            picked_rows = todo[picked_rows]
            picked_steps = steps[picked_rows, picked_bases] * 4
            for level in np.unique(picked_steps):
                at = picked_steps == level
                r, b = picked_rows[at], picked_bases[at]
                pairs[r, b] = self._pair_sums(x_num, x_cat, b_num, b_cat, r, b, int(level))
                steps[r, b] = level
                np.add.at(spent, r, int(level))
        attributions = pairs.mean(axis=1).transpose(1, 0, 2)  # [targets, n, F]
        row_error = np.abs(attributions.sum(axis=2).T - expected)
        converged = (row_error <= tolerance).all(axis=1)
        return GroupExplanation(
            attributions={t: attributions[i].copy() for i, t in enumerate(self.targets)},
            scores={t: scores[:, i].copy() for i, t in enumerate(self.targets)},
            reference_scores={t: np.array(reference[:, i]) for i, t in enumerate(self.targets)},
            converged=converged,
        )


def _schedule_cost(first: int, cap: int) -> int:
    """Points per pair of refining first, 4*first, ... up to `cap` (the whole-row schedule)."""
    total, steps = first, first
    while steps * 4 <= cap:
        steps *= 4
        total += steps
    return total


def _same_pairs(
    x_num: torch.Tensor, x_cat: torch.Tensor, b_num: torch.Tensor, b_cat: torch.Tensor
) -> np.ndarray:
    """[n, m] True where row i equals baseline j in every input (its IG is exactly zero)."""
    same = (x_num[:, None, :] == b_num[None, :, :]).all(dim=2)
    if x_cat.shape[1]:
        same &= (x_cat[:, None, :] == b_cat[None, :, :]).all(dim=2)
    return np.asarray(same.cpu().numpy(), dtype=bool)


def _within_budget(
    over: np.ndarray, wanted: np.ndarray, cost: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """The pairs each row refines: worst first, only as many as should bring the row within
    its tolerance, and only while their cost fits the row's budget.

    `over` is each pair's error in units of its share; the row is within tolerance when the
    mean of the pairs' errors is under one share, and four times the points cut a pair's error
    about fourfold (ReLU networks converge as 1/points), so the row refines the shortest prefix
    of its worst pairs after which the predicted mean error is below 0.8 of a share.
    """
    pairs = over.shape[1]
    ranked = np.argsort(np.where(wanted, -over, np.inf), axis=1, kind="stable")
    ranked_over = np.take_along_axis(np.where(wanted, over, 0.0), ranked, axis=1)
    ranked_cost = np.take_along_axis(np.where(wanted, cost, 0), ranked, axis=1)
    predicted = over.sum(axis=1, keepdims=True) - 0.75 * np.cumsum(ranked_over, axis=1)
    # Refine up to and including the first pair after which the prediction is good enough.
    enough = np.concatenate(
        [np.zeros((len(over), 1), dtype=bool), predicted[:, :-1] <= 0.8 * pairs], axis=1
    )
    needed: np.ndarray = ~np.logical_or.accumulate(enough, axis=1)
    fits = np.cumsum(ranked_cost, axis=1) <= left[:, None]
    chosen = np.zeros_like(wanted)
    np.put_along_axis(chosen, ranked, needed & fits, axis=1)
    return np.asarray(chosen & wanted, dtype=bool)
