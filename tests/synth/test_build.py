"""The generator: reproducible byte for byte, the committed demo is what it builds, and the deep
ranker it trains beats the baseline on held-out requests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rankaudit.compare.evaluation import evaluate_rankers
from rankaudit.data.readers import read_timelines
from rankaudit.errors import WorkspaceError
from rankaudit.synth.build import build_workspace
from rankaudit.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_reduced_build_is_identical_twice(tmp_path: Path) -> None:
    first = build_workspace(tmp_path / "a" / "ws", users=80, seed=3, max_epochs=2)
    second = build_workspace(tmp_path / "b" / "ws", users=80, seed=3, max_epochs=2)
    assert first.rows == second.rows > 2000
    digest = tree_digest(first.out)
    assert digest == tree_digest(second.out)
    assert {"rankaudit.toml", "features.yaml", "ground_truth.json", "evaluation.json",
            "logs/timelines.parquet", "models/deep/model.safetensors",
            "models/deep/rankaudit-model.json", "models/baseline/heads.json"} <= set(digest)  # fmt: skip
    other = build_workspace(tmp_path / "c" / "ws", users=80, seed=4, max_epochs=2)
    assert tree_digest(other.out)["logs/timelines.parquet"] != digest["logs/timelines.parquet"]


@pytest.mark.slow
def test_committed_demo_is_rebuilt_identically(tmp_path: Path) -> None:
    report = build_workspace(tmp_path / "demo")
    assert tree_digest(report.out) == tree_digest(DEMO)


def test_committed_demo_is_small() -> None:
    assert sum(p.stat().st_size for p in (DEMO / "logs").iterdir()) <= 5_000_000


def test_existing_folder_is_not_replaced_without_force(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="pass --force"):
        build_workspace(tmp_path / "ws", users=20)
    assert (tmp_path / "ws" / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]


def test_deep_beats_baseline_on_held_out_requests() -> None:
    workspace = load_workspace(DEMO)
    frame = read_timelines(workspace.logs, workspace.spec)
    assert workspace.holdout_from is not None
    holdout = frame.loc[frame["served_at"] >= workspace.holdout_from].reset_index(drop=True)
    rankers = {name: workspace.ranker(name) for name in ("baseline", "deep")}
    evaluation = evaluate_rankers(holdout, rankers, workspace.heads)
    assert evaluation.ndcg["deep"] > evaluation.ndcg["baseline"] + 0.05
    for head in workspace.heads:
        deep, baseline = evaluation.heads["deep"][head], evaluation.heads["baseline"][head]
        assert deep["roc_auc"] > baseline["roc_auc"], head
        assert deep["rce"] is not None
        assert baseline["rce"] is not None
        assert deep["rce"] > baseline["rce"], head
