"""Explaining a team's own torch ranker with many features: one request, IG + SHAP, one core.

Usage: python benchmarks/own_ranker.py [--features 220] [--candidates 25] [--repeats 5]

Builds a learning-to-rank workspace the way README's "Bring your own ranker" does: a generated
svmlight file (graded 0-4) imported by `rankaudit init --from-svmlight`, and a torch MLP whose
forward(x) takes one tensor of every feature (trained on the grades, safetensors + a factory in
the model folder). Then, on one thread:

1. in process: `attribute_frame` on one request of `--candidates` candidates, IG and SHAP,
   request reference, final score only, default settings (median of `--repeats`, after a
   warm-up);
   (wall and CPU time: on a busy machine the CPU time is the fairer one-core figure);
2. from a cold start: `rankaudit attribute --model mlp --method all --heads score --request R`
   in a fresh process, wall time (median of 3), which adds imports, loading and validation.

Prints a table, then one JSON line with every number. The target of the in-process figure
(issue "bring your own ranker") is 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the generator lives with the tests that use it

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rankaudit.attribution.api import attribute_frame  # noqa: E402
from rankaudit.attribution.result import AttributionResult  # noqa: E402
from rankaudit.attribution.settings import FINAL  # noqa: E402
from rankaudit.data import schema  # noqa: E402
from rankaudit.data.readers import read_timelines  # noqa: E402
from rankaudit.scaffold import init_from_svmlight  # noqa: E402
from rankaudit.workspace import load_workspace  # noqa: E402
from tests.realworld.ltr import make_data, train_mlp, write_svmlight  # noqa: E402

TARGET_S = 2.0


def build(root: Path, n_features: int) -> Path:
    data = make_data(n_features=n_features, n_queries=60)
    write_svmlight(data, root / "train.svm")
    train_mlp(data, root / "mlp")
    init_from_svmlight(root / "train.svm", out=root / "ws", models=[("mlp", root / "mlp")])
    toml = root / "ws" / "rankaudit.toml"
    toml.write_text(
        toml.read_text().replace('kind = "torch"\n', 'kind = "torch"\ntrust_code = true\n')
    )
    return root / "ws"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=220)
    parser.add_argument("--candidates", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        workspace_dir = build(Path(folder), args.features)
        workspace = load_workspace(workspace_dir)
        ranker = workspace.ranker("mlp")
        frame = read_timelines(workspace.logs, workspace.spec)
        sizes = frame.groupby(schema.REQUEST_ID).size()
        request = str(sizes[sizes >= args.candidates].index[0])
        rows = frame.loc[frame[schema.REQUEST_ID] == request].head(args.candidates)
        rows = rows.reset_index(drop=True)

        def explain() -> AttributionResult:
            return attribute_frame(
                ranker, rows, methods=("ig", "shap"), reference="request", heads=(FINAL,)
            )

        explain()  # warm-up
        times, cpu = [], []
        for _ in range(args.repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = explain()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        in_process = statistics.median(times)
        completeness = result.completeness()

        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        cold = []
        for run in range(3):
            out = Path(folder) / f"store{run}"
            command = [
                sys.executable, "-m", "rankaudit", "attribute", "--workspace", str(workspace_dir),
                "--model", "mlp", "--method", "all", "--heads", "score", "--request", request,
                "--out", str(out),
            ]  # fmt: skip
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            cold.append(time.perf_counter() - started)
    numbers = {
        "features": args.features,
        "candidates": len(rows),
        "in_process_s": round(in_process, 3),
        "in_process_runs_s": [round(t, 3) for t in times],
        "in_process_cpu_s": round(statistics.median(cpu), 3),
        "cold_command_s": round(statistics.median(cold), 3),
        "target_s": TARGET_S,
        "max_relative_error_ig": float(
            np.max(completeness.loc[completeness["method"] == "ig", "max_relative_error"])
        ),
        "max_relative_error_shap": float(
            np.max(completeness.loc[completeness["method"] == "shap", "max_relative_error"])
        ),
    }
    print(f"{'what':<52} {'seconds':>8}")
    print(f"{'attribute_frame, IG + SHAP, score (median wall)':<52} {in_process:>8.3f}")
    print(f"{'  the same, CPU time of this process':<52} {numbers['in_process_cpu_s']:>8.3f}")
    print(
        f"{'rankaudit attribute, cold process (median of 3)':<52} {numbers['cold_command_s']:>8.3f}"
    )
    print(
        f"{len(rows)} candidates, {args.features} features, 1 thread; target {TARGET_S} s in process"
    )
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
