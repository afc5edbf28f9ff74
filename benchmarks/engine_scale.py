"""Batch attribution at scale: staging, per-partition throughput and memory, local vs Ray.

Usage:
    python benchmarks/engine_scale.py --workspace bench-out/w20k [--engine local|ray]
        [--num-workers 2] [--partition-rows 1000] [--explain 4] [--out bench-out/scale]

The job is the issue's: IG + deep SHAP on the deep ranker and tree SHAP on the LightGBM
baseline, request reference, every head and the final score, default settings. A whole
1M-row log takes hours on two cores with these settings (about 50 ms of CPU per tweet), so the
script measures what bounds a whole run and extrapolates only the arithmetic:

1. staging the WHOLE log by viewer partition (one streaming pass): wall time, rows/s, and
   peak RSS of the process tree;
2. explaining the first `--explain` partitions (about `--partition-rows` rows each) with both
   tasks on the chosen engine and `--num-workers` single-threaded workers: wall time (with the
   start of the workers, and of the Ray cluster), tweets/s, peak RSS of the process tree
   (driver plus workers);
3. the estimated wall time of the whole log at that throughput.

Peak RSS is sampled every 50 ms from /proc over this process and its descendants, reset
between phases. Run it alone: other work on the machine changes every number (the load
average is printed). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from rankaudit.attribution.batch import _log_frames, plan_attribution
from rankaudit.engine import make_engine
from rankaudit.store import stage_rows
from rankaudit.store.layout import PartitionMarker
from rankaudit.workspace import load_workspace


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _tree_rss_mib(root: int) -> float:
    tree = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Samples the RSS of this process tree every 50 ms; yields a dict filled with `peak_mib`."""
    result = {"peak_mib": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak_mib"] = max(result["peak_mib"], _tree_rss_mib(os.getpid()))
            stop.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mib"] = max(result["peak_mib"], _tree_rss_mib(os.getpid()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--partition-rows", type=int, default=1000)
    parser.add_argument("--explain", type=int, default=4, help="partitions explained per task")
    parser.add_argument("--out", type=Path, default=Path("bench-out/scale"))
    args = parser.parse_args(argv)

    workspace = load_workspace(args.workspace)
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in workspace.logs.files)
    partitions = max(1, rows // args.partition_rows)
    out = args.out / f"{args.workspace.name}-{args.engine}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    load_before = os.getloadavg()[0]

    with peak_rss() as staging_memory:
        started = time.perf_counter()
        staged = stage_rows(_log_frames(workspace), out, partitions, workspace.logs_fingerprint())
        staging_s = time.perf_counter() - started
    todo = sorted(staged.rows)[: args.explain]
    tweets = sum(staged.rows[i] for i in todo)
    engine = make_engine(args.engine, num_workers=args.num_workers)
    plans = {
        "deep (IG + deep SHAP)": plan_attribution(
            workspace, "deep", method="all", reference="request", out=out / "deep"
        ),
        "baseline (tree SHAP)": plan_attribution(
            workspace, "baseline", method="all", reference="request", out=out / "baseline"
        ),
    }
    results: dict[str, Any] = {}
    total_explain_s = 0.0
    for label, plan in plans.items():
        target = out / label.split()[0]
        target.mkdir()
        done: list[PartitionMarker] = []
        with peak_rss() as memory:
            started = time.perf_counter()
            engine.run(plan.task, staged, target, todo, done.append)
            seconds = time.perf_counter() - started
        assert sorted(m.index for m in done) == todo
        total_explain_s += seconds
        results[label] = {
            "partitions": len(todo),
            "tweets": tweets,
            "output_rows": sum(m.rows_out for m in done),
            "seconds": round(seconds, 2),
            "tweets_per_s": round(tweets / seconds, 2),
            "peak_rss_mib": round(memory["peak_mib"], 1),
        }
    rate = tweets / total_explain_s  # tweets/s with both tasks
    report = {
        "workspace": str(args.workspace),
        "rows": rows,
        "engine": args.engine,
        "num_workers": args.num_workers,
        "partitions": partitions,
        "staging": {
            "seconds": round(staging_s, 2),
            "rows_per_s": round(staged.total_rows / staging_s),
            "peak_rss_mib": round(staging_memory["peak_mib"], 1),
        },
        "explain": results,
        "both_tasks_tweets_per_s": round(rate, 2),
        "estimated_whole_log_hours": round((rows / rate + staging_s) / 3600, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(f"{rows:,} rows in {partitions} partitions, engine {args.engine}")
    print(
        f"staging: {staging_s:.1f} s, {staged.total_rows / staging_s:,.0f} rows/s, "
        f"peak RSS {staging_memory['peak_mib']:.0f} MiB"
    )
    for label, row in results.items():
        print(
            f"{label}: {row['partitions']} partitions, {row['tweets']} tweets in "
            f"{row['seconds']} s = {row['tweets_per_s']} tweets/s, peak RSS "
            f"{row['peak_rss_mib']:.0f} MiB"
        )
    print(
        f"both tasks: {rate:.1f} tweets/s -> whole log about "
        f"{report['estimated_whole_log_hours']} h; load {load_before:.1f} -> "
        f"{report['load_after']}"
    )
    print(json.dumps(report))
    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
