"""Drift profiles explained as a partitioned run: request sums that round-trip through their
long table exactly, the in-memory profile number for number, resumed runs that recompute only
what a kill lost, and one line with exit 2 for bad engine options."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.drift import RequestSums, attribute_requests
from rankaudit.drift.batch import read_request_sums, run_request_sums
from rankaudit.importance import sample_requests
from rankaudit.store.layout import marker_path, part_path, read_manifest
from rankaudit.workspace import load_workspace
from tests.drift.conftest import synthetic_sums

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
runner = CliRunner()


def assert_same_sums(actual: RequestSums, expected: RequestSums) -> None:
    assert (actual.heads, actual.features, actual.requests) == (
        expected.heads,
        expected.features,
        expected.requests,
    )
    assert np.array_equal(actual.rows, expected.rows)
    assert np.array_equal(actual.magnitude, expected.magnitude)
    assert np.array_equal(actual.signed, expected.signed)
    for head in expected.heads:
        assert np.array_equal(actual.completeness[head], expected.completeness[head])


def numbered_sums(requests: int = 40) -> RequestSums:
    """Synthetic sums over two heads whose completeness errors number the rows in order."""
    sums = synthetic_sums(requests=requests, heads=("score", "reply"))
    total = int(sums.rows.sum())
    return RequestSums(
        heads=sums.heads, features=sums.features, requests=sums.requests, rows=sums.rows,
        magnitude=sums.magnitude, signed=sums.signed,
        completeness={"score": np.arange(total) / total, "reply": -np.arange(total) / total},
    )  # fmt: skip


def test_request_sums_round_trip_through_their_long_table() -> None:
    sums = numbered_sums()
    frame = sums.to_frame()
    assert list(frame.columns) == [
        "request_id", "head", "feature", "magnitude", "signed", "rows", "completeness",
    ]  # fmt: skip
    assert len(frame) == 2 * 40 * len(sums.features)
    assert frame["completeness"].notna().sum() == 2 * 40  # one list per request and head
    assert_same_sums(RequestSums.from_frame(frame, heads=sums.heads), sums)
    # Disjoint batches, concatenated in any order, give the same sums and errors per request.
    split = np.cumsum(sums.rows)[:-1]
    odd, even = (
        replace(
            sums.select(sums.requests[picked]),
            completeness={
                h: np.concatenate(np.split(sums.completeness[h], split)[picked]) for h in sums.heads
            },
        )
        for picked in (slice(1, None, 2), slice(None, None, 2))
    )
    assert_same_sums(RequestSums.concat([odd, even]), sums)
    halves = [RequestSums.from_frame(p.to_frame(), heads=sums.heads) for p in (even, odd)]
    both = pd.concat([p.to_frame() for p in (odd, even)], ignore_index=True)
    assert_same_sums(RequestSums.from_frame(both, heads=sums.heads), sums)
    assert_same_sums(RequestSums.concat(halves), sums)


def profile(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        ["drift", "profile", "--workspace", str(DEMO), "--model", "deep", "--sample", "1500",
         "--replicates", "30", *args],
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def without_creation_time(path: Path) -> dict[str, object]:
    document = json.loads(path.read_text())
    assert isinstance(document.pop("created_at"), str)
    return dict(document)


def test_the_engine_path_writes_the_in_memory_profile(tmp_path: Path) -> None:
    code, _, err = profile("--out", str(tmp_path / "memory.json"))
    assert code == 0, err
    work = tmp_path / "sums"
    code, out, err = profile(
        "--out", str(tmp_path / "engine.json"), "--work-dir", str(work), "--partitions", "3"
    )
    assert code == 0, err
    assert "wrote" in out
    engine = without_creation_time(tmp_path / "engine.json")
    assert engine == without_creation_time(tmp_path / "memory.json")
    manifest = read_manifest(work)
    assert manifest is not None
    assert manifest.complete
    assert manifest.kind == "request-sums"
    assert manifest.partitions == 3


def test_a_killed_run_recomputes_only_the_lost_partition(tmp_path: Path) -> None:
    workspace = load_workspace(DEMO)
    rows = sample_requests(workspace, 1200, seed=1)
    expected = attribute_requests(workspace, "deep", rows)
    first = run_request_sums(workspace, "deep", rows, out=tmp_path, partitions=3)
    assert_same_sums(read_request_sums(tmp_path), expected)
    marker_path(tmp_path, 1).unlink()
    part_path(tmp_path, 1).unlink()
    again = run_request_sums(workspace, "deep", rows, out=tmp_path, partitions=3)
    assert (first.computed, again.computed) == (3, 1)
    assert again.summary == {"requests": len(expected.requests)}
    assert_same_sums(read_request_sums(tmp_path), expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--engine", "bogus"), "unknown engine 'bogus'; valid: local, ray"),
        (("--work-dir", "{tmp}/w", "--partitions", "0"), "'partitions' parameter"),
        (("--work-dir", "{tmp}/file.txt"), "is a file"),
        (("--partitions", "2"), "--partitions applies to a partitioned run"),
        (("--num-workers", "2"), "--num-workers applies to a partitioned run"),
        (("--address", "localhost:6379"), "--address applies to --engine ray only"),
    ],
)
def test_bad_engine_options_give_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("not a folder\n")
    code, out, err = profile(
        "--out", str(tmp_path / "p.json"), *(a.replace("{tmp}", str(tmp_path)) for a in args)
    )
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1, err
    assert err.strip().startswith("error: ")
    assert message in err
    assert not (tmp_path / "w").exists()
    assert not (tmp_path / "p.json").exists()


def test_check_takes_engine_options_only_to_profile_a_model(tmp_path: Path) -> None:
    profile_path = tmp_path / "p.json"
    profile_path.write_text("{}")
    result = runner.invoke(
        app,
        ["drift", "check", "--reference", str(profile_path), "--current", str(profile_path),
         "--work-dir", str(tmp_path / "w")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "apply to --model only" in result.stderr
