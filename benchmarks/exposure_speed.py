"""Wall time of the whole exposure audit on a workspace, and of its audit stage on a simulated
1M-row log.

Usage: python benchmarks/exposure_speed.py [--workspace fixtures/demo] [--synthetic-rows 1000000]

For each reference (baseline, chronological) against the audited deep ranker: read, score and
audit (groups in_network and author_follower_count quartiles, log position model, 1,000
bootstrap resamples, 2,000 permutations), timed in stages, one JSON line each. The synthetic part
times `audit_scored` alone (scores given) on `--synthetic-rows` rows (25 per request, 4
requests per viewer), the part of the audit that grows with the log beyond scoring. The ~1M-row
workspace: rankaudit fixtures build --users 20000 --out bench-out/w20k, then --workspace it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rankaudit.compare.scoring import (
    log_columns,
    read_log,
    score_requests,
    scored_from_scores,
    split_scope,
)
from rankaudit.exposure import ExposureSettings, audit_scored, group_rows
from rankaudit.workspace import load_workspace

GROUPS = ("in_network", "author_follower_count:q4")


def whole(workspace_dir: Path, reference: str) -> dict[str, object]:
    started = time.perf_counter()
    workspace = load_workspace(workspace_dir)
    rankers = (workspace.ranker(reference), workspace.ranker("deep"))
    columns = [*log_columns(workspace, rankers), "in_network", "author_follower_count"]
    frame = read_log(workspace, list(dict.fromkeys(columns)))
    in_scope, _, scope = split_scope(frame, workspace.holdout_from, "holdout", keep_earlier=False)
    read = time.perf_counter()
    scored = score_requests(in_scope, rankers, workspace.heads, models=(reference, "deep"))
    score = time.perf_counter()
    audit = audit_scored(scored, group_rows(scored.rows, GROUPS), scope=scope)
    done = time.perf_counter()
    return {
        "what": f"deep vs {reference}",
        "rows": len(in_scope),
        "requests": audit.n_requests,
        "viewers": audit.n_viewers,
        "read_s": round(read - started, 2),
        "score_s": round(score - read, 2),
        "audit_s": round(done - score, 2),
        "total_s": round(done - started, 2),
    }


def synthetic(rows: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    per_request = 25
    request = np.arange(rows) // per_request
    frame = pd.DataFrame(
        {
            "request_id": request,
            "user_id": request // 4,
            "tweet_id": np.arange(rows),
            "author_id": rng.integers(0, 20_000, rows),
            "in_network": rng.integers(0, 2, rows),
            "author_follower_count": rng.lognormal(8, 2, rows),
        }
    )
    score_a = rng.normal(size=rows)
    score_b = score_a + rng.normal(size=rows)
    started = time.perf_counter()
    scored = scored_from_scores(frame, (score_a, score_b), {})
    ranked = time.perf_counter()
    audit = audit_scored(scored, group_rows(scored.rows, GROUPS), settings=ExposureSettings())
    done = time.perf_counter()
    return {
        "what": "synthetic audit stage",
        "rows": rows,
        "requests": audit.n_requests,
        "viewers": audit.n_viewers,
        "rank_s": round(ranked - started, 2),
        "audit_s": round(done - ranked, 2),
        "total_s": round(done - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--synthetic-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    for reference in ("baseline", "chronological"):
        print(json.dumps(whole(args.workspace, reference)), flush=True)
    if args.synthetic_rows > 0:
        print(json.dumps(synthetic(args.synthetic_rows)), flush=True)


if __name__ == "__main__":
    main()
