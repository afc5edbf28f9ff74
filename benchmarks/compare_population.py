"""Time and peak memory of the population comparison (and the surprise list) on a workspace.

Usage: python benchmarks/compare_population.py [--workspace bench-out/w20k] [--scope all|holdout]
                                               [--what population|surprises] [--matrix]
Prints one JSON line per measurement: what, scope, rows and requests compared, wall seconds per
stage (read, score, metrics) and in total, and the peak resident memory (MiB) of the process.
`--matrix` runs every (what, scope) pair, each in a fresh process so peak memory is its own.
Build the ~1M-row workspace first: rankaudit fixtures build --users 20000 --out bench-out/w20k
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def measure(workspace_dir: Path, scope: str, what: str) -> dict[str, object]:
    from rankaudit.compare import CompareSettings, Scope, SurpriseSettings
    from rankaudit.compare.population import summarize_population
    from rankaudit.compare.scoring import log_columns, read_log, score_requests, split_scope
    from rankaudit.compare.surprise import score_surprises, training_ranges
    from rankaudit.workspace import load_workspace

    started = time.perf_counter()
    workspace = load_workspace(workspace_dir)
    models = ("baseline", "deep")
    rankers = (workspace.ranker(models[0]), workspace.ranker(models[1]))
    loaded = time.perf_counter()
    frame = read_log(workspace, log_columns(workspace, rankers))
    chosen: Scope = "all" if scope == "all" else "holdout"
    in_scope, earlier, effective = split_scope(
        frame, workspace.holdout_from, chosen, keep_earlier=what == "surprises"
    )
    log_rows = len(frame)
    del frame
    read = time.perf_counter()
    scored = score_requests(in_scope, rankers, workspace.heads, models=models)
    scored_at = time.perf_counter()
    if what == "population":
        result = summarize_population(
            scored,
            workspace.spec,
            CompareSettings(),
            scope=effective,
            holdout_from=workspace.holdout_from,
        )
        requests = result.requests
    else:
        ranges = training_ranges(earlier, workspace.spec, workspace.holdout_from)
        surprises = score_surprises(scored, SurpriseSettings(), ranges=ranges, scope=effective)
        requests = surprises.requests
    done = time.perf_counter()
    return {
        "what": what,
        "scope": effective,
        "log_rows": log_rows,
        "rows": len(scored.rows),
        "requests": requests,
        "cpus": os.cpu_count(),
        "load_models_s": round(loaded - started, 2),
        "read_s": round(read - loaded, 2),
        "score_s": round(scored_at - read, 2),
        "metrics_s": round(done - scored_at, 2),
        "wall_s": round(done - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=Path("bench-out/w20k"))
    parser.add_argument("--scope", choices=("all", "holdout"), default="all")
    parser.add_argument("--what", choices=("population", "surprises"), default="population")
    parser.add_argument("--matrix", action="store_true", help="every (what, scope) pair")
    args = parser.parse_args()
    if not (args.workspace / "rankaudit.toml").is_file():
        sys.exit(
            f"{args.workspace}: no workspace; build it with "
            f"rankaudit fixtures build --users 20000 --out {args.workspace}"
        )
    if not args.matrix:
        print(json.dumps(measure(args.workspace, args.scope, args.what)))
        return
    for what in ("population", "surprises"):
        for scope in ("all", "holdout"):
            command = [
                sys.executable, __file__, "--workspace", str(args.workspace),
                "--scope", scope, "--what", what,
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                sys.exit(result.stderr)
            print(result.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
