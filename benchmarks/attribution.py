"""Throughput of the attribution engines on the demo workspace, each next to its reference.

Usage: python benchmarks/attribution.py [--workspace fixtures/demo] [--quick] [--threads 2]
       [--requests 60]

Measures, in one run:
1. the raw limit: forward+backward rows/s of the deep ranker (gradient of the summed final score
   w.r.t. the numeric inputs) at the best batch size; IG with n steps can at best reach limit/n;
2. IG on (row, baseline) pairs, final score only: ours (`TorchIntegratedGradients._integrate`)
   and captum's stock `IntegratedGradients` (plain, internal batch size tuned, pairs chunked),
   as rows/s and as a fraction of limit/n, with the largest difference between them;
3. Deep SHAP on one request group, final score only: ours (`TorchPermutationShap`) next to
   shap's `DeepExplainer` and `GradientExplainer`, rows/s and additivity error;
4. Tree SHAP on the baseline's `favorite` booster: path-dependent shap vs LightGBM's own
   `pred_contrib`, and interventional shap for growing backgrounds;
5. end to end: `attribute_frame` on one 100-candidate timeline, request reference, every
   applicable method, for both demo models: all heads, then the final score only (default
   settings); the web app's `INTERACTIVE_SETTINGS`; a reference sampled from 16 candidates;
   and the web app's click (one tweet against the whole request);
6. whole log: IG and SHAP of every head over `--requests` consecutive demo requests as
   `attribute` runs a log (requests packed together), and IG one request at a time, each as
   a fraction of the raw limits for the rows it needed.

Prints a table, then one JSON line with every number. Throughputs are the best of the timed
repeats (after a warm-up); end-to-end times are the median. The machine is shared with other
work: the load average before and after is printed to tell noisy runs apart.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rankaudit.attribution.api import attribute_frame, resolve_methods
from rankaudit.attribution.base import PACK_PAIRS, explain_groups
from rankaudit.attribution.groups import Group, request_groups
from rankaudit.attribution.ig import TorchIntegratedGradients
from rankaudit.attribution.permutation import TorchPermutationShap
from rankaudit.attribution.refine import Mirror, same_pairs
from rankaudit.attribution.registry import make_attributor
from rankaudit.attribution.settings import FINAL, INTERACTIVE_SETTINGS, AttributionSettings
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.workspace import load_workspace

BATCH_SIZES = (1024, 2048, 4096, 8192, 16384)
BACKGROUND_SIZES = (10, 25, 50, 100)
TIMELINE_SIZE = 100
E2E_TARGET_MS = 300.0


# -- helpers ---------------------------------------------------------------------------------


def _best(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Best wall time (s) of `repeat` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _median(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, best) wall time (s) of `repeat` calls of `fn` (warm it up before)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _progress(started: float, what: str) -> None:
    """One line on stderr per section: a run slowed by other work shows where it is."""
    print(f"[{time.perf_counter() - started:6.1f} s] {what}", file=sys.stderr, flush=True)


def _machine(threads: int) -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "torch_threads": threads,
        "load_avg_before": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def _timeline(frame: pd.DataFrame, size: int) -> pd.DataFrame:
    """One request of `size` candidates: whole demo requests concatenated, relabelled."""
    counts = frame.groupby(schema.REQUEST_ID, sort=False).size()
    needed = counts.index[: int(np.searchsorted(counts.cumsum().to_numpy(), size)) + 1]
    rows = frame.loc[frame[schema.REQUEST_ID].isin(needed)].head(size).copy()
    if len(rows) < size:
        raise SystemExit(f"the logs hold {len(rows)} rows; the timeline needs {size}")
    rows[schema.REQUEST_ID] = "bench-timeline"
    rows[schema.USER_ID] = rows[schema.USER_ID].iat[0]
    if not rows[schema.TWEET_ID].is_unique:
        rows[schema.TWEET_ID] = [f"{t}-{i}" for i, t in enumerate(rows[schema.TWEET_ID])]
    return rows.reset_index(drop=True)


class _FinalScore(torch.nn.Module):
    """The deep ranker's final score as a function of (raw numeric features, embedded
    categoricals [N, k, dim]): [N, 1], the form shap's torch explainers take."""

    def __init__(self, ig: TorchIntegratedGradients) -> None:
        super().__init__()
        self.inner = ig.module  # registered, so shap's DeepExplainer hooks its layers
        self._ig = ig

    def forward(self, num: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self._ig._f_embedded(num, emb)[:, :1]


def _shap_total(values: Any, n: int) -> np.ndarray:
    """Sum of shap's per-input attributions (a list, one array per input) for each row."""
    parts = values if isinstance(values, list | tuple) else [values]
    return sum(np.asarray(p, dtype=np.float64).reshape(n, -1).sum(axis=1) for p in parts)  # type: ignore[return-value]


# -- 1. the raw limit ------------------------------------------------------------------------


def bench_limit(deep: Any, x_num: torch.Tensor, x_cat: torch.Tensor, repeat: int) -> dict[str, Any]:
    """Forward+backward and forward-only rows/s of the deep module per batch size."""
    weights = torch.tensor([float(deep.head_weights[h]) for h in deep.heads])
    total = max(BATCH_SIZES)

    def backward(size: int) -> None:
        for start in range(0, total, size):
            x = x_num[start : start + size].detach().requires_grad_(True)
            score = deep.module(x, x_cat[start : start + size]) @ weights
            torch.autograd.grad(score.sum(), x)

    def forward(size: int) -> None:
        with torch.no_grad():
            for start in range(0, total, size):
                deep.module(x_num[start : start + size], x_cat[start : start + size])

    def every_head(size: int) -> None:
        """What IG needs for every head: one forward, one backward per head."""
        for start in range(0, total, size):
            x = x_num[start : start + size].detach().requires_grad_(True)
            out = deep.module(x, x_cat[start : start + size])
            for h in range(out.shape[1]):
                torch.autograd.grad(out[:, h].sum(), x, retain_graph=h < out.shape[1] - 1)

    grad = {b: total / _best(lambda b=b: backward(b), repeat) for b in BATCH_SIZES}
    fwd = {b: total / _best(lambda b=b: forward(b), repeat) for b in BATCH_SIZES}
    heads = {b: total / _best(lambda b=b: every_head(b), repeat) for b in BATCH_SIZES}
    best = max(grad, key=grad.__getitem__)
    best_fwd = max(fwd, key=fwd.__getitem__)
    best_heads = max(heads, key=heads.__getitem__)
    return {
        "fwd_bwd_rows_per_s": {str(b): round(r) for b, r in grad.items()},
        "fwd_rows_per_s": {str(b): round(r) for b, r in fwd.items()},
        "heads_rows_per_s": {str(b): round(r) for b, r in heads.items()},
        "best_batch": best,
        "limit_rows_per_s": grad[best],
        "best_fwd_batch": best_fwd,
        "fwd_limit_rows_per_s": fwd[best_fwd],
        "best_heads_batch": best_heads,
        "heads_limit_rows_per_s": heads[best_heads],
    }


# -- 2. IG -------------------------------------------------------------------------------------


def bench_ig(
    deep: Any,
    x_num: torch.Tensor,
    x_cat: torch.Tensor,
    *,
    pairs: int,
    steps: int,
    repeat: int,
    internal_batches: Sequence[int],
) -> dict[str, Any]:
    from captum.attr import IntegratedGradients

    from rankaudit.attribution.ig import CHUNK_ROWS

    ig = TorchIntegratedGradients(deep, (FINAL,), AttributionSettings())
    every = TorchIntegratedGradients(deep, (*deep.heads, FINAL), AttributionSettings())
    x, xc = x_num[:pairs].contiguous(), x_cat[:pairs].contiguous()
    b = torch.roll(x, 1, dims=0)

    def ours() -> torch.Tensor:
        return ig._integrate([x], [b], [xc], steps, ig._f_raw)[0]

    captum = IntegratedGradients(lambda num, cat: ig._f_raw(num, cat)[:, 0])

    def stock(batch: int | None = None, rows: slice = slice(None)) -> torch.Tensor:
        return captum.attribute(
            x[rows], baselines=b[rows], additional_forward_args=(xc[rows],),
            n_steps=steps, method="gausslegendre", internal_batch_size=batch,
        )  # fmt: skip

    chunk = max(1, CHUNK_ROWS // steps)

    def stock_chunked() -> torch.Tensor:
        parts = [stock(rows=slice(s, s + chunk)) for s in range(0, pairs, chunk)]
        return torch.cat(parts)

    ours_s = _best(ours, repeat)
    # Every head and the final score from one forward: one backward pass per target.
    every_s = _best(lambda: every._integrate([x], [b], [xc], steps, every._f_raw), repeat)
    stock_s = _best(stock, repeat)
    tuned = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in internal_batches:
            tuned[batch] = _best(lambda batch=batch: stock(batch), repeat)
    best_batch = min(tuned, key=tuned.__getitem__)
    chunked_s = _best(stock_chunked, repeat)
    ours_values = ours()
    difference = float((ours_values - stock()).abs().max())
    scale = float(ours_values.abs().max())

    def row(seconds: float) -> dict[str, float]:
        return {"rows_per_s": pairs / seconds}

    return {
        "pairs": pairs,
        "steps": steps,
        "ours_chunk_pairs": chunk,
        "ours": row(ours_s),
        "ours_every_target": row(every_s) | {"targets": len(every.targets)},
        "captum": row(stock_s),
        "captum_tuned": row(tuned[best_batch]) | {"internal_batch_size": best_batch},
        "captum_tuned_all": {str(k): round(pairs / v) for k, v in tuned.items()},
        "captum_chunked": row(chunked_s) | {"chunk_pairs": chunk},
        "max_abs_diff": difference,
        "max_abs_attribution": scale,
    }


def _with_fractions(ig: dict[str, Any], limit: float) -> dict[str, Any]:
    """Add limit/n and each variant's fraction of it."""
    ceiling = limit / ig["steps"]
    out = dict(ig, ceiling_rows_per_s=ceiling)
    for key, value in ig.items():
        if isinstance(value, dict) and "rows_per_s" in value:
            out[key] = value | {"fraction_of_ceiling": value["rows_per_s"] / ceiling}
    return out


def _merge_limits(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The best of limit measurements taken at different times of the run (noise only slows)."""
    out: dict[str, Any] = {"limit_runs_rows_per_s": [r["limit_rows_per_s"] for r in runs]}
    for kind, best_key, limit_key in (
        ("fwd_bwd_rows_per_s", "best_batch", "limit_rows_per_s"),
        ("fwd_rows_per_s", "best_fwd_batch", "fwd_limit_rows_per_s"),
        ("heads_rows_per_s", "best_heads_batch", "heads_limit_rows_per_s"),
    ):
        rates = {b: max(r[kind][b] for r in runs) for b in runs[0][kind]}
        best = max(rates, key=rates.__getitem__)
        out |= {kind: rates, best_key: int(best), limit_key: float(rates[best])}
    return out


# -- 3. Deep SHAP ------------------------------------------------------------------------------


def bench_deep_shap(
    deep: Any, group: Group, *, gradient_rows: int, repeat: int, seed: int
) -> dict[str, Any]:
    import shap

    settings = AttributionSettings(seed=seed)
    ours = TorchPermutationShap(deep, (FINAL,), settings)
    ig = TorchIntegratedGradients(deep, (FINAL,), settings)
    wrapper = _FinalScore(ig).eval()
    x_num, x_cat = deep.encode(group.rows)
    b_num, b_cat = deep.encode(group.baselines)
    with torch.no_grad():
        x_emb, b_emb = ig._embed(x_cat), ig._embed(b_cat)
        fx = wrapper(x_num, x_emb)[:, 0].double().numpy()
        reference = float(wrapper(b_num, b_emb)[:, 0].double().mean())
    n, m = len(x_num), len(b_num)
    expected = fx - reference

    explanation = ours.explain(group)
    ours_s = _best(lambda: ours.explain(group), repeat, warmup=0)
    ours_error = np.abs(explanation.attributions[FINAL].sum(axis=1) - expected)
    played = len(Mirror(same_pairs(x_num, x_cat, b_num, b_cat)).rows)  # a pair or its reverse
    evaluations = played * (2 + 2 * settings.shap_permutations * (len(ours.features) - 1))

    deep_explainer = shap.DeepExplainer(wrapper, [b_num, b_emb])
    plain_call = "ok"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:  # the plain call (shap checks additivity by default); also the warm-up
            deep_explainer.shap_values([x_num, x_emb])
        except Exception as exc:
            plain_call = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:60]}"
        values = deep_explainer.shap_values([x_num, x_emb], check_additivity=False)
        deep_s = _best(
            lambda: deep_explainer.shap_values([x_num, x_emb], check_additivity=False), repeat, 0
        )
    # shap's rescale rules skip the layers it does not know (why additivity breaks).
    unknown = sorted(
        {str(w.message).rsplit(": ", 1)[-1] for w in caught if "unrecognized" in str(w.message)}
    )
    deep_error = np.abs(_shap_total(values, n) - expected)

    k = min(gradient_rows, n)
    gradient_explainer = shap.GradientExplainer(wrapper, [b_num, b_emb])
    gradient_explainer.shap_values([x_num[:1], x_emb[:1]], rseed=seed)  # warm-up
    start = time.perf_counter()
    grad_values = gradient_explainer.shap_values([x_num[:k], x_emb[:k]], rseed=seed)
    grad_s = time.perf_counter() - start
    grad_error = np.abs(_shap_total(grad_values, k) - expected[:k])

    def row(seconds: float, rows: int, error: np.ndarray) -> dict[str, float]:
        return {"rows_per_s": rows / seconds, "rows": rows, "additivity_max": float(error.max())}

    return {
        "rows": n,
        "baselines": m,
        "mean_abs_f_minus_ref": float(np.abs(expected).mean()),
        "ours": row(ours_s, n, ours_error) | {"forward_rows": evaluations},
        "deep_explainer": row(deep_s, n, deep_error)
        | {"plain_call": plain_call, "unrecognized_modules": unknown},
        "gradient_explainer": row(grad_s, k, grad_error) | {"nsamples": 200},
    }


# -- 4. Tree SHAP ------------------------------------------------------------------------------


def bench_trees(
    baseline: Any, frame: pd.DataFrame, timeline: pd.DataFrame, *, rows: int, repeat: int
) -> dict[str, Any]:
    import shap

    head = "favorite" if "favorite" in baseline.heads else baseline.heads[0]
    model = baseline.models[baseline.heads.index(head)]
    booster = model.booster
    x = model.encode(frame.head(rows))
    out: dict[str, Any] = {"head": head, "trees": booster.num_trees(), "rows": len(x)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        explainer = shap.TreeExplainer(booster)
        out["path_construct_ms"] = 1e3 * (time.perf_counter() - start)
        path_s = _best(lambda: explainer.shap_values(x), repeat)
        # shap hands this case to LightGBM's predict(pred_contrib=True) without num_threads, so
        # both run with LightGBM's default (OpenMP: every core).
        lgbm_s = _best(lambda: booster.predict(x, pred_contrib=True), repeat)
        lgbm_1_s = _best(lambda: booster.predict(x, pred_contrib=True, num_threads=1), repeat)
        diff = np.abs(
            np.asarray(explainer.shap_values(x)).reshape(len(x), -1)[:, : x.shape[1]]
            - booster.predict(x, pred_contrib=True)[:, :-1]
        ).max()
    out |= {
        "path_rows_per_s": len(x) / path_s,
        "lgbm_contrib_rows_per_s": len(x) / lgbm_s,
        "lgbm_contrib_1thread_rows_per_s": len(x) / lgbm_1_s,
        "path_vs_lgbm_max_abs_diff": float(diff),
    }
    explained = model.encode(timeline)
    interventional = {}
    for size in BACKGROUND_SIZES:
        background = explained[:size]

        def construct(background: np.ndarray = background) -> Any:
            return shap.TreeExplainer(
                booster, data=background, feature_perturbation="interventional",
                model_output="probability",
            )  # fmt: skip

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            construct_s = _best(construct, repeat)
            tree_explainer = construct()
            explain_s = _best(
                lambda e=tree_explainer: e.shap_values(explained, check_additivity=False), repeat
            )
        interventional[str(size)] = {
            "construct_ms": 1e3 * construct_s,
            "explain_ms": 1e3 * explain_s,
            "rows_per_s": len(explained) / explain_s,
        }
    first = interventional[str(BACKGROUND_SIZES[0])]["explain_ms"]
    for entry in interventional.values():
        entry["explain_x_smallest"] = entry["explain_ms"] / first
    out["interventional_rows"] = len(explained)
    out["interventional"] = interventional
    return out


# -- 5. end to end -----------------------------------------------------------------------------


@contextlib.contextmanager
def _counting(attributor: Any) -> Iterator[dict[str, int]]:
    """Count the rows an IG attributor's explanations ask for while the block runs: gradient
    rows (nodes of the path rules), forward-only rows (the grids that locate kinks) and the
    calls that carried them (a few Python calls each: cheap enough to time the block too)."""
    from rankaudit.attribution import ig as ig_module
    from rankaudit.attribution.paths import Nodes

    work = {"path_rows": 0, "kink_rows": 0, "integrate_calls": 0, "cut_calls": 0}
    integrate = attributor._integrate
    find_pieces = ig_module.find_pieces

    def counted(x: Any, b: Any, fixed: Any, nodes: Nodes | int, forward: Any) -> Any:
        pairs = int(x[0].shape[0])
        work["path_rows"] += len(nodes) if isinstance(nodes, Nodes) else pairs * nodes
        work["integrate_calls"] += 1
        return integrate(x, b, fixed, nodes, forward)

    def counted_pieces(forward: Any, x: Any, b: Any, fixed: Any, grid: int, chunk: int) -> Any:
        work["kink_rows"] += int(x[0].shape[0]) * (grid + 1)
        work["cut_calls"] += 1
        return find_pieces(forward, x, b, fixed, grid, chunk)

    attributor._integrate = counted
    ig_module.find_pieces = counted_pieces  # type: ignore[assignment]
    try:
        yield work
    finally:
        ig_module.find_pieces = find_pieces  # type: ignore[assignment]
        del attributor._integrate


def _ig_workload(deep: Any, group: Group, heads: Sequence[str] | None) -> dict[str, Any]:
    """Rows one IG explain of `group` needs (instrumented, untimed)."""
    attributor = make_attributor(deep, "ig", heads=heads, settings=AttributionSettings())
    with _counting(attributor) as work:
        explanation = attributor.explain(group)
    return {
        "targets": len(attributor.targets),
        "path_rows": work["path_rows"],
        "kink_rows": work["kink_rows"],
        "converged": float(np.mean(explanation.converged)),
    }


def _limit_seconds(work: dict[str, int], limits: dict[str, Any], heads: bool) -> float:
    """The time the rows IG asked for take at the raw limits: gradient rows at the every-head
    limit (or the one-output limit), kink grids at the forward limit."""
    gradient = limits["heads_limit_rows_per_s"] if heads else limits["limit_rows_per_s"]
    return work["path_rows"] / gradient + work["kink_rows"] / limits["fwd_limit_rows_per_s"]


# -- 6. whole log ------------------------------------------------------------------------------


def bench_whole_log(
    deep: Any, frame: pd.DataFrame, *, requests: int, repeat: int
) -> dict[str, Any]:
    """IG and SHAP of every head over many consecutive demo requests, the way `attribute` runs
    a log (`explain_groups`: requests packed together), next to the same requests explained
    one at a time: the best time of `repeat` runs and the rows each needed
    (`_whole_log_fractions` adds the fractions of the raw limits)."""
    settings = AttributionSettings()
    groups = list(itertools.islice(request_groups(frame, settings), requests))
    out: dict[str, Any] = {
        "requests": len(groups),
        "rows": sum(len(g.rows) for g in groups),
        "pairs": sum(len(g.rows) * len(g.baselines) for g in groups),
        "pack_pairs": PACK_PAIRS,
        "repeat": repeat,
    }
    for label, packed in (("ig_packed", True), ("ig_one_by_one", False)):
        attributor = make_attributor(deep, "ig", heads=None, settings=settings)
        list(explain_groups(attributor, groups[:2]))  # warm-up
        times = []
        for _ in range(repeat):
            with _counting(attributor) as work:
                start = time.perf_counter()
                if packed:
                    explained = [e for _, e in explain_groups(attributor, groups)]
                else:
                    explained = [attributor.explain(g) for g in groups]
                times.append(time.perf_counter() - start)
        out[label] = dict(work) | {
            "seconds": min(times),
            "rows_per_s": out["rows"] / min(times),
            "converged": float(np.mean(np.concatenate([e.converged for e in explained]))),
        }
    attributor = make_attributor(deep, "shap", heads=None, settings=settings)
    n_features = len(deep.feature_names)
    forward_rows = 0
    for group in groups:
        played = len(
            Mirror(same_pairs(*deep.encode(group.rows), *deep.encode(group.baselines))).rows
        )
        forward_rows += played * (2 + 2 * settings.shap_permutations * (n_features - 1))
    list(explain_groups(attributor, groups[:2]))  # warm-up
    seconds = _best(lambda: list(explain_groups(attributor, groups)), repeat, warmup=0)
    out["shap"] = {
        "seconds": seconds,
        "rows_per_s": out["rows"] / seconds,
        "forward_rows": forward_rows,
    }
    return out


def _whole_log_fractions(whole: dict[str, Any], limits: dict[str, Any]) -> None:
    """Each whole-log run as a fraction of the raw limits for the rows it needed."""
    for label in ("ig_packed", "ig_one_by_one"):
        run = whole[label]
        run["fraction_of_limit"] = _limit_seconds(run, limits, heads=True) / run["seconds"]
    shap = whole["shap"]
    shap["fraction_of_fwd_limit"] = (
        shap["forward_rows"] / shap["seconds"] / limits["fwd_limit_rows_per_s"]
    )


#: End-to-end configurations: (label, heads, settings, explain only the first tweet).
E2E_CONFIGS: tuple[tuple[str, list[str] | None, AttributionSettings, bool], ...] = (
    ("all_heads", None, AttributionSettings(), False),
    ("score_only", [FINAL], AttributionSettings(), False),
    # The web app's settings, exact request reference (up to 64 candidates as baselines).
    ("interactive", [FINAL], INTERACTIVE_SETTINGS, False),
    # The reference estimated from 16 sampled candidates, one antithetic permutation pair.
    (
        "sampled_16",
        [FINAL],
        AttributionSettings(ig_steps=16, ig_max_steps=64, shap_permutations=1, max_baselines=16),
        False,
    ),
    # The web app's click: one tweet against its whole request.
    ("one_tweet", [FINAL], INTERACTIVE_SETTINGS, True),
)


def bench_end_to_end(
    rankers: Sequence[Any], timeline: pd.DataFrame, *, repeat: int, warmup: pd.DataFrame
) -> dict[str, Any]:
    out: dict[str, Any] = {"candidates": len(timeline)}
    first_tweet = [str(timeline[schema.TWEET_ID].iat[0])]
    for label, heads, settings, one in E2E_CONFIGS:
        tweets = first_tweet if one else None
        per_model: dict[str, Any] = {}
        for ranker in rankers:
            methods = resolve_methods(ranker, "all")
            attribute_frame(ranker, warmup, methods=methods, reference="request", heads=heads)

            def call(
                ms: Sequence[str],
                r: Any = ranker,
                h: Any = heads,
                st: Any = settings,
                t: Any = tweets,
            ) -> Any:
                return attribute_frame(
                    r, timeline, methods=ms, reference="request", heads=h, settings=st, tweets=t
                )  # fmt: skip

            median, best = _median(lambda ms=methods, c=call: c(ms), repeat)
            # Where the time goes: one call per method (attribute_frame runs them in turn).
            per_method = {}
            for method in methods:
                m_median, m_best = _median(lambda m=method, c=call: c((m,)), repeat)
                per_method[method] = {"median_ms": 1e3 * m_median, "best_ms": 1e3 * m_best}
            per_model[ranker.name] = {
                "methods": per_method,
                "median_ms": 1e3 * median,
                "best_ms": 1e3 * best,
            }
        per_model["total_ms"] = sum(v["median_ms"] for v in per_model.values())
        per_model["total_best_ms"] = sum(
            v["best_ms"] for k, v in per_model.items() if k != "total_ms"
        )
        out[label] = per_model
    return out


# -- report ------------------------------------------------------------------------------------


def _table(results: dict[str, Any]) -> str:
    lines: list[tuple[str, str, str]] = []

    def add(section: str, name: str, value: str) -> None:
        lines.append((section, name, value))

    m = results["machine"]
    add(
        "machine",
        "cpu",
        f"{m['cpu']}, {m['usable_cores']} cores, torch threads {m['torch_threads']}",
    )
    add("machine", "load average", f"{m['load_avg_before']} before, {m['load_avg_after']} after")
    lim = results["limit"]
    for b, rate in lim["fwd_bwd_rows_per_s"].items():
        add(
            "1 limit",
            f"fwd+bwd batch {b}",
            f"{rate:,.0f} rows/s (fwd only {lim['fwd_rows_per_s'][b]:,})",
        )
    add("1 limit", "best", f"{lim['limit_rows_per_s']:,.0f} rows/s at batch {lim['best_batch']}")
    runs = ", ".join(f"{r:,.0f}" for r in lim["limit_runs_rows_per_s"])
    add(
        "1 limit",
        "runs (before IG, after IG, after whole log)",
        f"{runs} rows/s; forward only {lim['fwd_limit_rows_per_s']:,.0f} rows/s",
    )
    ig = results["ig"]
    add(
        "2 IG",
        "setup",
        f"{ig['pairs']} pairs, {ig['steps']} steps, final score; limit/n = {ig['ceiling_rows_per_s']:,.0f} rows/s",
    )
    for key, name in (
        ("ours", f"ours (_integrate, {ig['ours_chunk_pairs']} pairs/chunk)"),
        (
            "ours_every_target",
            f"ours, {ig['ours_every_target']['targets']} targets (heads + final)",
        ),
        ("captum", "captum IntegratedGradients"),
        ("captum_tuned", f"captum internal_batch_size={ig['captum_tuned']['internal_batch_size']}"),
        ("captum_chunked", f"captum on {ig['captum_chunked']['chunk_pairs']}-pair chunks"),
    ):
        r = ig[key]
        add(
            "2 IG",
            name,
            f"{r['rows_per_s']:,.0f} rows/s = {r['fraction_of_ceiling']:.2f} of limit/n",
        )
    every = ig["ours_every_target"]
    heads_ceiling = lim["heads_limit_rows_per_s"] / ig["steps"]
    add(
        "2 IG",
        "every head: against its own limit",
        f"one forward and one backward per head: {lim['heads_limit_rows_per_s']:,.0f} rows/s at batch {lim['best_heads_batch']}; "
        f"IG every head {every['rows_per_s']:,.0f} rows/s = {every['rows_per_s'] / heads_ceiling:.2f} of that limit/n",
    )
    add(
        "2 IG",
        "max |ours - captum|",
        f"{ig['max_abs_diff']:.2e} (max |attr| {ig['max_abs_attribution']:.2f})",
    )
    ds = results["deep_shap"]
    add(
        "3 Deep SHAP",
        "group",
        f"{ds['rows']} rows x {ds['baselines']} baselines, mean |f - ref| {ds['mean_abs_f_minus_ref']:.3f}",
    )
    for key, name in (
        ("ours", "ours (TorchPermutationShap)"),
        ("deep_explainer", "shap DeepExplainer"),
        ("gradient_explainer", "shap GradientExplainer"),
    ):
        r = ds[key]
        add(
            "3 Deep SHAP",
            name,
            f"{r['rows_per_s']:,.1f} rows/s ({r['rows']} rows), additivity max {r['additivity_max']:.2e}",
        )
    add(
        "3 Deep SHAP",
        "ours, forward work",
        f"{ds['ours']['forward_rows']:,} forward rows = {ds['ours']['fraction_of_fwd_limit']:.2f} of the forward limit",
    )
    add("3 Deep SHAP", "DeepExplainer plain call", ds["deep_explainer"]["plain_call"])
    unknown = ", ".join(ds["deep_explainer"]["unrecognized_modules"]) or "none"
    add("3 Deep SHAP", "DeepExplainer skips", f"layers without a rule: {unknown}")
    tr = results["trees"]
    add("4 Tree SHAP", "booster", f"{tr['head']} ({tr['trees']} trees), {tr['rows']} rows")
    add(
        "4 Tree SHAP",
        "shap path-dependent",
        f"{tr['path_rows_per_s']:,.0f} rows/s (+{tr['path_construct_ms']:.0f} ms explainer)",
    )
    add(
        "4 Tree SHAP",
        "lightgbm pred_contrib",
        f"{tr['lgbm_contrib_rows_per_s']:,.0f} rows/s ({tr['lgbm_contrib_1thread_rows_per_s']:,.0f} on 1 thread); max diff {tr['path_vs_lgbm_max_abs_diff']:.1e}",
    )
    for size, r in tr["interventional"].items():
        add(
            "4 Tree SHAP",
            f"interventional bg {size}",
            f"{r['rows_per_s']:,.0f} rows/s ({r['explain_ms']:.0f} ms, x{r['explain_x_smallest']:.1f}; +{r['construct_ms']:.0f} ms explainer)",
        )
    e2e = results["end_to_end"]
    for label, *_ in E2E_CONFIGS:
        part = e2e[label]
        for name, model in part.items():
            if name in ("total_ms", "total_best_ms"):
                continue
            methods = ", ".join(f"{k} {v['median_ms']:.0f} ms" for k, v in model["methods"].items())
            add(
                "5 end to end",
                f"{label}: {name}",
                f"{model['median_ms']:.0f} ms, all methods in one call (alone: {methods})",
            )
        verdict = "meets" if part["total_ms"] <= E2E_TARGET_MS else "misses"
        add(
            "5 end to end",
            f"{label}: total",
            f"{part['total_ms']:.0f} ms median, {part['total_best_ms']:.0f} ms best ({verdict} the {E2E_TARGET_MS:.0f} ms target)",
        )
    work = e2e.get("ig_workload", {})
    for label, w in work.items():
        add(
            "5 end to end",
            f"IG work {label}",
            f"{w['targets']} targets, {w['path_rows']:,} gradient rows and {w['kink_rows']:,} forward rows (kink grids): {w['fraction_of_limit']:.2f} of the raw limits' time for those rows",
        )
    for label, w in e2e.get("shap_workload", {}).items():
        add(
            "5 end to end",
            f"SHAP work {label}",
            f"{w['forward_rows']:,} forward rows, {w['forward_rows_per_s']:,.0f} rows/s = {w['fraction_of_fwd_limit']:.2f} of the forward limit",
        )
    whole = results["whole_log"]
    add(
        "6 whole log",
        "requests",
        f"{whole['requests']} consecutive demo requests, {whole['rows']:,} rows, {whole['pairs']:,} pairs; every head, request reference; packs of {whole['pack_pairs']:,} pairs",
    )
    for key, name in (
        ("ig_packed", "IG, requests packed"),
        ("ig_one_by_one", "IG, one request at a time"),
    ):
        w = whole[key]
        add(
            "6 whole log",
            name,
            f"{w['seconds']:.2f} s ({w['rows_per_s']:,.0f} rows/s), {w['path_rows']:,} gradient rows and {w['kink_rows']:,} forward rows in {w['integrate_calls']} + {w['cut_calls']} calls: {w['fraction_of_limit']:.2f} of the raw limits' time for those rows",
        )
    w = whole["shap"]
    add(
        "6 whole log",
        "SHAP",
        f"{w['seconds']:.2f} s ({w['rows_per_s']:,.0f} rows/s), {w['forward_rows']:,} forward rows: {w['fraction_of_fwd_limit']:.2f} of the forward limit",
    )
    widths = [max(len(line[i]) for line in lines) for i in range(2)]
    out = []
    previous = ""
    for section, name, value in lines:
        shown = section if section != previous else ""
        previous = section
        out.append(f"{shown:<{widths[0]}}  {name:<{widths[1]}}  {value}")
    return "\n".join(out)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--ig-steps", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--requests", type=int, default=None, help="requests of the whole-log run (default 60)"
    )
    args = parser.parse_args()
    if args.requests is None:
        args.requests = 16 if args.quick else 60
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    repeat = 1 if args.quick else 3
    pairs = 1024 if args.quick else 4096
    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "machine": _machine(args.threads)}

    workspace = load_workspace(args.workspace)
    frame = read_timelines(workspace.logs, workspace.spec)
    deep, baseline = workspace.ranker("deep"), workspace.ranker("baseline")
    x_num, x_cat = deep.encode(frame.head(max(BATCH_SIZES)))
    timeline = _timeline(frame, TIMELINE_SIZE)
    first_request = next(request_groups(frame.head(200), AttributionSettings()))

    # The limits are measured before IG, after it and after the whole-log run, and the best
    # kept, so that a burst of other work on the machine does not inflate a fraction of them.
    _progress(started, "1 limit")
    first_limit = bench_limit(deep, x_num, x_cat, repeat)
    multiples = (1, 4) if args.quick else (1, 2, 4, 8)
    _progress(started, "2 IG")
    ig = bench_ig(
        deep, x_num, x_cat, pairs=pairs, steps=args.ig_steps, repeat=repeat,
        internal_batches=[pairs * k for k in multiples if k <= args.ig_steps],
    )  # fmt: skip
    limit_runs = [first_limit, bench_limit(deep, x_num, x_cat, repeat)]
    _progress(started, "6 whole log")
    whole = bench_whole_log(deep, frame, requests=args.requests, repeat=1 if args.quick else 2)
    limit_runs.append(bench_limit(deep, x_num, x_cat, repeat))
    results["limit"] = _merge_limits(limit_runs)
    limit = results["limit"]["limit_rows_per_s"]
    results["ig"] = _with_fractions(ig, limit)
    _whole_log_fractions(whole, results["limit"])
    results["whole_log"] = whole
    _progress(started, "3 Deep SHAP")
    results["deep_shap"] = bench_deep_shap(
        deep, first_request, gradient_rows=2 if args.quick else 8, repeat=repeat, seed=args.seed
    )
    _progress(started, "4 Tree SHAP")
    results["trees"] = bench_trees(
        baseline, frame, timeline, rows=4000 if args.quick else 20000, repeat=repeat
    )
    _progress(started, "5 end to end")
    results["end_to_end"] = bench_end_to_end(
        (deep, baseline), timeline, repeat=1 if args.quick else 3, warmup=first_request.rows
    )
    timeline_group = next(request_groups(timeline, AttributionSettings()))
    workload = {}
    for label, heads in (("all_heads", None), ("score_only", [FINAL])):
        work = _ig_workload(deep, timeline_group, heads)
        seconds = results["end_to_end"][label][deep.name]["methods"]["ig"]["median_ms"] / 1e3
        work["path_rows_per_s"] = work["path_rows"] / seconds
        ideal = _limit_seconds(work, results["limit"], heads=heads is None)
        work["fraction_of_limit"] = ideal / seconds
        workload[label] = work
    results["end_to_end"]["ig_workload"] = workload
    # Permutation SHAP: pairs played x (2 + 2 x permutation pairs x (features - 1)) forwards.
    fwd_limit = results["limit"]["fwd_limit_rows_per_s"]
    ours = results["deep_shap"]["ours"]
    ours["fraction_of_fwd_limit"] = (
        ours["forward_rows"] * ours["rows_per_s"] / ours["rows"] / fwd_limit
    )
    settings = AttributionSettings()
    n_features = len(deep.feature_names)
    x_t, b_t = deep.encode(timeline_group.rows), deep.encode(timeline_group.baselines)
    shap_rows = len(Mirror(same_pairs(*x_t, *b_t)).rows)  # each pair or its reverse, once
    shap_rows *= 2 + 2 * settings.shap_permutations * (n_features - 1)
    shap_work = {}
    for label in ("all_heads", "score_only"):
        seconds = results["end_to_end"][label][deep.name]["methods"]["shap"]["median_ms"] / 1e3
        shap_work[label] = {
            "forward_rows": shap_rows,
            "forward_rows_per_s": shap_rows / seconds,
            "fraction_of_fwd_limit": shap_rows / seconds / fwd_limit,
        }
    results["end_to_end"]["shap_workload"] = shap_work
    results["machine"]["load_avg_after"] = round(os.getloadavg()[0], 2)
    results["wall_s"] = time.perf_counter() - started
    print(_table(results))
    print(f"(wall {results['wall_s']:.0f} s)")
    print(json.dumps(_rounded(results)))


if __name__ == "__main__":
    main()
