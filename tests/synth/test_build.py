"""The generator: reproducible byte for byte on one machine, the committed demo is what it builds
on any x86-64 CPU (data byte for byte, trained models within `RebuildTolerance`), and the deep
ranker it trains beats the baseline on held-out requests."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rankaudit.compare.evaluation import evaluate_rankers
from rankaudit.data.readers import read_timelines
from rankaudit.errors import WorkspaceError
from rankaudit.synth.build import BuildReport, build_workspace
from rankaudit.synth.rebuild import RebuildTolerance, compare_rebuild, is_trained_file
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


# torch's CPU kernels by instruction set: "default" is the plain C++ path, what a CPU without
# AVX2 runs; None leaves torch to pick this machine's own (AVX2 or AVX-512).
@pytest.mark.slow
@pytest.mark.parametrize("capability", ["default", None], ids=["aten-default", "own-cpu"])
def test_committed_demo_is_rebuilt_on_any_cpu(tmp_path: Path, capability: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    out = tmp_path / "demo"
    code = (
        "import sys, torch; from pathlib import Path; "
        "from rankaudit.synth.build import build_workspace; "
        "build_workspace(Path(sys.argv[1])); print(torch.backends.cpu.get_cpu_capability())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    used = result.stdout.strip().splitlines()[-1]  # DEFAULT, AVX2 or AVX512
    if capability is not None:
        assert used == capability.upper()
    assert compare_rebuild(out, DEMO) == []


@pytest.fixture(scope="module")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> BuildReport:
    return build_workspace(tmp_path_factory.mktemp("small") / "ws", users=80, seed=3, max_epochs=2)


def copy_of(report: BuildReport, tmp_path: Path) -> Path:
    copy = tmp_path / report.out.name
    shutil.copytree(report.out, copy)
    return copy


def test_rebuild_comparison_accepts_a_copy_and_says_which_file_differs(
    small_build: BuildReport, tmp_path: Path
) -> None:
    copy = copy_of(small_build, tmp_path)
    assert compare_rebuild(copy, small_build.out) == []
    with (copy / "features.yaml").open("a", encoding="utf-8") as handle:
        handle.write("# edited\n")
    (problem,) = compare_rebuild(copy, small_build.out)
    assert problem.startswith("features.yaml: bytes differ")
    (copy / "notes.txt").write_text("extra")
    assert "extra ['notes.txt']" in compare_rebuild(copy, small_build.out)[0]


def test_rebuild_comparison_holds_metrics_to_the_tolerance(
    small_build: BuildReport, tmp_path: Path
) -> None:
    copy = copy_of(small_build, tmp_path)
    document = json.loads((copy / "evaluation.json").read_text())
    committed = document["holdout"]["ndcg"]["deep"]
    document["holdout"]["ndcg"]["deep"] = committed + 0.015  # within 0.02
    document["holdout"]["heads"]["deep"]["favorite"]["rce"] += 1.5  # within 2 points
    (copy / "evaluation.json").write_text(json.dumps(document))
    assert compare_rebuild(copy, small_build.out) == []
    document["holdout"]["ndcg"]["deep"] = committed + 0.03
    document["holdout"]["rows"] += 1
    (copy / "evaluation.json").write_text(json.dumps(document))
    problems = compare_rebuild(copy, small_build.out)
    assert len(problems) == 2
    assert problems[0].startswith("evaluation.json: holdout/ndcg/deep is ")
    assert problems[0].endswith("(tolerance 0.02)")
    assert problems[1].startswith("evaluation.json: holdout/rows is ")


def test_rebuild_comparison_scores_the_trained_models(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    copy = tmp_path / "demo"
    shutil.copytree(DEMO, copy)
    weights = copy / "models/deep/model.safetensors"
    tensors = load_file(weights)
    rng = np.random.default_rng(0)
    noisy = {
        name: (a * (1 + rng.normal(0.0, 1e-4, a.shape))).astype(a.dtype)
        for name, a in tensors.items()
    }
    save_file(noisy, str(weights))  # another CPU's last bits: within the tolerance
    assert compare_rebuild(copy, DEMO) == []
    scrambled = {name: rng.permutation(a.ravel()).reshape(a.shape) for name, a in tensors.items()}
    save_file(scrambled, str(weights))  # another model
    problems = compare_rebuild(copy, DEMO)
    assert problems
    assert all(p.startswith("models/deep: ") for p in problems)
    assert any("rank correlation" in p for p in problems)
    tight = RebuildTolerance(probability=0.0, rank_correlation=1.0)
    save_file(noisy, str(weights))
    assert compare_rebuild(copy, DEMO, tight)  # noise is visible when asked


def test_only_trained_files_may_differ_in_bytes() -> None:
    trained = sorted(name for name in tree_digest(DEMO) if is_trained_file(name))
    assert trained == [
        "evaluation.json", "models/baseline/favorite.txt", "models/baseline/good_click.txt",
        "models/baseline/negative_feedback.txt", "models/baseline/reply.txt",
        "models/baseline/retweet.txt", "models/deep/model.safetensors",
    ]  # fmt: skip


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
