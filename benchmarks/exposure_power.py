"""Power and calibration of the exposure audit on simulated logs.

Usage: python benchmarks/exposure_power.py [--seeds 40] [--requests 10000] [--aa-sets 1000]
                                          [--boost B --first-seed S]  (a chunk of seeds)

Power: each seed simulates a log of `--requests` requests (4 per viewer, 25 candidates each,
2,000 authors). The reference ranker scores s ~ N(0, 1); the audited ranker scores
s + N(0, 0.5) and adds `delta` for a random 5% of authors, `delta` calibrated once (on a
separate large log) so that the boosted authors' reach rises by 10% under the log position
model. The audit (`rankaudit.exposure.audit_scored`, authors grouped through an attribute
table) detects the boost when the boosted group's 95% interval excludes 0. Prints the
detection rate.

Calibration (A/A): over `--aa-sets` random author sets (10% of 400 authors, 300 viewers with 2
requests of 20 tweets and heavily tied integer scores), the two orderings differ only by
shuffles of tied tweets; prints the share of 95% intervals covering 0 (target 93-97%).

Prints one JSON line per part.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from rankaudit.compare.metrics import rank_within_groups
from rankaudit.compare.scoring import scored_from_scores
from rankaudit.exposure import Attention, ExposureSettings, audit_scored, group_rows
from rankaudit.exposure.metrics import request_cells, viewer_totals
from rankaudit.exposure.stats import bootstrap_ratios

PER_VIEWER, PER_REQUEST, AUTHORS = 4, 25, 2000


def simulate(
    n_requests: int, delta: float, seed: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = n_requests * PER_REQUEST
    request = np.repeat(np.arange(n_requests), PER_REQUEST)
    author = rng.integers(0, AUTHORS, n)
    boosted = np.zeros(AUTHORS, dtype=bool)
    boosted[rng.choice(AUTHORS, AUTHORS // 20, replace=False)] = True
    frame = pd.DataFrame(
        {
            "request_id": request,
            "user_id": request // PER_VIEWER,
            "tweet_id": np.arange(n),
            "author_id": author.astype(str),
        }
    )
    score_a = rng.normal(size=n)
    score_b = score_a + rng.normal(scale=0.5, size=n) + delta * boosted[author]
    attributes = pd.DataFrame(
        {"boosted": np.where(boosted, "yes", "no")},
        index=pd.Index(np.arange(AUTHORS).astype(str), name="author_id"),
    )
    return frame, score_a, score_b, attributes


def amplification(n_requests: int, delta: float, seed: int, n_bootstrap: int) -> pd.Series:
    frame, score_a, score_b, attributes = simulate(n_requests, delta, seed)
    scored = scored_from_scores(frame, (score_a, score_b), {})
    groupings = group_rows(scored.rows, ["boosted"], attributes=attributes)
    audit = audit_scored(
        scored, groupings, settings=ExposureSettings(n_bootstrap=n_bootstrap, seed=seed)
    )
    return audit.groups.set_index("group").loc["yes"]


def calibrate(target: float = 0.10) -> float:
    """The boost that raises the boosted authors' reach by `target` (bisection, one big log)."""
    low, high = 0.0, 1.0
    for _ in range(9):
        mid = (low + high) / 2
        if amplification(20_000, mid, 12345, 1)["amplification"] < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def aa_coverage(n_sets: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    n_viewers, per_viewer, per_request, n_authors = 300, 2, 20, 400
    n_requests = n_viewers * per_viewer
    requests = np.repeat(np.arange(n_requests), per_request)
    viewer_of_request = np.arange(n_requests) // per_viewer
    authors = rng.integers(0, n_authors, len(requests))
    scores = rng.integers(0, 4, len(requests)).astype(np.float64)
    attention = Attention("log")
    covered = 0
    for s in range(n_sets):
        groups = (rng.random(n_authors) < 0.1)[authors].astype(np.int64)
        pos_a = rank_within_groups(requests, scores, rng.permutation(len(requests)))
        pos_b = rank_within_groups(requests, scores, rng.permutation(len(requests)))
        cells = request_cells(
            requests, groups, 2, attention.survival(pos_a), attention.survival(pos_b)
        )
        totals = viewer_totals(cells, viewer_of_request, n_viewers, 2)
        out = bootstrap_ratios(totals.values, 2, n_resamples=400, seed=s)
        covered += int(out.low["amplification"][1] <= 0.0 <= out.high["amplification"][1])
    return covered / n_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds from here on")
    parser.add_argument("--boost", type=float, default=None, help="skip the calibration")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--aa-sets", type=int, default=1000)
    args = parser.parse_args()

    started = time.perf_counter()
    if args.seeds < 1:
        aa_part(args.aa_sets)
        return
    delta = calibrate() if args.boost is None else args.boost
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    rows = [amplification(args.requests, delta, seed, 1000) for seed in seeds]
    detected = sum(bool(r["amplification_low"] > 0) for r in rows)
    print(
        json.dumps(
            {
                "part": "power",
                "requests": args.requests,
                "seeds": args.seeds,
                "detected": detected,
                "boost": round(delta, 4),
                "mean_amplification": round(float(np.mean([r["amplification"] for r in rows])), 4),
                "detection_rate": detected / args.seeds,
                "seconds": round(time.perf_counter() - started, 1),
            }
        ),
        flush=True,
    )
    aa_part(args.aa_sets)


def aa_part(n_sets: int) -> None:
    if n_sets < 1:
        return
    started = time.perf_counter()
    coverage = aa_coverage(n_sets)
    print(
        json.dumps(
            {
                "part": "aa_coverage",
                "sets": n_sets,
                "coverage": coverage,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
