"""`rankaudit fixtures build`: simulate a home timeline and write a complete workspace.

The workspace is assembled in a temporary sibling folder and renamed into place at the end, so
an interrupted build never leaves a half-written workspace behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from rankaudit.compare.evaluation import Evaluation, evaluate_rankers
from rankaudit.data import schema
from rankaudit.data.readers import LogSource, read_timelines
from rankaudit.errors import WorkspaceError
from rankaudit.synth.features import BASELINE_FEATURES, DEMO_SPEC, LOG_SCALED
from rankaudit.synth.train import train_baseline, train_deep
from rankaudit.synth.truth import HEAD_WEIGHTS, GroundTruth
from rankaudit.synth.truth_model import save_truth_model
from rankaudit.synth.world import (
    HOLDOUT_FROM,
    PLANTED_BUG,
    WorldConfig,
    build_world,
    iter_timelines,
    planted_bug_rows,
)

__all__ = ["BuildReport", "build_workspace"]

DEFAULT_USERS = 2000
DEFAULT_SEED = 7
LOGS_FILE = "logs/timelines.parquet"


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote: sizes and the held-out evaluation of its rankers."""

    out: Path
    rows: int
    requests: int
    users: int
    log_bytes: int
    evaluation: Evaluation
    evaluation_clean: Evaluation


def _workspace_toml(name: str) -> str:
    heads = "\n".join(f"{head} = {weight}" for head, weight in HEAD_WEIGHTS.items())
    return f"""# rankaudit workspace written by `rankaudit fixtures build`.
name = "{name}"
logs = "logs"
spec = "features.yaml"
ground_truth = "ground_truth.json"

# Engagement heads and their weights in the final score (score = sum of weight * probability).
[heads]
{heads}

[evaluation]
# Rankers were trained on requests served before this time; later requests are held out.
holdout_from = "{HOLDOUT_FROM.isoformat().replace("+00:00", "Z")}"

# The older system: one LightGBM model per head on the features it had.
[models.baseline]
kind = "lightgbm"
path = "models/baseline/heads.json"

# The multi-task deep ranker (parallel MaskNet with embeddings), trained on all features.
[models.deep]
kind = "torch"
path = "models/deep"

# The simulator's ground-truth engagement model: what an ideal ranker would score.
[models.truth]
kind = "torch"
path = "models/truth"

# The order as served, and newest first.
[models.served]
kind = "logged"

[models.chronological]
kind = "chronological"
"""


def _write_logs(world_config: WorldConfig, path: Path) -> tuple[int, int, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    world = build_world(world_config)
    rows = requests = 0
    writer: pq.ParquetWriter | None = None
    try:
        for frame in iter_timelines(world):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
            rows += len(frame)
            requests += frame[schema.REQUEST_ID].nunique()
    finally:
        if writer is not None:
            writer.close()
    (path.parent.parent / "ground_truth.json").write_text(
        world.ground_truth().to_json(), encoding="utf-8"
    )
    return rows, requests, world_config.users


def build_workspace(
    out: Path,
    *,
    users: int = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    max_epochs: int | None = None,
) -> BuildReport:
    """Simulate `users` viewers, train the demo rankers and write a workspace to `out`.

    Returns the build report with the rankers' held-out evaluation. Refuses to replace a
    non-empty `out` unless `force`. Identical (users, seed) give identical files on one machine;
    on another CPU the trained weights may differ within `rankaudit.synth.rebuild`'s tolerances.
    """
    if users < 10:
        raise WorkspaceError(
            f"The 'users' parameter of fixtures build must be an int >= 10. Got {users} instead."
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise WorkspaceError(f"{out}: exists and is not empty; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        progress(f"simulating {users} viewers (seed {seed})")
        rows, requests, n_users = _write_logs(
            WorldConfig(users=users, seed=seed), staging / LOGS_FILE
        )
        (staging / "features.yaml").write_text(
            "# Feature spec of the demo workspace: every feature a ranker may read.\n"
            + yaml.safe_dump(DEMO_SPEC.to_dict(), sort_keys=False, width=100),
            encoding="utf-8",
        )
        (staging / "rankaudit.toml").write_text(_workspace_toml(out.name), encoding="utf-8")
        source = LogSource.from_path(staging / "logs")
        # Training and evaluation never read the tweet text: leave it on disk.
        needed = [
            *schema.REQUIRED_COLUMNS,
            schema.POSITION,
            *DEMO_SPEC.names,
            *(schema.label_column(h) for h in HEAD_WEIGHTS),
        ]
        frame = read_timelines(source, DEMO_SPEC, columns=list(dict.fromkeys(needed)))
        before = frame[schema.SERVED_AT] < HOLDOUT_FROM
        train, holdout = (
            frame.loc[before].reset_index(drop=True),
            frame.loc[~before].reset_index(drop=True),
        )
        progress(f"training the LightGBM baseline on {len(train)} rows")
        train_baseline(
            train, BASELINE_FEATURES, HEAD_WEIGHTS, staging / "models/baseline", seed=seed
        )
        progress(f"training the deep multi-task ranker on {len(train)} rows")
        train_deep(
            train,
            DEMO_SPEC,
            HEAD_WEIGHTS,
            LOG_SCALED,
            staging / "models/deep",
            seed=seed,
            max_epochs=max_epochs,
        )
        save_truth_model(GroundTruth.load(staging / "ground_truth.json"), staging / "models/truth")
        progress(f"evaluating on {len(holdout)} held-out rows")
        from rankaudit.workspace import load_workspace

        workspace = load_workspace(staging)
        rankers = {
            name: workspace.ranker(name)
            for name in ("baseline", "deep", "truth", "served", "chronological")
        }
        evaluation = evaluate_rankers(holdout, rankers, HEAD_WEIGHTS)
        # Only the simulator knows which rows carry the planted bug: report both views.
        clean = holdout.loc[~planted_bug_rows(holdout)].reset_index(drop=True)
        evaluation_clean = evaluate_rankers(clean, rankers, HEAD_WEIGHTS)
        document = {
            "holdout_from": str(HOLDOUT_FROM),
            "planted_bug": PLANTED_BUG,
            "holdout": evaluation.to_dict(),
            "holdout_without_planted_bug": evaluation_clean.to_dict(),
        }
        (staging / "evaluation.json").write_text(
            json.dumps(document, indent=2, sort_keys=True) + "\n"
        )
        log_bytes = (staging / LOGS_FILE).stat().st_size
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(trash / out.name)
            staging.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(
        out=out,
        rows=rows,
        requests=requests,
        users=n_users,
        log_bytes=log_bytes,
        evaluation=evaluation,
        evaluation_clean=evaluation_clean,
    )
