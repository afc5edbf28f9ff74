"""False alarms of the drift check: one model profiled on two disjoint samples, many times.

Usage: python benchmarks/drift_false_alarms.py [--workspace fixtures/demo] [--model deep]
           [--trials 100] [--rows 49000] [--heads score [--heads reply ...] | --heads all]
           [--rules drift.toml]

The model's attributions of every request of the log are computed once; each trial then splits
the requests at random (seeded by the trial number) into two disjoint samples of `--rows` rows
(whole requests) and checks one profile against the other with the default (or given) rules.
This equals profiling each sample separately: a request's attributions against the request
reference depend on that request alone (its baselines are sampled with a seed keyed by the
request id). Prints one JSON line per stage and a summary: trials flagged, which rules and
features fired, and the distribution of the largest share move.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--model", default="deep")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--rows", type=int, default=None, help="rows per sample (default: half)")
    parser.add_argument("--heads", action="append", default=None)
    parser.add_argument("--rules", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from rankaudit.attribution import FINAL
    from rankaudit.drift import (
        DEFAULT_HEADS,
        DEFAULT_RULES,
        DRIFT_SETTINGS,
        attribute_requests,
        build_profile,
        check_drift,
        load_rules,
    )
    from rankaudit.importance import sample_requests
    from rankaudit.workspace import load_workspace

    workspace = load_workspace(args.workspace)
    heads: tuple[str, ...] = tuple(args.heads) if args.heads else DEFAULT_HEADS
    if heads == ("all",):
        heads = (*workspace.ranker(args.model).heads, FINAL)
    rules = load_rules(args.rules) if args.rules else DEFAULT_RULES
    started = time.perf_counter()
    rows = sample_requests(workspace, 10**12, seed=0)
    sums = attribute_requests(workspace, args.model, rows, heads=heads)
    attributed = time.perf_counter() - started
    print(json.dumps({
        "stage": "attribute the whole log", "rows": len(rows), "requests": len(sums.requests),
        "heads": list(heads), "seconds": round(attributed, 1),
        "rows_per_second": round(len(rows) / attributed), "torch_threads": torch.get_num_threads(),
    }), flush=True)  # fmt: skip

    # Whole requests overshoot a target by up to one request: leave room for the second half.
    per_sample = args.rows or int(sums.rows.sum()) // 2 - int(sums.rows.max())
    flagged = 0
    fired: collections.Counter[str] = collections.Counter()
    largest = []
    sizes = []
    for trial in range(args.trials):
        order = np.random.default_rng(trial).permutation(len(sums.requests))
        cumulative = np.cumsum(sums.rows[order])
        first_end = int(np.searchsorted(cumulative, per_sample) + 1)
        second_end = int(np.searchsorted(cumulative, cumulative[first_end - 1] + per_sample) + 1)
        if second_end > len(order):
            raise SystemExit(f"--rows {per_sample}: the log holds fewer than twice that many rows")
        first = sums.select([sums.requests[i] for i in order[:first_end]])
        second = sums.select([sums.requests[i] for i in order[first_end:second_end]])
        sizes.append((int(first.rows.sum()), int(second.rows.sum())))
        profiles = [
            build_profile(s, method="ig", reference="request", settings=DRIFT_SETTINGS, seed=seed)
            for s, seed in ((first, trial), (second, 10_000 + trial))
        ]
        result = check_drift(*profiles, rules=rules)
        largest.append(float(np.abs(result.moves["change"]).max()))
        if not result.passed:
            flagged += 1
            for finding in result.findings:
                fired[f"{finding.rule}:{finding.head}:{finding.feature}"] += 1
    print(json.dumps({
        "stage": "trials", "trials": args.trials, "flagged": flagged,
        "rows_per_sample": [min(min(s) for s in sizes), max(max(s) for s in sizes)],
        "largest_share_move": {
            "median": round(float(np.median(largest)), 4),
            "p99": round(float(np.quantile(largest, 0.99)), 4),
            "max": round(max(largest), 4),
        },
        "tolerance": rules.share_tolerance,
        "fired": dict(fired.most_common()),
        "seconds": round(time.perf_counter() - started - attributed, 1),
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
