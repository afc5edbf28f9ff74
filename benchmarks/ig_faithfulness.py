"""Completeness of Integrated Gradients on the demo's deep ranker, and what it costs.

Usage: python benchmarks/ig_faithfulness.py [--workspace fixtures/demo] [--requests 24]

For the first N requests of the log, request reference, every head and the score:
1. the engine at default settings (`TorchIntegratedGradients.explain`);
2. the former rule at its 128-point cap, for the cost comparison: 32 Gauss-Legendre points on
   every (row, baseline) pair, then 128 on every pair of each row that missed the tolerance.

A row counts for an output when its score is visibly away from its reference: |f(x) - reference|
>= 1% of the request's largest such gap. It is "within" when |sum of attributions - (f(x) -
reference)| <= 1% of |f(x) - reference| (or <= 1e-6); "every output" needs that for every head
and the score. CPU seconds are the process's, one torch thread. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankaudit.attribution.base import GroupExplanation
from rankaudit.attribution.groups import Group, request_groups
from rankaudit.attribution.ig import TorchIntegratedGradients
from rankaudit.attribution.refine import same_pairs
from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.data.readers import read_timelines
from rankaudit.workspace import load_workspace


def whole_row_cap(explainer: TorchIntegratedGradients, group: Group) -> GroupExplanation:
    """The former rule: 32 points a pair, then 128 on every pair of a row that misses."""
    settings = explainer.settings
    x_num, x_cat = explainer.ranker.encode(group.rows)
    b_num, b_cat = explainer.ranker.encode(group.baselines)
    scores, base = explainer._scores(x_num, x_cat), explainer._scores(b_num, b_cat)
    reference = np.broadcast_to(base.mean(axis=0), scores.shape)
    expected = scores - reference
    tolerance = np.maximum(settings.tolerance * np.abs(expected), settings.absolute_floor)
    n, m = len(scores), len(base)
    pairs = np.zeros((n, m, len(explainer.targets), len(explainer.features)))
    rows, bases = np.nonzero(~same_pairs(x_num, x_cat, b_num, b_cat))
    pairs[rows, bases] = explainer._pair_sums(x_num, x_cat, b_num, b_cat, rows, bases, 32)
    failing = (np.abs(pairs.mean(axis=1).sum(axis=2) - expected) > tolerance).any(axis=1)
    redo = failing[rows]
    if redo.any():
        r, b = rows[redo], bases[redo]
        pairs[r, b] = explainer._pair_sums(x_num, x_cat, b_num, b_cat, r, b, 128)
    attributions = pairs.mean(axis=1).transpose(1, 0, 2)
    converged = (np.abs(attributions.sum(axis=2).T - expected) <= tolerance).all(axis=1)
    targets = explainer.targets
    return GroupExplanation(
        attributions={t: attributions[i] for i, t in enumerate(targets)},
        scores={t: scores[:, i] for i, t in enumerate(targets)},
        reference_scores={t: reference[:, i] for i, t in enumerate(targets)},
        converged=converged,
    )


def score(explanations: list[GroupExplanation], targets: tuple[str, ...]) -> dict[str, Any]:
    """Rows within 1% per output and for every output, over rows with a visible gap."""
    per_target: dict[str, list[bool]] = {t: [] for t in targets}
    every: list[bool] = []
    relative: list[float] = []
    honest = True
    for ex in explanations:
        rows = len(ex.converged)
        row_ok = np.ones(rows, dtype=bool)
        row_counted = np.zeros(rows, dtype=bool)
        within_all = np.ones(rows, dtype=bool)
        for t in targets:
            gap = ex.scores[t] - ex.reference_scores[t]
            error = np.abs(ex.attributions[t].sum(axis=1) - gap)
            within = (error <= 0.01 * np.abs(gap)) | (error <= 1e-6)
            within_all &= within
            visible = np.abs(gap) >= 0.01 * np.abs(gap).max()
            per_target[t] += list(within[visible])
            relative += list(error[visible] / np.abs(gap[visible]))
            row_ok &= within | ~visible
            row_counted |= visible
        every += list(row_ok[row_counted])
        honest &= bool(np.array_equal(ex.converged, within_all))
    return {
        "rows": len(every),
        "every_output": float(np.mean(every)),
        "per_output": {t: float(np.mean(v)) for t, v in per_target.items()},
        "relative_p99": float(np.percentile(relative, 99)),
        "relative_max": float(np.max(relative)),
        "flag_is_honest": honest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--requests", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(1)
    workspace = load_workspace(args.workspace)
    deep = workspace.ranker("deep")
    frame = read_timelines(workspace.logs, workspace.spec)
    settings = AttributionSettings()
    groups = []
    for group in request_groups(frame, settings):
        groups.append(group)
        if len(groups) == args.requests:
            break
    targets = (*deep.heads, FINAL)
    explainer = TorchIntegratedGradients(deep, targets, settings)
    explainer.explain(groups[0])  # warm-up
    results: dict[str, Any] = {
        "requests": len(groups),
        "candidates": sum(len(g.rows) for g in groups),
    }
    runs = {
        "default": lambda g: explainer.explain(g),
        "former 128-point cap": lambda g: whole_row_cap(explainer, g),
        "32 points, no refinement": lambda g: TorchIntegratedGradients(
            deep, targets, replace(settings, ig_max_steps=settings.ig_steps)
        ).explain(g),
    }
    for name, run in runs.items():
        start = time.process_time()
        explanations = [run(g) for g in groups]
        cpu = time.process_time() - start
        results[name] = {"cpu_s": cpu, **score(explanations, targets)}
    print(f"{results['requests']} requests, {results['candidates']} candidates, request reference")
    print(
        f"{'rule':28} {'CPU s':>7} {'rows':>5} {'every output':>13} {'score':>7} {'p99 rel':>8} {'max rel':>8}"
    )
    for name in runs:
        r = results[name]
        print(
            f"{name:28} {r['cpu_s']:7.2f} {r['rows']:5d} {r['every_output']:13.2%} "
            f"{r['per_output'][FINAL]:7.2%} {r['relative_p99']:8.4f} {r['relative_max']:8.4f}"
            + ("" if r["flag_is_honest"] else "  converged flag WRONG")
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
