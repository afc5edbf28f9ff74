"""Start-up time of the command line: `rankaudit --help`, `validate` and `compare --request` on
the demo workspace, each in a fresh process (nothing imported or cached in Python), median of
`--runs` runs after one untimed warm-up of the file cache. The table also gives the median CPU
seconds (user + system) of a run: on a machine busy with other work, wall time overstates it.

Usage: python benchmarks/cli_start.py [--workspace fixtures/demo] [--request r000000819]
                                      [--runs 5] [--json]

Targets (issue 15): --help at most 0.3 s, validate and compare --request at most 3 s each.
The same OMP_NUM_THREADS as `make test` (1) is used unless the environment sets it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"--help": 0.3, "validate": 3.0, "compare --request": 3.0}


def rankaudit_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m rankaudit`."""
    script = Path(sys.executable).with_name("rankaudit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rankaudit"]


def child_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(command: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (user + system) of `runs` fresh processes running `command`, after
    one untimed warm-up. CPU time says what a run costs when other work shares the cores."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    wall, cpu = [], []
    for attempt in range(runs + 1):
        start, start_cpu = time.perf_counter(), child_cpu()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed, used = time.perf_counter() - start, child_cpu() - start_cpu
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
        if attempt:  # the first run only warms the file cache
            wall.append(elapsed)
            cpu.append(used)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="fixtures/demo")
    parser.add_argument("--request", default="r000000819")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    base = rankaudit_command()
    commands = {
        "--help": [*base, "--help"],
        "validate": [*base, "validate", "--workspace", args.workspace],
        "compare --request": [
            *base, "compare", "--workspace", args.workspace, "--request", args.request,
        ],
    }  # fmt: skip
    rows = []
    for name, command in commands.items():
        seconds, cpu = time_runs(command, args.runs)
        median = statistics.median(seconds)
        rows.append(
            {
                "command": name,
                "median_s": round(median, 3),
                "min_s": round(min(seconds), 3),
                "max_s": round(max(seconds), 3),
                "cpu_median_s": round(statistics.median(cpu), 3),
                "target_s": TARGETS[name],
                "met": median <= TARGETS[name],
            }
        )
    if args.json:
        print(json.dumps({"runs": args.runs, "cpus": os.cpu_count(), "rows": rows}, indent=2))
        return
    print(f"rankaudit start-up, median of {args.runs} fresh processes ({os.cpu_count()} CPUs)")
    print(f"| {'command':<18} | median s | min s | max s | CPU s | target s | met |")
    print(f"|{'-' * 20}|----------|-------|-------|-------|----------|-----|")
    for row in rows:
        print(
            f"| {row['command']:<18} | {row['median_s']:>8.2f} | {row['min_s']:>5.2f} "
            f"| {row['max_s']:>5.2f} | {row['cpu_median_s']:>5.2f} | {row['target_s']:>8.1f} "
            f"| {'yes' if row['met'] else 'no':>3} |"
        )


if __name__ == "__main__":
    main()
