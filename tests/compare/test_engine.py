"""The population comparison as a partitioned run: the JSON of the in-memory comparison number
for number, a store DuckDB reads, resumed runs that recompute only what a kill lost, and one
line with exit 2 for bad engine options."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.compare import CompareSettings, compare_population, summarize_population
from rankaudit.compare.batch import LOG_ROW, read_scored, run_comparisons
from rankaudit.compare.scoring import SCORE_BLOCK_ROWS, scoped_log, score_with_heads
from rankaudit.store.layout import marker_path, part_path, read_manifest, sha256_file
from rankaudit.workspace import Workspace, load_workspace

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
FAST = CompareSettings(n_bootstrap=200, n_permutations=2000)
FAST_OPTIONS = ("--bootstrap", "200", "--permutations", "2000")
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return load_workspace(DEMO)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["compare", "--workspace", str(DEMO), *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_row_scores_alike_whatever_rows_are_scored_beside_it(workspace: Workspace) -> None:
    rankers, rows, _, _ = scoped_log(workspace, ("baseline", "deep"), "all", "test")
    rows = rows.iloc[: 2 * SCORE_BLOCK_ROWS + 300]
    shuffled = np.random.default_rng(0).permutation(len(rows))
    for ranker in rankers:
        score, probabilities = score_with_heads(ranker, rows)
        moved, moved_probabilities = score_with_heads(ranker, rows.iloc[shuffled])
        alone, _ = score_with_heads(ranker, rows.iloc[1000:1025])
        assert np.array_equal(moved, score[shuffled])
        assert np.array_equal(alone, score[1000:1025])
        assert probabilities is not None
        assert moved_probabilities is not None
        assert np.array_equal(moved_probabilities.to_numpy(), probabilities.to_numpy()[shuffled])


def test_the_engine_path_prints_the_in_memory_json(tmp_path: Path) -> None:
    code, in_memory, err = invoke("--format", "json", *FAST_OPTIONS)
    assert code == 0, err
    store = tmp_path / "comparisons"
    code, partitioned, err = invoke(
        "--format", "json", *FAST_OPTIONS, "--store", str(store), "--partitions", "3"
    )
    assert code == 0, err
    assert partitioned == in_memory
    manifest = read_manifest(store)
    assert manifest is not None
    assert manifest.complete
    assert manifest.partitions == 3
    assert manifest.kind == "comparisons"
    # The store is kept; a second run resumes it, finding every partition finished.
    code, again, err = invoke(
        "--format", "json", *FAST_OPTIONS, "--store", str(store), "--partitions", "3", "--k", "3"
    )
    assert code == 0, err
    assert json.loads(again)["settings"]["k"] == [3]


def test_the_store_holds_one_row_per_tweet_for_duckdb(workspace: Workspace, tmp_path: Path) -> None:
    run = run_comparisons(workspace, tmp_path / "s", scope="holdout", partitions=2)
    assert (run.scope, run.partitions, run.computed) == ("holdout", 2, 2)
    in_memory = compare_population(workspace, settings=FAST)
    assert (run.rows, run.requests) == (in_memory.rows, in_memory.requests)
    glob = str(tmp_path / "s" / "part-*.parquet")
    con = duckdb.connect()
    checked = con.execute(
        f"SELECT count(*), count(DISTINCT request_id), min(position_a), min(position_b), "
        f"max(abs(displacement - (position_a - position_b))), "
        f"max(abs(score_b - (0.5 * b_p_favorite + 1.0 * b_p_retweet + 13.5 * b_p_reply "
        f"+ 11.0 * b_p_good_click - 74.0 * b_p_negative_feedback))), "
        f"min({LOG_ROW}), max({LOG_ROW}), count(DISTINCT {LOG_ROW}) "
        f"FROM read_parquet('{glob}')"
    ).fetchone()
    rows = in_memory.rows
    assert checked is not None
    assert checked[:4] == (rows, in_memory.requests, 1, 1)
    assert checked[4] == 0
    assert checked[5] < 1e-9
    assert checked[6:] == (0, rows - 1, rows)
    columns = set(pd.read_parquet(part_path(tmp_path / "s", 0)).columns)
    assert {"request_id", "user_id", "tweet_id", "served_at", "position", "label_reply",
            "client", "in_network", "score_a", "score_b", "position_a", "position_b",
            "displacement", "relevance", "negative", "a_p_favorite",
            "b_p_negative_feedback"} <= columns  # fmt: skip


def test_a_killed_run_recomputes_only_the_lost_partition(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "s"
    first = run_comparisons(workspace, store, scope="holdout", partitions=4)
    expected = summarize_population(read_scored(store), workspace.spec, FAST).to_dict()
    digest = sha256_file(part_path(store, 2))
    # What a kill while partition 2 was written leaves: no marker, no (renamed) file.
    marker_path(store, 2).unlink()
    part_path(store, 2).unlink()
    again = run_comparisons(workspace, store, scope="holdout", partitions=4)
    assert (first.computed, again.computed) == (4, 1)
    assert sha256_file(part_path(store, 2)) == digest
    resumed = summarize_population(read_scored(store), workspace.spec, FAST).to_dict()
    assert json.dumps(resumed) == json.dumps(expected)
    assert resumed["requests"] == first.requests


def test_another_run_into_the_same_store_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    store = tmp_path / "s"
    run_comparisons(workspace, store, scope="holdout", partitions=2)
    code, _, err = invoke("--store", str(store), "--partitions", "2", "--vs", "served", "deep")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "holds another run's output" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--engine", "bogus"), "unknown engine 'bogus'; valid: local, ray"),
        (("--store", "{tmp}/s", "--partitions", "0"), "'partitions' parameter"),
        (("--store", "{tmp}/file.txt"), "is a file"),
        (("--partitions", "2"), "--partitions applies to a partitioned run"),
        (("--address", "localhost:6379"), "--address applies to --engine ray only"),
        (("--user", "u1", "--store", "{tmp}/s"), "apply to the population comparison"),
        (("--request", "r1", "--engine", "ray"), "apply to the population comparison"),
    ],
)
def test_bad_engine_options_give_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("not a folder\n")
    code, out, err = invoke(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1, err
    assert err.strip().startswith("error: ")
    assert message in err
    assert not (tmp_path / "s").exists()
