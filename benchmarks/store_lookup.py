"""Viewer lookups in an attribution store: DuckDB latency at 10M long attribution rows.

Usage: python benchmarks/store_lookup.py [--rows 10400000] [--outputs 1] [--lookups 200]
                                         [--seed 0] [--out DIR]

Builds a store the way `rankaudit attribute --out` does (the same `run_partitioned`: staging by
viewer partition, the default partition count for the input rows, rows sorted by viewer then
request, pieces cut at request boundaries every `BATCH_ROWS` log rows, zstd Parquet, markers),
with a synthetic task in place of the ranker: random attributions of the demo's 26 features
for `--outputs` (method, head) pairs per tweet: 1, the score's SHAP (`--rows` / 26 tweets), up
to 12, what the demo's deep ranker writes (IG and SHAP of five heads and the score: `--rows` /
312 tweets, hence 12x larger row groups); ~25 candidates per request, two requests per viewer. Then, on a store opened once (the first, cold open and lookup is reported apart),
times with `--lookups` viewers drawn with `--seed`:

- viewer rows: every row of a viewer (`Store.viewer_rows`);
- explanation: one tweet's rows, as the app's Timeline page and `rankaudit explain` ask
  (`AttributionStore.rows(viewer=, requests=, tweet=)`);
- covers: `AttributionStore.covers`, for held viewers and for ids the store does not hold;
- features sample: the Features page's sample (16 requests, read with their viewers), and
  the same requests without their viewers (a scan of every partition), 5 times each.

Checks that each viewer's rows are exactly its tweets x features. Times are wall clock on a
store in the page cache (a server's steady state).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.attribution import COLUMNS
from rankaudit.attribution.batch import _whole_requests  # the cut AttributeTask makes
from rankaudit.data.spec import load_spec
from rankaudit.engine import PartitionTask, run_partitioned
from rankaudit.store import default_partitions
from rankaudit.store.query import AttributionStore

DEMO_SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "demo" / "features.yaml"
CANDIDATES = 25  # tweets per request (the demo's mean)
REQUESTS_PER_VIEWER = 2
LOG_BATCH = 65_536  # rows per log batch, as `LogSource.iter_raw` reads them
OUTPUTS = tuple(
    (method, head)
    for method in ("shap", "ig")
    for head in ("score", "favorite", "retweet", "reply", "good_click", "negative_feedback")
)


@dataclass(frozen=True, eq=False)
class SyntheticAttributions(PartitionTask):
    """Random long attribution rows of every staged tweet: the writer path of `AttributeTask`
    without a ranker."""

    kind = "attributions"

    features: tuple[str, ...]
    categorical: frozenset[str]
    outputs: tuple[tuple[str, str], ...]  # (method, head) pairs written per tweet
    seed: int = 0

    def job(self) -> dict[str, Any]:
        return {
            "model": "synthetic",
            "layout": "long",
            "outputs": [list(o) for o in self.outputs],
            "seed": self.seed,
        }

    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        k = len(self.features)
        rng = np.random.default_rng([self.seed, len(rows)])
        categorical = np.array([f in self.categorical for f in self.features])
        for frame in _whole_requests(rows):
            n = len(frame)
            values = rng.normal(size=(n, k))
            values[:, categorical] = np.nan
            categories = np.where(categorical, "c" + str(rng.integers(0, 8)), None)
            parts = []
            for method, head in self.outputs:
                score = rng.normal(size=n)
                reference = score - rng.normal(size=n)
                error = np.abs(rng.normal(scale=1e-7, size=n))
                parts.append(
                    pd.DataFrame(
                        {
                            "request_id": np.repeat(frame["request_id"].to_numpy(dtype=object), k),
                            "user_id": np.repeat(frame["user_id"].to_numpy(dtype=object), k),
                            "tweet_id": np.repeat(frame["tweet_id"].to_numpy(dtype=object), k),
                            "vs_tweet_id": None,
                            "model": "synthetic",
                            "head": head,
                            "method": method,
                            "reference": "request",
                            "feature": np.tile(np.array(self.features, dtype=object), n),
                            "feature_value": values.ravel(),
                            "feature_category": np.tile(categories, n),
                            "attribution": rng.normal(size=n * k),
                            "score": np.repeat(score, k),
                            "reference_score": np.repeat(reference, k),
                            "completeness_error": np.repeat(error, k),
                            "completeness_relative": np.repeat(error * 100, k),
                            "converged": True,
                        },
                        columns=list(COLUMNS),
                    )
                )
            yield pd.concat(parts, ignore_index=True), {}


def synthetic_log(tweets: int, seed: int) -> Iterator[pd.DataFrame]:
    """Log rows (ids only) in batches, in time order: requests of ~CANDIDATES tweets, each
    viewer's requests spread over the log."""
    rng = np.random.default_rng(seed)
    requests = max(1, tweets // CANDIDATES)
    viewers = max(1, requests // REQUESTS_PER_VIEWER)
    owner = rng.permutation(np.arange(requests) % viewers)  # each viewer twice, shuffled
    request_of_row = np.minimum(np.arange(tweets) // CANDIDATES, requests - 1)
    for start in range(0, tweets, LOG_BATCH):
        rows = np.arange(start, min(start + LOG_BATCH, tweets))
        request = request_of_row[rows]
        yield pd.DataFrame(
            {
                "request_id": [f"r{r:09d}" for r in request],
                "user_id": [f"u{u:07d}" for u in owner[request]],
                "tweet_id": [f"t{t:010d}" for t in rows],
            }
        )


def quantiles(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values)
    return float(np.median(array)), float(np.percentile(array, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_400_000, help="long attribution rows")
    parser.add_argument(
        "--outputs",
        type=int,
        default=1,
        choices=range(1, len(OUTPUTS) + 1),
        metavar=f"1..{len(OUTPUTS)}",
        help="(method, head) outputs per tweet: 1 (the score's SHAP) to 12 (the demo's deep "
        "ranker: IG and SHAP of 5 heads and the score); fewer tweets for the same rows",
    )
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, help="store folder, kept (a rerun reuses it); default: a temporary one"
    )
    args = parser.parse_args()

    spec = load_spec(DEMO_SPEC)
    features = spec.names
    task = SyntheticAttributions(
        features=features,
        categorical=frozenset(spec.categorical_names),
        outputs=OUTPUTS[: args.outputs],
        seed=args.seed,
    )
    per_tweet = len(features) * args.outputs
    tweets = args.rows // per_tweet
    partitions = default_partitions(tweets)
    scratch = Path(tempfile.mkdtemp(prefix="store-lookup-"))
    root = args.out if args.out is not None else scratch / "store"
    try:
        started = time.perf_counter()
        run = run_partitioned(
            task, root, frames=lambda: synthetic_log(tweets, args.seed),
            input_fingerprint=f"synthetic:{tweets}:{args.seed}", partitions=partitions,
        )  # fmt: skip
        built = time.perf_counter() - started
        size = sum(p.stat().st_size for p in root.glob("part-*.parquet"))
        print(
            f"store: {run.rows_out:,} rows ({tweets:,} tweets x {len(features)} features x "
            f"{args.outputs} output(s)), "
            f"{len(run.markers)} partitions, {size / 2**20:.0f} MiB on disk; "
            + (
                f"built in {built:.0f} s"
                if run.computed
                else f"reused {root} (checked in {built:.0f} s)"
            )
        )

        ids = pd.concat(list(synthetic_log(tweets, args.seed)), ignore_index=True)
        viewers = ids["user_id"].unique()
        rng = np.random.default_rng(args.seed)
        chosen = [str(v) for v in rng.choice(viewers, size=args.lookups, replace=False)]
        per_viewer = ids.groupby("user_id", sort=False).size()

        started = time.perf_counter()
        store = AttributionStore.open(root)
        first = store.store.viewer_rows(chosen[0])
        cold = 1000 * (time.perf_counter() - started)

        timings: dict[str, list[float]] = {}
        cpu_ms: dict[str, list[float]] = {}
        rows: dict[str, list[int]] = {}

        def timed(label: str, call: Any) -> pd.DataFrame | bool:
            cpu = time.process_time()
            began = time.perf_counter()
            result = call()
            timings.setdefault(label, []).append(1000 * (time.perf_counter() - began))
            cpu_ms.setdefault(label, []).append(1000 * (time.process_time() - cpu))
            count = len(result) if isinstance(result, pd.DataFrame) else int(result)
            rows.setdefault(label, []).append(count)
            return result

        for viewer in chosen:
            frame = timed("viewer rows", lambda v=viewer: store.store.viewer_rows(v))
            if (
                not isinstance(frame, pd.DataFrame)
                or len(frame) != per_viewer[viewer] * per_tweet
                or set(frame["user_id"]) != {viewer}
            ):
                raise SystemExit(f"viewer {viewer}: {len(frame)} rows, not its own tweets'")
            request = str(frame["request_id"].iat[-1])
            tweet = str(frame["tweet_id"].iat[-1])
            explanation = timed(
                "explanation (one tweet)",
                lambda v=viewer, r=request, t=tweet: store.rows(
                    model="synthetic",
                    head="score",
                    reference="request",
                    viewer=v,
                    requests=[r],
                    tweet=t,
                ),
            )
            if not isinstance(explanation, pd.DataFrame) or len(explanation) != len(features) * sum(
                head == "score" for _, head in task.outputs
            ):
                raise SystemExit(f"viewer {viewer}: tweet {tweet} has not one row per feature")
            if not timed("covers (held)", lambda v=viewer: store.covers(v)):
                raise SystemExit(f"covers({viewer}) is False")
        for i in range(args.lookups):
            if timed("covers (absent id)", lambda i=i: store.covers(f"nobody-{i}")):
                raise SystemExit("covers() is True for an absent id")
        sample = ids.loc[
            ids["request_id"].isin(rng.choice(ids["request_id"].unique(), size=16, replace=False))
        ]
        requests = sample["request_id"].unique().tolist()
        owners = sample["user_id"].unique().tolist()
        for _ in range(5):
            for label, viewer in (
                ("features sample (16 req.)", owners),
                ("request scan (16 req.)", None),
            ):
                timed(
                    label,
                    lambda v=viewer: store.rows(
                        model="synthetic",
                        head="score",
                        reference="request",
                        viewer=v,
                        requests=requests,
                    ),
                )

        print(f"cold: first open and viewer lookup {cold:.1f} ms ({len(first):,} rows)")
        print(
            f"{'lookup':<28} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} "
            f"{'rows (median)':>14}"
        )
        for label, values in timings.items():
            median, p95 = quantiles(values)
            print(
                f"{label:<28} {len(values):>5} {median:>10.2f} {p95:>8.2f} "
                f"{np.median(cpu_ms[label]):>7.2f} {int(np.median(rows[label])):>14,}"
            )
        print(
            "wall ms: median and 95th percentile; CPU ms: median CPU time of the process (all "
            "DuckDB threads) per lookup, which a busy machine does not inflate"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
