"""What a rebuilt demo workspace promises against the committed one, on any x86-64 machine.

Everything the simulator writes (the logs, the spec, the ground truth, the workspace file, the
ground-truth model and the trained models' manifests) comes out byte for byte the same. The
trained weights do not: torch picks its CPU kernels at run time by instruction set (ATen's
`default`, `AVX2` or `AVX512` code), their float rounding differs in the last bits, and sixteen
epochs of Adam carry such a difference into visibly different weights. On the demo, the three
instruction sets give three deep rankers whose head probabilities differ by up to 0.054 and
whose final scores keep a rank correlation of 0.990; LightGBM's files came out identical. So
the trained files (`models/deep/model.safetensors`, `models/baseline/<head>.txt`) and
`evaluation.json`, which scores them, are held to `RebuildTolerance`: the same tensor names,
shapes and dtypes, close scores on a fixed sample of rows, and close held-out metrics.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TRAINED_MODELS", "RebuildTolerance", "compare_rebuild", "is_trained_file"]

#: The demo's trained rankers; every other file of the workspace must match byte for byte.
TRAINED_MODELS = ("baseline", "deep")


@dataclass(frozen=True)
class RebuildTolerance:
    """How far a rebuild's trained models may be from the committed ones.

    `metric`: absolute difference of NDCG@10, ROC-AUC and PR-AUC in evaluation.json (observed
    at most 0.0073, a rare head's ROC-AUC); `rce`: of relative cross-entropy, in percentage
    points (observed 0.61); `probability`: of any head probability on the sampled rows
    (observed 0.054); `rank_correlation`: the least Spearman correlation of final scores on the
    sampled rows (observed 0.990); `sample_every`: every n-th log row is scored.
    """

    metric: float = 0.02
    rce: float = 2.0
    probability: float = 0.15
    rank_correlation: float = 0.97
    sample_every: int = 50


def is_trained_file(relative: str) -> bool:
    """True for the files whose bytes depend on the CPU's instruction set (see the module)."""
    return relative in ("evaluation.json", "models/deep/model.safetensors") or (
        relative.startswith("models/baseline/") and relative.endswith(".txt")
    )


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _leaves(document: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(document, dict):
        for key in sorted(document):
            yield from _leaves(document[key], (*path, str(key)))
    else:
        yield path, document


def _compare_evaluation(built: Path, reference: Path, tolerance: RebuildTolerance) -> list[str]:
    ours = dict(_leaves(json.loads(built.read_text(encoding="utf-8"))))
    theirs = dict(_leaves(json.loads(reference.read_text(encoding="utf-8"))))
    if ours.keys() != theirs.keys():
        extra = sorted("/".join(k) for k in ours.keys() ^ theirs.keys())
        return [f"evaluation.json: other keys than the committed file: {extra[:5]}"]
    problems = []
    for path, value in ours.items():
        expected = theirs[path]
        where = "/".join(path)
        if isinstance(value, float) and isinstance(expected, float):
            limit = tolerance.rce if path[-1] == "rce" else tolerance.metric
            if not math.isclose(value, expected, rel_tol=0.0, abs_tol=limit):
                problems.append(
                    f"evaluation.json: {where} is {value}, committed {expected} (tolerance {limit})"
                )
        elif value != expected:
            problems.append(f"evaluation.json: {where} is {value!r}, committed {expected!r}")
    return problems


def _tensor_layout(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    from safetensors.numpy import load_file

    return {name: (str(a.dtype), tuple(a.shape)) for name, a in load_file(path).items()}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def _compare_scores(built: Path, reference: Path, tolerance: RebuildTolerance) -> list[str]:
    from rankaudit.data.readers import read_timelines
    from rankaudit.workspace import load_workspace

    ours, theirs = load_workspace(built), load_workspace(reference)
    frame = read_timelines(theirs.logs, theirs.spec)
    sample = frame.iloc[:: tolerance.sample_every].reset_index(drop=True)
    problems = []
    for name in TRAINED_MODELS:
        mine, committed = ours.ranker(name), theirs.ranker(name)
        heads = mine.head_scores(sample) - committed.head_scores(sample)
        worst = heads.abs().max()
        for head, gap in worst.items():
            if not gap <= tolerance.probability:
                problems.append(
                    f"models/{name}: head {head} probabilities differ by up to {gap:.4f} on "
                    f"{len(sample)} sampled rows (tolerance {tolerance.probability})"
                )
        rho = _spearman(mine.score(sample), committed.score(sample))
        if not rho >= tolerance.rank_correlation:
            problems.append(
                f"models/{name}: final scores' rank correlation {rho:.4f} on {len(sample)} "
                f"sampled rows, below {tolerance.rank_correlation}"
            )
    return problems


def compare_rebuild(
    built: Path, reference: Path, tolerance: RebuildTolerance | None = None
) -> list[str]:
    """Compare the workspace `built` with `reference` (both demo workspaces of the same name).

    Returns one line per broken promise, empty when `built` keeps them all: the same files;
    every file but the trained ones (`is_trained_file`) byte for byte; the deep model's tensors
    with the same names, dtypes and shapes; and, within `tolerance`, the held-out metrics in
    evaluation.json and the trained rankers' head probabilities and score order on every
    `sample_every`-th log row.
    """
    tolerance = tolerance or RebuildTolerance()
    ours, theirs = _digests(built), _digests(reference)
    if ours.keys() != theirs.keys():
        return [
            f"{built}: other files than {reference}: "
            f"missing {sorted(theirs.keys() - ours.keys())}, extra {sorted(ours.keys() - theirs.keys())}"
        ]
    problems = [
        f"{name}: bytes differ from the committed file (sha256 {ours[name][:12]} against "
        f"{theirs[name][:12]})"
        for name in sorted(ours)
        if not is_trained_file(name) and ours[name] != theirs[name]
    ]
    weights = "models/deep/model.safetensors"
    if _tensor_layout(built / weights) != _tensor_layout(reference / weights):
        problems.append(f"{weights}: other tensor names, dtypes or shapes than committed")
    problems += _compare_evaluation(
        built / "evaluation.json", reference / "evaluation.json", tolerance
    )
    if not problems:  # the scores are only comparable when the inputs are the same
        problems += _compare_scores(built, reference, tolerance)
    return problems
