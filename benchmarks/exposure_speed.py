"""Wall time of the whole exposure audit of a workspace, from cold processes, with where it goes.

Usage: python benchmarks/exposure_speed.py [--workspace fixtures/demo] [--json]
                                           [--references baseline chronological]

The whole audit is what `rankaudit exposure` computes by default against each reference
(baseline and chronological) for the audited deep ranker: held-out requests, groups
`in_network` (a log column) and `author_follower_count:q4` (numeric buckets), log position
model, 1,000 paired bootstrap resamples of viewers, 2,000-draw permutation tests. Two parts:

- `end to end`: each `rankaudit exposure --format json` command in a fresh process (nothing
  imported or cached in Python), its wall and CPU seconds (user + system; on a machine busy
  with other work wall time overstates what a run costs); the target applies to their sum.
- `stages`: one fresh process doing the same work stage by stage with the library functions
  the command calls: imports, opening the workspace and loading the rankers, reading the log
  and keeping the held-out rows, scoring each ranker once (torch on one thread, as the audit
  scores), then per reference ranking both orderings, grouping, and the audit proper
  (reach and exposure per viewer, bootstrap, permutation tests).

The ~1M-row workspace: rankaudit fixtures build --users 20000 --out bench-out/w20k, then
--workspace bench-out/w20k. Target (issue 17): the whole audit of that workspace within 30 s
on 2 cores. The environment's OMP_NUM_THREADS is passed on unchanged (the audit's bootstrap
reads numpy's BLAS, whose thread count moves interval bounds in the 15th digit).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from cli_start import child_cpu, rankaudit_command  # benchmarks/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0
AUDITED = "deep"
GROUPS = ("in_network", "author_follower_count:q4")


def end_to_end(workspace: Path, reference: str) -> dict[str, object]:
    """One cold `rankaudit exposure` command: wall and CPU seconds, and its audit's size."""
    command = [
        *rankaudit_command(),
        "exposure",
        "--workspace",
        str(workspace),
        *(arg for group in GROUPS for arg in ("--group", group)),
        "--vs",
        reference,
        AUDITED,
        "--format",
        "json",
    ]
    start, start_cpu = time.perf_counter(), child_cpu()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, child_cpu() - start_cpu
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    audit = json.loads(result.stdout)
    return {
        "what": f"rankaudit exposure --vs {reference} {AUDITED}",
        "viewers": audit["viewers"],
        "requests": audit["requests"],
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
    }


def stages(workspace: Path, references: list[str]) -> dict[str, object]:
    """The stage breakdown, run in this (fresh) process; seconds per stage."""
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = round(now - clock, 2)
        clock = now

    from rankaudit.compare.scoring import (
        log_columns,
        read_log,
        score_with_heads,
        scored_from_scores,
        split_scope,
    )
    from rankaudit.exposure import ExposureSettings, audit_scored, group_rows
    from rankaudit.exposure.audit import SCORING_TORCH_THREADS
    from rankaudit.models.threads import torch_threads
    from rankaudit.workspace import load_workspace

    lap("import")
    loaded = load_workspace(workspace)
    names = list(dict.fromkeys([*references, AUDITED]))
    rankers = {name: loaded.ranker(name) for name in names}
    lap("open workspace, load rankers")
    columns = [*log_columns(loaded, list(rankers.values())), *(g.partition(":")[0] for g in GROUPS)]
    frame = read_log(loaded, list(dict.fromkeys(columns)))
    in_scope, _, scope = split_scope(frame, loaded.holdout_from, "holdout", keep_earlier=False)
    in_scope = in_scope.reset_index(drop=True)
    lap("read log, keep held-out rows")
    scores = {}
    with torch_threads(SCORING_TORCH_THREADS):
        for name, ranker in rankers.items():
            scores[name] = score_with_heads(ranker, in_scope)[0]
            lap(f"score {name}")
    for reference in references:
        scored = scored_from_scores(
            in_scope, (scores[reference], scores[AUDITED]), loaded.heads,
            graded=loaded.relevance, models=(reference, AUDITED),
        )  # fmt: skip
        lap(f"{reference}: rank both orderings")
        groupings = group_rows(scored.rows, GROUPS)
        lap(f"{reference}: group rows")
        audit_scored(scored, groupings, settings=ExposureSettings(), scope=scope)
        lap(f"{reference}: audit (viewers, bootstrap, tests)")
    return {"log_rows": len(frame), "audited_rows": len(in_scope), "stages_s": times}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "fixtures" / "demo")
    parser.add_argument("--references", nargs="+", default=["baseline", "chronological"])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--stages-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stages_only:  # the child process of the stage breakdown
        print(json.dumps(stages(args.workspace, args.references)))
        return 0
    runs = [end_to_end(args.workspace, reference) for reference in args.references]
    child = subprocess.run(
        [sys.executable, __file__, "--stages-only", "--workspace", str(args.workspace),
         "--references", *args.references],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    breakdown = json.loads(child.stdout)
    total = sum(float(str(run["wall_s"])) for run in runs)
    if args.json:
        print(json.dumps({"end_to_end": runs, "total_s": round(total, 2), **breakdown}, indent=2))
    else:
        print(f"workspace {args.workspace}: {breakdown['log_rows']:,} log rows, "
              f"{breakdown['audited_rows']:,} held out")  # fmt: skip
        print(f"{'end to end (fresh process)':<52}{'wall s':>8}{'cpu s':>8}")
        for run in runs:
            print(f"{run['what']:<52}{run['wall_s']:>8.2f}{run['cpu_s']:>8.2f}")
        verdict = "ok" if total <= TARGET_S else "SLOW"
        print(f"{'whole audit':<52}{total:>8.2f}{'':>8}  target {TARGET_S:g} s: {verdict}")
        print("stages (one fresh process, each ranker scored once)")
        for name, seconds in breakdown["stages_s"].items():
            print(f"  {name:<50}{seconds:>8.2f}")
    return 0 if total <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
