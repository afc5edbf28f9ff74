"""Detection by the drift check: deep models retrained with one feature corrupted, and a data
window carrying the demo's logging bug, each checked against a clean reference profile.

Usage: python benchmarks/drift_detection.py [--workspace fixtures/demo] [--seeds 7 8 9]
           [--epochs N] [--rows 50000] [--out DIR]

For every training seed, three deep models are trained with the demo recipe
(`rankaudit.synth.train.train_deep`, the demo's epochs unless --epochs) on the requests served
before `holdout_from`: `clean`, `shuffle` (real_graph_weight permuted across rows) and `unit`
(real_graph_weight x100 on iOS rows, the demo's unit bug, in the training data). The reference
profile is the clean model of the first seed (the demo's own deep model at seed 7: the script
prints whether the fingerprints match), sampled with seed 0; every other model is profiled on a
sample drawn with seed 1. Clean models of other seeds are a control: what a retrain alone moves.
Data windows: the demo deep model on requests before 13 Nov against 13-15 Nov (iOS logs the
real-graph weight in percent from 13 Nov), and 1-7 Nov against 7-13 Nov as a control.
Prints one JSON line per check: flagged, the first feature named, the corrupted feature's share
before and after, every finding's rule and feature.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CORRUPTED = "real_graph_weight"


def _train(workspace_dir: Path, out: Path, seeds: list[int], epochs: int | None) -> list[str]:
    from rankaudit.data import schema
    from rankaudit.data.readers import read_timelines
    from rankaudit.synth.features import DEMO_SPEC, LOG_SCALED
    from rankaudit.synth.train import train_deep
    from rankaudit.synth.truth import HEAD_WEIGHTS
    from rankaudit.workspace import load_workspace

    demo = load_workspace(workspace_dir)
    columns = [*schema.REQUIRED_COLUMNS, *DEMO_SPEC.names, *map(schema.label_column, HEAD_WEIGHTS)]
    frame = read_timelines(demo.logs, demo.spec, columns=list(dict.fromkeys(columns)))
    assert demo.holdout_from is not None
    train = frame.loc[frame[schema.SERVED_AT] < demo.holdout_from].reset_index(drop=True)
    ios = train["client"] == "ios"
    variants = {
        "clean": train,
        "shuffle": train.assign(
            **{CORRUPTED: np.random.default_rng(0).permutation(train[CORRUPTED].to_numpy())}
        ),
        "unit": train.assign(**{CORRUPTED: train[CORRUPTED].where(~ios, train[CORRUPTED] * 100)}),
    }
    names = []
    for seed in seeds:
        for variant, rows in variants.items():
            name = f"{variant}_{seed}"
            started = time.perf_counter()
            train_deep(rows, DEMO_SPEC, HEAD_WEIGHTS, LOG_SCALED, out / name, seed=seed,
                       max_epochs=epochs)  # fmt: skip
            print(json.dumps({"stage": "train", "model": name,
                              "seconds": round(time.perf_counter() - started, 1)}), flush=True)  # fmt: skip
            names.append(name)
    logs, spec = (workspace_dir / "logs").resolve(), (workspace_dir / "features.yaml").resolve()
    heads = "".join(f"{h} = {w}\n" for h, w in HEAD_WEIGHTS.items())
    models = "".join(f'[models.{n}]\nkind = "torch"\npath = "{n}"\n\n' for n in names)
    deep = (workspace_dir / "models" / "deep").resolve()
    (out / "rankaudit.toml").write_text(
        f'name = "drift-detection"\nlogs = "{logs.as_posix()}"\nspec = "{spec.as_posix()}"\n\n'
        f'[heads]\n{heads}\n[models.deep]\nkind = "torch"\npath = "{deep.as_posix()}"\n\n{models}'
    )
    return names


def _report(label: str, result: object, seconds: float) -> None:
    moves = result.moves.set_index("feature")  # type: ignore[attr-defined]
    row = moves.loc[CORRUPTED]
    print(json.dumps({
        "check": label, "flagged": not result.passed,  # type: ignore[attr-defined]
        "first_feature": result.first_feature,  # type: ignore[attr-defined]
        f"{CORRUPTED}_share": [round(float(row["share_before"]), 4),
                               round(float(row["share_after"]), 4)],
        "findings": [f"{f.rule}:{f.feature}" for f in result.findings],  # type: ignore[attr-defined]
        "largest_other_move": round(float(np.abs(moves.drop(index=CORRUPTED)["change"]).max()), 4),
        "seconds": round(seconds, 1),
    }), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from rankaudit.drift import check_drift, profile_model
    from rankaudit.workspace import load_workspace

    out = args.out or Path(tempfile.mkdtemp(prefix="drift-detection-"))
    out.mkdir(parents=True, exist_ok=True)
    names = _train(args.workspace, out, args.seeds, args.epochs)
    workspace = load_workspace(out)
    reference_name = f"clean_{args.seeds[0]}"
    print(json.dumps({
        "stage": "reference", "model": reference_name,
        "same_as_demo_deep": workspace.ranker(reference_name).fingerprint
        == workspace.ranker("deep").fingerprint,
    }), flush=True)  # fmt: skip
    reference = profile_model(workspace, reference_name, sample=args.rows, seed=0)
    for name in names:
        if name == reference_name:
            continue
        started = time.perf_counter()
        current = profile_model(workspace, name, sample=args.rows, seed=1)
        _report(f"{name} vs {reference_name}", check_drift(reference, current),
                time.perf_counter() - started)  # fmt: skip

    bug = pd.Timestamp("2026-11-13T00:00:00Z")
    windows = {
        "before 13 Nov vs 13-15 Nov (the iOS unit bug)": ((None, bug), (bug, None)),
        "1-7 Nov vs 7-13 Nov (control)": (
            (None, pd.Timestamp("2026-11-07T00:00:00Z")),
            (pd.Timestamp("2026-11-07T00:00:00Z"), bug),
        ),
    }
    for label, (before, after) in windows.items():
        started = time.perf_counter()
        first = profile_model(workspace, "deep", sample=args.rows, seed=0, window=before)
        second = profile_model(workspace, "deep", sample=args.rows, seed=1, window=after)
        _report(f"deep: {label}", check_drift(first, second), time.perf_counter() - started)


if __name__ == "__main__":
    main()
