"""Speed of drift profiles: attribution throughput per method and settings, and the wall time
of `rankaudit drift check --workspace ... --model deep` on a 50k-row sample.

Usage: python benchmarks/drift_check_speed.py [--workspace fixtures/demo] [--model deep]
           [--rows 1000] [--sample 50000] [--skip-throughput] [--skip-cli]

Throughput: one seeded sample of whole requests (`--rows`), explained against the request
reference with IG and SHAP under the default attribution settings and under DRIFT_SETTINGS,
for the final score alone and for every head, with one torch thread (and IG with two); each
line gives rows per second and the largest
difference of a score share from the default-settings IG profile of the same rows (how much the
cheaper settings move what drift compares). Then the CLI end to end, in fresh processes:
`drift profile` for a reference, and `drift check --model` profiling the model again (sample
seed 1) and checking it, with their wall times (the commands' default: one torch thread).
One JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def throughput(workspace_dir: Path, model: str, rows_wanted: int) -> None:
    from rankaudit.attribution import FINAL, AttributionSettings
    from rankaudit.drift import DRIFT_SETTINGS, attribute_requests, build_profile
    from rankaudit.importance import sample_requests
    from rankaudit.models.threads import torch_threads
    from rankaudit.workspace import load_workspace

    workspace = load_workspace(workspace_dir)
    ranker = workspace.ranker(model)
    rows = sample_requests(workspace, rows_wanted, seed=0)
    every_head = (*ranker.heads, FINAL)
    runs = [
        ("ig", "default", AttributionSettings(), (FINAL,), 1),
        ("ig", "drift", DRIFT_SETTINGS, (FINAL,), 1),
        ("ig", "drift", DRIFT_SETTINGS, (FINAL,), 2),
        ("ig", "drift", DRIFT_SETTINGS, every_head, 1),
        ("shap", "drift", DRIFT_SETTINGS, (FINAL,), 1),
        ("shap", "drift", DRIFT_SETTINGS, every_head, 1),
        ("shap", "default", AttributionSettings(), every_head, 1),
    ]
    baseline = None
    for method, name, settings, heads, threads in runs:
        started = time.perf_counter()
        with torch_threads(threads):
            sums = attribute_requests(
                workspace, model, rows, method=method, heads=heads, settings=settings
            )
        seconds = time.perf_counter() - started
        profile = build_profile(sums, method=method, reference="request", settings=settings)
        shares = profile.shares(FINAL)
        if baseline is None:
            baseline = shares
        errors = sums.completeness[FINAL]
        print(json.dumps({
            "measure": "throughput", "method": method, "settings": name,
            "heads": "score" if heads == (FINAL,) else "all", "rows": len(rows),
            "seconds": round(seconds, 2), "rows_per_second": round(len(rows) / seconds),
            "seconds_per_50k_rows": round(50_000 * seconds / len(rows), 1),
            "max_score_share_difference": round(float(np.abs(shares - baseline).max()), 4),
            "median_relative_completeness_error": round(float(np.median(errors)), 4),
            "torch_threads": threads,
        }), flush=True)  # fmt: skip


def cli(workspace_dir: Path, model: str, sample: int) -> None:
    command = [sys.executable, "-m", "rankaudit"]
    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / "reference.json"
        for label, args in (
            ("drift profile", ["drift", "profile", "--model", model, "--out", str(reference)]),
            (
                "drift check --model",
                ["drift", "check", "--model", model, "--seed", "1", "--reference", str(reference)],
            ),
        ):
            started = time.perf_counter()
            done = subprocess.run(
                [*command, *args, "--workspace", str(workspace_dir), "--sample", str(sample)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            print(json.dumps({
                "measure": "cli", "command": label, "sample": sample, "exit_code": done.returncode,
                "wall_seconds": round(time.perf_counter() - started, 1),
                "torch_threads": 1,
                "first_line": (done.stdout or done.stderr).splitlines()[0],
            }), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--model", default="deep")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args.workspace, args.model, args.rows)
    if not args.skip_cli:
        cli(args.workspace, args.model, args.sample)


if __name__ == "__main__":
    main()
