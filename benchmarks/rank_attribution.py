"""Latency and convergence of rank-level explanations on the demo workspace (one core).

Usage: python benchmarks/rank_attribution.py [--workspace fixtures/demo] [--requests 20]

Measures:
1. one tweet's rank explanation (`explain_rank`, default settings: 64 antithetic pairs, all
   three quantities; `--pairs` to try another budget) of the deep ranker (26 features) at 25 candidates: p50 / p95 over the
   sampled requests (each request's first 25 candidates, the tweet in the middle);
2. a listwise explanation (Kendall tau, NDCG@10, RBO; `listwise_pairs`, default 16) of 100 candidates (demo requests
   concatenated) with the spec's feature groups and with the 26 features as players;
3. the head breakdown of a request (`head_flips` between the two demo rankers);
4. convergence: the default budget against a 400-permutation reference (200 pairs), per
   sampled request (its biggest mover): Spearman of the rank values and overlap of the top 5
   by |value|; prints the median and the share of requests with Spearman >= 0.95 and overlap
   >= 4 of 5;
5. known truth: on up to `--requests` planted-bug requests (iOS, from the bug's date) and as many
   outside the bug slice, the share where `real_graph_weight` is the largest rank contributor
   (most negative rank value: it pushes the tweet up) of the deep ranker's top tweet, against
   the request reference and against the global one (a 256-row training background); also
   the share where it is first or second, the share of requests where the bug decided the top
   tweet (undoing it, the deep ranker puts another tweet first) and the global-reference share
   among those.

Prints one table-like block, then one JSON line with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from rankaudit.attribution.api import background_sample
from rankaudit.attribution.grouping import group_members
from rankaudit.attribution.heads import head_flips
from rankaudit.attribution.listwise import explain_listwise
from rankaudit.attribution.rank import RankSettings, explain_rank
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.synth.world import PLANTED_BUG, planted_bug_rows
from rankaudit.workspace import load_workspace


def _times(run: Callable[[], Any], repeats: int) -> list[float]:
    run()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=RankSettings().pairs, help="the budget tested")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    workspace = load_workspace(args.workspace)
    frame = read_timelines(workspace.logs, workspace.spec)
    deep, baseline = workspace.ranker("deep"), workspace.ranker("baseline")
    ids = frame[schema.REQUEST_ID].drop_duplicates()
    sizes = frame.groupby(schema.REQUEST_ID).size()
    eligible = [r for r in ids if sizes[r] >= 25]
    rng = np.random.default_rng(0)
    sample = [eligible[i] for i in np.sort(rng.choice(len(eligible), args.requests, replace=False))]
    requests = {r: frame.loc[frame[schema.REQUEST_ID] == r].reset_index(drop=True) for r in sample}
    settings = RankSettings(pairs=args.pairs)

    # 1. one tweet's rank explanation at 25 candidates.
    latency = []
    for rows in requests.values():
        rows25 = rows.iloc[:25]
        tweet = str(rows25[schema.TWEET_ID].iat[12])
        latency += _times(lambda r=rows25, t=tweet: explain_rank(deep, r, t, settings=settings), 3)

    # 2. listwise, 100 candidates.
    big = pd.concat(list(requests.values())[:4], ignore_index=True).iloc[:100]
    big = big.assign(**{schema.REQUEST_ID: "bench"})
    relevance = np.asarray(
        big[[c for c in big if c.startswith("label_")]].sum(axis=1), dtype=np.float64
    )
    groups = group_members(tuple(deep.feature_names), workspace.spec)
    other = baseline.score(big)

    def listwise(g: Any) -> Callable[[], Any]:
        return lambda: explain_listwise(
            deep, big, quantities=("kendall", "ndcg", "rbo"), relevance=relevance,
            other_scores=other, groups=g, settings=settings,
        )  # fmt: skip

    listwise_groups = _times(listwise(groups), 3)
    listwise_features = _times(listwise(None), 3)

    # 3. head breakdown of a request.
    first = next(iter(requests.values()))
    heads_ms = _times(lambda: head_flips(baseline, deep, first), 5)

    # 4. convergence against 200 pairs (400 permutations).
    reference = RankSettings(pairs=200)
    spearman, overlap = [], []
    for rows in requests.values():
        scores_a, scores_b = baseline.score(rows), deep.score(rows)
        ranks_a = pd.Series(-scores_a).rank(method="first").to_numpy()
        ranks_b = pd.Series(-scores_b).rank(method="first").to_numpy()
        tweet = str(rows[schema.TWEET_ID].iat[int(np.argmax(np.abs(ranks_a - ranks_b)))])
        fast = explain_rank(deep, rows, tweet, settings=settings).values["rank"].to_numpy()
        slow = explain_rank(deep, rows, tweet, settings=reference).values["rank"].to_numpy()
        spearman.append(float(spearmanr(fast, slow)[0]))
        top_fast = set(np.argsort(-np.abs(fast), kind="stable")[:5])
        top_slow = set(np.argsort(-np.abs(slow), kind="stable")[:5])
        overlap.append(len(top_fast & top_slow))
    # 5. known truth: the planted bug's feature behind the deep ranker's top tweet.
    bugged = frame.assign(_bug=planted_bug_rows(frame).to_numpy())
    by_request = bugged.groupby(schema.REQUEST_ID, sort=True)["_bug"].any()
    background = background_sample(workspace, 256, 0)
    truth: dict[str, float] = {}
    for label, chosen in (("bug", by_request[by_request]), ("clean", by_request[~by_request])):
        picked = chosen.index.to_numpy()
        picked = picked[np.sort(rng.permutation(len(picked))[: args.requests])]
        hits: dict[str, list[bool]] = {"request": [], "global": [], "global_top2": []}
        decided: list[bool] = []
        for request in picked:
            rows = frame.loc[frame[schema.REQUEST_ID] == request].reset_index(drop=True)
            best = int(np.argmax(deep.score(rows)))
            top = str(rows[schema.TWEET_ID].iat[best])
            for name, ref in (("request", None), ("global", background)):
                values = explain_rank(deep, rows, top, settings=settings, reference=ref).values
                order = np.lexsort((values["player"].to_numpy(), values["rank"].to_numpy()))
                ranked = values["player"].to_numpy()[order]
                hits[name].append(ranked[0] == "real_graph_weight")
                if name == "global":
                    hits["global_top2"].append("real_graph_weight" in ranked[:2])
            # Did the bug decide the top tweet? The same request with the bug undone.
            undone = rows.copy()
            column = str(PLANTED_BUG["feature"])
            scale = np.where(planted_bug_rows(rows).to_numpy(), float(PLANTED_BUG["factor"]), 1.0)
            undone[column] = (rows[column].to_numpy(dtype=np.float64) / scale).astype(np.float32)
            decided.append(int(np.argmax(deep.score(undone))) != best)
        for name, found in hits.items():
            truth[f"rgw_top_share_{label}_{name}_ref"] = float(np.mean(found)) if found else 0.0
        mask = np.asarray(decided, dtype=bool)
        truth[f"bug_decided_top_share_{label}"] = float(mask.mean()) if len(mask) else 0.0
        truth[f"rgw_top_share_{label}_global_ref_where_bug_decided"] = (
            float(np.mean(np.asarray(hits["global"])[mask])) if mask.any() else 0.0
        )
        truth[f"requests_{label}"] = float(len(picked))
    good = [s >= 0.95 and o >= 4 for s, o in zip(spearman, overlap, strict=True)]
    numbers = {
        "requests": len(requests),
        "pairs": settings.pairs,
        "listwise_pairs": settings.listwise_pairs,
        "rank_ms_p50": _p(latency, 50),
        "rank_ms_p95": _p(latency, 95),
        "listwise_100_groups": len(groups),
        "listwise_100_groups_ms_median": statistics.median(listwise_groups),
        "listwise_100_features_ms_median": statistics.median(listwise_features),
        "head_flips_ms_median": statistics.median(heads_ms),
        "convergence_spearman_median": statistics.median(spearman),
        "convergence_top5_overlap_median": statistics.median(overlap),
        "convergence_share_ok": float(np.mean(good)),
        **truth,
    }
    for key, value in numbers.items():
        print(f"{key:36s} {value:.4g}" if isinstance(value, float) else f"{key:36s} {value}")
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
