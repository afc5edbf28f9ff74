"""Faithfulness of rank attributions: deletion curves on demo requests (one core).

Usage: python benchmarks/rank_faithfulness.py [--workspace fixtures/demo] [--requests 200] [--k 5]
(200 requests: about 15 s on one core.)

For each of `--requests` seeded demo requests, the deep ranker's biggest mover against the
baseline (ties by tweet id) is explained two ways against the request reference:
- rank attribution: `explain_rank` (default settings), the Shapley values of its rank;
- score attribution: today's SHAP of the final score (`attribute_frame`, reference `request`).
Its features are then deleted one at a time (set to the request reference of `explain_rank`:
the candidates' mean, or the most frequent category) in three orders: by rank attribution, by
score attribution and in a seeded random order, the other candidates' scores fixed. The
attribution orders delete first the features that carry the tweet from the reference to where
it is (rank values of the sign of at_x - at_reference, score values of the opposite sign:
a higher score is a smaller rank), largest first; with no change, largest |value| first.

The curve is |rank after j deletions - rank with none|, j = 1..k; its area is the mean over
j (positions). A one-sided Wilcoxon signed-rank test (scipy, zero differences dropped) over
the requests asks whether the rank-attribution area exceeds each of the others.

Prints one table-like block, then one JSON line with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from scipy.stats import wilcoxon

from rankaudit.attribution.api import attribute_frame
from rankaudit.attribution.rank import explain_rank, extra_columns, masked_frame, request_reference
from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.data import schema
from rankaudit.data.readers import read_timelines
from rankaudit.workspace import load_workspace


def _order(values: NDArray[np.float64], direction: float) -> NDArray[np.int64]:
    """Feature positions, the ones pushing in `direction` first (largest first), ties by index."""
    key = -values * direction if direction != 0 else -np.abs(values)
    return np.argsort(key, kind="stable").astype(np.int64)


def _curve(
    ranker: Any, rows: pd.DataFrame, i: int, order: NDArray[np.int64], k: int
) -> NDArray[np.float64]:
    """|rank of tweet i after deleting order[:j]| - its rank, j = 1..k, others fixed."""
    features = tuple(ranker.feature_names)
    reference = request_reference(rows, features, tuple(ranker.categorical_features))
    scores = np.asarray(ranker.score(rows), dtype=np.float64)
    ids = rows[schema.TWEET_ID].astype(str).to_numpy()
    others, above = np.delete(scores, i), np.delete(ids, i) < ids[i]
    keep = np.ones((k + 1, len(features)), dtype=bool)
    for j in range(1, k + 1):
        keep[j:, order[j - 1]] = False
    frame = masked_frame(
        rows, np.full(k + 1, i, dtype=np.int64), keep, features, reference,
        extra=extra_columns([ranker], features),
    )  # fmt: skip
    own = np.asarray(ranker.score(frame), dtype=np.float64)
    # 1-based rank among the fixed others; on a tie the smaller tweet id ranks above.
    higher = (others[None, :] > own[:, None]) | ((others[None, :] == own[:, None]) & above[None, :])
    ranks = 1.0 + higher.sum(axis=1)
    return np.asarray(np.abs(ranks[1:] - ranks[0]), dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--k", type=int, default=5, help="deletions under the curve")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    workspace = load_workspace(args.workspace)
    frame = read_timelines(workspace.logs, workspace.spec)
    deep, baseline = workspace.ranker("deep"), workspace.ranker("baseline")
    features = tuple(deep.feature_names)
    ids = frame[schema.REQUEST_ID].drop_duplicates().to_numpy()
    sizes = frame.groupby(schema.REQUEST_ID).size()
    eligible = [r for r in ids if sizes[r] >= 2]
    rng = np.random.default_rng(args.seed)
    count = min(args.requests, len(eligible))
    sample = [eligible[j] for j in np.sort(rng.choice(len(eligible), count, replace=False))]
    settings = AttributionSettings()
    areas: dict[str, list[float]] = {"rank": [], "score": [], "random": []}
    for request in sample:
        rows = frame.loc[frame[schema.REQUEST_ID] == request].reset_index(drop=True)
        rank_a = pd.Series(-baseline.score(rows)).rank(method="first").to_numpy()
        rank_b = pd.Series(-deep.score(rows)).rank(method="first").to_numpy()
        moves = rows.assign(_move=np.abs(rank_a - rank_b))
        moves = moves.sort_values(["_move", schema.TWEET_ID], ascending=[False, True])
        tweet = str(moves[schema.TWEET_ID].iat[0])
        i = int(np.flatnonzero(rows[schema.TWEET_ID].astype(str).to_numpy() == tweet)[0])
        ranked = explain_rank(deep, rows, tweet)
        rank_values = ranked.values.set_index("player")["rank"].reindex(features).to_numpy()
        long = attribute_frame(
            deep, rows, methods=("shap",), reference="request", heads=[FINAL],
            settings=settings, tweets=[tweet],
        ).frame  # fmt: skip
        shap = long.loc[long["head"] == FINAL].set_index("feature")["attribution"]
        score_values = shap.reindex(features).to_numpy(dtype=np.float64)
        direction = float(np.sign(ranked.at_x["rank"] - ranked.at_reference["rank"]))
        orders = {
            "rank": _order(rank_values, direction),
            "score": _order(score_values, -direction),
            "random": rng.permutation(len(features)).astype(np.int64),
        }
        k = min(args.k, len(features))
        for name, order in orders.items():
            areas[name].append(float(_curve(deep, rows, i, order, k).mean()))
    rank = np.asarray(areas["rank"])
    numbers: dict[str, float | int] = {"requests": count, "k": args.k}
    for name in ("rank", "score", "random"):
        numbers[f"area_mean_{name}"] = float(np.mean(areas[name]))
    for name in ("score", "random"):
        other = np.asarray(areas[name])
        numbers[f"rank_beats_{name}_share"] = float(np.mean(rank > other))
        numbers[f"rank_ties_{name}_share"] = float(np.mean(rank == other))
        test = wilcoxon(rank, other, alternative="greater", zero_method="wilcox")
        numbers[f"p_rank_gt_{name}"] = float(test.pvalue)
    numbers["seconds"] = time.perf_counter() - start
    for key, value in numbers.items():
        print(f"{key:28s} {value:.4g}" if isinstance(value, float) else f"{key:28s} {value}")
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
