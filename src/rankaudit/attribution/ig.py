"""Integrated Gradients for torch rankers.

For every (row, baseline) pair of a group, IG integrates the gradient along the straight path
from the baseline to the row; a row's attribution is the mean over its baselines, so it explains
f(row) - mean f(baselines) exactly in the limit of many points.

- Numeric features are integrated in their raw units (built-in models normalise inside).
- Categorical features of built-in models are integrated in embedding space (what captum's
  LayerIntegratedGradients does on the embedding layer), the embedding dimensions summed into
  one attribution per feature.
- Other torch formats (an entry point, TorchScript, torch.export) cannot be split at the
  embedding layer: numeric features are integrated with the row's categories held fixed, and the
  remaining jump f(b_num, x_cat) - f(b_num, b_cat) is split between the categorical features by
  exact Shapley values (2^k evaluations for k categorical features).

Every pair starts with captum's Gauss-Legendre rule (`tests/attribution` checks the values
equal captum's `IntegratedGradients` with the same points); pairs that keep a row from its
tolerance are refined, between the module's kinks where it has any (`paths`, `refine`). All
heads come from one forward pass per chunk of nodes, the final score is derived from them.
Requests are explained in packs (`explain_pack`, through `base.explain_groups`): their pairs
share the forward/backward chunks, so that the later refinement rounds, a few pairs per
request, still fill whole chunks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group
from rankaudit.attribution.paths import (
    Nodes,
    Pieces,
    find_pieces,
    gauss_legendre_nodes,
    join_nodes,
)
from rankaudit.attribution.refine import Mirror, Schedule, same_pairs, schedule_cost, within_budget
from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.models.torch_ranker import resolve_device

__all__ = ["TorchIntegratedGradients"]

#: Rows (pairs x steps) per forward/backward chunk: large enough to amortise the per-call cost,
#: small enough to keep activations in cache (measured in benchmarks/attribution.py).
CHUNK_ROWS = 8192
#: Forward passes per pair's path that locate its kinks (the units' sign changes).
KINK_GRID = 128


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
        nodes: Nodes | int,
        forward: Callable[..., torch.Tensor],
    ) -> list[torch.Tensor]:
        """IG of aligned (row, baseline) pairs: per target, attributions [P, features of x].

        `x`/`b` are integrated (2-D numeric, or 3-D embeddings summed over their last axis);
        `fixed` inputs are held at their values along the path. `nodes` places the gradient
        evaluations of every pair (an int: that many Gauss-Legendre points on each pair).
        """
        pairs = x[0].shape[0]
        if isinstance(nodes, int):
            nodes = gauss_legendre_nodes(pairs, nodes)
        if not pairs:
            raise ValueError("IG needs at least one (row, baseline) pair")
        pair = torch.as_tensor(nodes.pair, device=self.device)
        alpha = torch.as_tensor(nodes.alpha, dtype=torch.float32, device=self.device)
        weight = torch.as_tensor(nodes.weight, dtype=torch.float32, device=self.device)
        diffs = [xi - bi for xi, bi in zip(x, b, strict=True)]
        # Per pair, the weighted sum of its nodes' gradients (the weights seed the backward
        # pass); times x - b once per pair at the end: [targets, P, flattened inputs].
        sums: torch.Tensor | None = None
        for start in range(0, len(nodes), CHUNK_ROWS):
            at = pair[start : start + CHUNK_ROWS]
            a, w = alpha[start : start + CHUNK_ROWS], weight[start : start + CHUNK_ROWS]
            paths = []
            for bi, di in zip(b, diffs, strict=True):
                view = (-1,) + (1,) * (bi.ndim - 1)
                paths.append((bi[at] + a.view(view) * di[at]).detach().requires_grad_(True))
            held = [t[at] for t in fixed]
            out = forward(*paths, *held)
            grads = [g.flatten(2) for g in self._gradients(out, paths, w)]
            merged = torch.cat(grads, dim=2).double()
            if sums is None:
                sums = torch.zeros(
                    (out.shape[1], pairs, merged.shape[2]), dtype=torch.float64, device=self.device
                )
            sums.index_add_(1, at, merged)
        assert sums is not None
        per_input = []
        offset = 0
        for di in diffs:
            width = di[0].numel()
            part = sums[:, :, offset : offset + width]
            offset += width
            attribution = part.reshape(part.shape[0], *di.shape) * di.double().unsqueeze(0)
            if attribution.ndim == 4:  # an embedding: one value per feature
                attribution = attribution.sum(dim=3)
            per_input.append(attribution)
        return list(torch.cat(per_input, dim=2).unbind(0))

    def _gradients(
        self, out: torch.Tensor, paths: Sequence[torch.Tensor], weight: torch.Tensor
    ) -> list[torch.Tensor]:
        """weight * d out[:, t] / d path for every target t: [targets, *path.shape] per input.

        One vectorised backward (`is_grads_batched`) for every target at once; a module whose
        operations vmap cannot batch falls back to one backward per target.
        """
        targets = out.shape[1]
        if targets == 1:
            return [g.unsqueeze(0) for g in torch.autograd.grad(out[:, 0], paths, weight)]
        if self.batched_heads:
            eye = torch.eye(targets, dtype=out.dtype, device=out.device)
            seeds = eye[:, None, :] * weight[None, :, None]
            try:
                return list(
                    torch.autograd.grad(
                        out, paths, grad_outputs=seeds, is_grads_batched=True, retain_graph=True
                    )
                )
            except RuntimeError:  # an operation without a batching rule
                self.batched_heads = False
        per_target = [
            torch.autograd.grad(out[:, t], paths, weight, retain_graph=t < targets - 1)
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

    def _paths(
        self, x_num: torch.Tensor, x_cat: torch.Tensor, b_num: torch.Tensor, b_cat: torch.Tensor
    ) -> tuple[
        list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], Callable[..., torch.Tensor]
    ]:
        """What IG integrates for aligned (row, baseline) pairs: (x, b, fixed, forward).

        Built-in modules: numeric inputs and embeddings; other modules: numeric inputs with
        the row's categories held fixed.
        """
        projection = self.integration_projection
        if not self.embedded:
            return (
                [x_num],
                [b_num],
                [x_cat],
                lambda n, c: self._f_raw(n, c, projection),
            )
        with torch.no_grad():
            x_emb, b_emb = self._embed(x_cat), self._embed(b_cat)
        if self.categorical:
            return (
                [x_num, x_emb],
                [b_num, b_emb],
                [],
                lambda n, e: self._f_embedded(n, e, projection),
            )
        empty = torch.zeros((0, 0, 1), device=self.device)
        return (
            [x_num],
            [b_num],
            [],
            lambda n: self._f_embedded(n, empty.expand(n.shape[0], 0, 1), projection),
        )

    def _pairs(
        self,
        x_num: torch.Tensor,
        x_cat: torch.Tensor,
        b_num: torch.Tensor,
        b_cat: torch.Tensor,
        nodes: Nodes | int,
    ) -> list[torch.Tensor]:
        """Attributions per target for aligned (row, baseline) pairs: [P, n_features] each,
        float64, the gradient evaluated at `nodes` (an int: Gauss-Legendre points per pair)."""
        x, b, fixed, forward = self._paths(x_num, x_cat, b_num, b_cat)
        integrated = self._integrate(x, b, fixed, nodes, forward)
        if not self.embedded and self.categorical:
            jumps = self._categorical_shapley(b_num, x_cat, b_cat).double()
            integrated = [
                torch.cat([values, jumps[target]], dim=1)
                for values, target in zip(integrated, self.integrated, strict=True)
            ]
        out: list[torch.Tensor | None] = [None] * len(self.targets)
        for result, target in zip(integrated, self.integrated, strict=True):
            out[target] = result
        if self.derive_final:
            final = torch.zeros_like(integrated[0])
            for index, weight in self.final_weights:
                values = out[index]
                assert values is not None
                final = final + weight * values
            out[self.targets.index(FINAL)] = final
        return [t for t in out if t is not None]

    def _pieces(
        self,
        x_num: torch.Tensor,
        x_cat: torch.Tensor,
        b_num: torch.Tensor,
        b_cat: torch.Tensor,
    ) -> Pieces:
        """The smooth pieces of aligned pairs' paths, between the module's kinks."""
        x, b, fixed, forward = self._paths(x_num, x_cat, b_num, b_cat)
        return find_pieces(forward, x, b, fixed, KINK_GRID, CHUNK_ROWS)

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
        nodes: Nodes | int,
    ) -> np.ndarray:
        """Attributions of the pairs (rows[k], bases[k]) at `nodes`: [P, targets, F]."""
        index, base = torch.as_tensor(rows), torch.as_tensor(bases)
        per_target = self._pairs(x_num[index], x_cat[index], b_num[base], b_cat[base], nodes)
        return np.stack([v.cpu().numpy() for v in per_target], axis=1)

    def explain(self, group: Group) -> GroupExplanation:
        """Explain every row of `group` against the mean of its baselines (`explain_pack`)."""
        return self.explain_pack([group])[0]

    def explain_pack(self, groups: Sequence[Group]) -> list[GroupExplanation]:
        """Explain several groups at once, their pairs packed into shared forward/backward
        chunks: each round, every group that still refines asks for its next pairs (`_Work`)
        and all their asks are served by one cut and one integration. A group's choices
        depend only on its own values, so its explanation is the same whatever it is packed
        with (up to float32 rounding of the shared chunks)."""
        runs = [self._explain(group) for group in groups]
        done: list[GroupExplanation | None] = [None] * len(runs)
        answers: dict[int, Any] = dict.fromkeys(range(len(runs)))
        while answers:
            asked: dict[int, _Work] = {}
            for i, answer in answers.items():
                try:
                    asked[i] = runs[i].send(answer)
                except StopIteration as stop:
                    done[i] = stop.value
            answers = self._serve(asked)
        return [d for d in done if d is not None]

    def _serve(self, asked: dict[int, _Work]) -> dict[int, Any]:
        """Answer every group's ask: one `_pieces` call for all the cuts, one `_pairs` call for
        all the integrations ([P, targets, F] float64 per ask)."""
        answers: dict[int, Any] = {}
        for cut in (True, False):
            keys = [i for i, work in asked.items() if (work.nodes is None) == cut]
            if not keys:
                continue
            inputs = [
                torch.cat(parts) for parts in zip(*(asked[i].inputs for i in keys), strict=True)
            ]
            sizes = [int(asked[i].inputs[0].shape[0]) for i in keys]
            bounds = np.cumsum([0, *sizes])
            if cut:
                pieces = self._pieces(*inputs)
                answers |= {
                    i: pieces.select(int(lo), int(hi))
                    for i, lo, hi in zip(keys, bounds[:-1], bounds[1:], strict=True)
                }
                continue
            parts = [asked[i].nodes for i in keys]
            nodes = join_nodes([n for n in parts if n is not None], sizes)
            x_num, x_cat, b_num, b_cat = inputs
            per_target = self._pairs(x_num, x_cat, b_num, b_cat, nodes)
            values = np.stack([v.cpu().numpy() for v in per_target], axis=1)
            answers |= {
                i: values[lo:hi] for i, lo, hi in zip(keys, bounds[:-1], bounds[1:], strict=True)
            }
        return answers

    def _explain(self, group: Group) -> Generator[_Work, Any, GroupExplanation]:
        """Explain every row against the mean of the group's baselines, refining pair by pair;
        a generator that yields the work it needs (`explain_pack` serves it).

        Every (row, baseline) pair starts with `ig_steps` Gauss-Legendre points. Each pair's own
        completeness error is known: the sum of its attributions against f(row) - f(baseline),
        and a row's error is the mean of its pairs' signed errors. A row that misses the
        tolerance on some output refines, on the output it misses most, only the pairs whose
        errors push it out, worst first and only as many as should bring it back, within the
        row's budget: the points that refining every pair up to `ig_max_steps` costs, twice
        that under the request reference (`group.shared_paths`: a path serves two rows; each
        row pays for all of it, so its choices do not depend on the other rows of the call).
        A refined pair of a module with ReLU kinks is integrated piece by piece between its
        kinks (`paths.find_pieces`), with twice the points per piece at each further step; a
        smooth module's pair gets four times the points. No pair exceeds `ig_pair_max_steps`.
        Rows still outside the tolerance are flagged `converged = False`.

        A path is the same segment whichever end it starts from: where row i is baseline k
        and baseline j is row r (the request reference), pair (r, k) is pair (i, j) reversed
        and its attributions are the other's negated (the rules are symmetric), so each such
        segment is integrated once per step (`refine.Mirror`).
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
        level = np.zeros((n, m), dtype=np.int64)
        # A row compared with itself (the request reference) attributes exactly zero.
        same = same_pairs(x_num, x_cat, b_num, b_cat)
        mirror = Mirror(same)
        schedule = Schedule(settings, len(mirror.rows))
        #: step -> values of the integrated pairs at that step: [integrated, targets, F],
        #: NaN where not integrated yet. A pair and its reverse read the same entry.
        integrated: dict[int, np.ndarray] = {}

        def inputs(chosen: np.ndarray) -> tuple[torch.Tensor, ...]:
            rows, bases = (torch.as_tensor(c[chosen]) for c in (mirror.rows, mirror.bases))
            return x_num[rows], x_cat[rows], b_num[bases], b_cat[bases]

        def set_pairs(
            r: np.ndarray, b: np.ndarray, steps: np.ndarray
        ) -> Generator[_Work, Any, None]:
            """Pairs (r, b) at `steps`, integrating the segments no pair has needed there yet:
            the new paths are cut first, then every step's segments integrated in one ask."""
            source = mirror.source[r, b]
            todo = {}
            for step in np.unique(steps).tolist():
                values = integrated.setdefault(
                    step, np.full((len(mirror.rows), n_targets, n_features), np.nan)
                )
                wanted = source[steps == step]
                todo[step] = np.unique(wanted[np.isnan(values[wanted, 0, 0])])
            refined = [t for step, t in todo.items() if step > 0]
            new = schedule.uncut(np.concatenate(refined)) if refined else np.zeros(0, np.int64)
            if len(new):
                schedule.add_pieces(new, (yield _Work(inputs(new), None)))
            asks = [(step, t) for step, t in todo.items() if len(t)]
            if asks:
                nodes = [
                    schedule.nodes(step, t)
                    if step
                    else gauss_legendre_nodes(len(t), settings.ig_steps)
                    for step, t in asks
                ]
                chosen = np.concatenate([t for _, t in asks])
                values = yield _Work(inputs(chosen), join_nodes(nodes, [len(t) for _, t in asks]))
                bounds = np.cumsum([0, *(len(t) for _, t in asks)])
                for (step, t), lo, hi in zip(asks, bounds[:-1], bounds[1:], strict=True):
                    integrated[step][t] = values[lo:hi]
            for step in todo:
                at = steps == step
                ra, ba = r[at], b[at]
                pairs[ra, ba] = mirror.sign[ra, ba, None, None] * integrated[step][source[at]]
            level[r, b] = steps

        if len(mirror.rows):
            first_rows, first_bases = np.nonzero(mirror.source >= 0)
            yield from set_pairs(first_rows, first_bases, np.zeros(len(first_rows), np.int64))
        # Every row pays for each of its pairs, integrated or reversed: its budget, and so its
        # choices, do not depend on which other rows share its paths.
        spent = (mirror.source >= 0).sum(axis=1) * settings.ig_steps
        # The points the whole-row rule spent at its cap; under the request reference, for
        # each of the two rows a path serves (each pays for all of it above).
        shares = 2 if group.shared_paths else 1
        budget = shares * m * schedule_cost(settings.ig_steps, settings.ig_max_steps)
        while settings.ig_max_steps > settings.ig_steps:
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
            source = mirror.source[todo]
            next_cost = schedule.cost(level[todo] + 1, np.maximum(source, 0))
            wanted = (over > 0.0) & (source >= 0) & (next_cost <= settings.ig_pair_max_steps)
            chosen = within_budget(over, wanted, next_cost, budget - spent[todo])
            if not chosen.any():
                break
            picked_rows, picked_bases = np.nonzero(chosen)
            np.add.at(spent, todo[picked_rows], next_cost[picked_rows, picked_bases])
            r, b = todo[picked_rows], picked_bases
            yield from set_pairs(r, b, level[r, b] + 1)
        attributions = pairs.mean(axis=1).transpose(1, 0, 2)  # [targets, n, F]
        row_error = np.abs(attributions.sum(axis=2).T - expected)
        converged = (row_error <= tolerance).all(axis=1)
        return GroupExplanation(
            attributions={t: attributions[i].copy() for i, t in enumerate(self.targets)},
            scores={t: scores[:, i].copy() for i, t in enumerate(self.targets)},
            reference_scores={t: np.array(reference[:, i]) for i, t in enumerate(self.targets)},
            converged=converged,
        )


@dataclass(frozen=True)
class _Work:
    """What one group's explanation needs next: its pairs' inputs (x_num, x_cat, b_num, b_cat),
    gathered, and the nodes to integrate them at (answer: [P, targets, F] float64), or None to
    cut their paths at the module's kinks (answer: their `Pieces`)."""

    inputs: tuple[torch.Tensor, ...]
    nodes: Nodes | None
