"""Profiles: exact sums and shares from hand-made attributions, seeded bootstrap, a JSON file
that reads back to the same values, and one clear error per malformed file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.drift import (
    DRIFT_SETTINGS,
    RequestSums,
    attribute_requests,
    build_profile,
    profile_model,
    read_profile,
    request_sums,
)
from rankaudit.errors import InputFileError, NotFoundError, ParameterError
from rankaudit.importance import importance_table, sample_requests
from rankaudit.models.threads import torch_threads
from rankaudit.workspace import load_workspace
from tests.drift.conftest import SHARES, synthetic_profile, synthetic_sums


def _long() -> pd.DataFrame:
    """Two requests (r2 stored first), three rows, two features, head `score`."""
    rows = [
        ("r2", "t1", "x", 2.0), ("r2", "t1", "y", -1.0),
        ("r1", "t2", "x", -1.0), ("r1", "t2", "y", 3.0),
        ("r1", "t3", "x", 1.0), ("r1", "t3", "y", 0.0),
    ]  # fmt: skip
    return pd.DataFrame(
        [
            {"request_id": r, "tweet_id": t, "model": "m", "method": "ig",
             "reference": "request", "head": "score", "feature": f, "attribution": a,
             "completeness_relative": 0.01}
            for r, t, f, a in rows
        ]
    )  # fmt: skip


def test_request_sums_are_exact() -> None:
    sums = request_sums(_long(), heads=["score"])
    assert sums.requests == ("r1", "r2")
    assert sums.features == ("x", "y")
    assert sums.rows.tolist() == [2, 1]
    assert sums.magnitude[0].tolist() == [[2.0, 3.0], [2.0, 1.0]]
    assert sums.signed[0].tolist() == [[0.0, 3.0], [2.0, -1.0]]
    assert len(sums.completeness["score"]) == 3
    with pytest.raises(ParameterError, match="beyond the profiled"):
        request_sums(_long(), heads=["reply"])


def test_build_profile_matches_importance_table() -> None:
    frame = _long()
    profile = build_profile(
        request_sums(frame, heads=["score"]), method="ig", reference="request",
        settings=DRIFT_SETTINGS, replicates=50, seed=3,
    )  # fmt: skip
    table = profile.to_frame()
    # mean |a|: x = 4/3, y = 4/3 (a tie, broken by name); shares 0.5 each.
    assert table["feature"].tolist() == ["x", "y"]
    assert table["rank"].tolist() == [1, 2]
    assert table["mean_abs"].tolist() == pytest.approx([4 / 3, 4 / 3])
    assert table["share"].tolist() == pytest.approx([0.5, 0.5])
    assert table["signed_mean"].tolist() == pytest.approx([2 / 3, 2 / 3])
    reference = importance_table(frame)
    assert reference["mean_abs"].tolist() == pytest.approx(table["mean_abs"].tolist())
    assert reference["share"].tolist() == pytest.approx(table["share"].tolist())
    assert profile.replicates["score"].shape == (50, 2)
    assert profile.metadata["sample"] == {"rows": 3, "requests": 2}


def test_bootstrap_interval_covers_the_share_and_is_seeded() -> None:
    sums = synthetic_sums(requests=400, seed=1)
    profile = build_profile(sums, method="ig", reference="request", settings=DRIFT_SETTINGS)
    again = build_profile(sums, method="ig", reference="request", settings=DRIFT_SETTINGS)
    other = build_profile(sums, method="ig", reference="request", settings=DRIFT_SETTINGS, seed=9)
    table = profile.to_frame().set_index("feature")
    assert (table["share_low"] <= table["share"]).all()
    assert (table["share"] <= table["share_high"]).all()
    # 400 requests of ~25 rows: every share within 0.01 of its expected value.
    expected = dict(zip("abcdefgh", SHARES, strict=True))
    assert table["share"].to_dict() == pytest.approx(expected, abs=0.01)
    assert table.index.tolist() == list("abcdefgh")  # ranks follow the shares
    assert np.array_equal(profile.replicates["score"], again.replicates["score"])
    assert not np.array_equal(profile.replicates["score"], other.replicates["score"])
    # Replicates are stored in parts per million: each resample's shares sum to 1 +- 1e-5.
    assert np.abs(profile.replicates["score"].sum(axis=1) - 1).max() < 1e-5


def test_build_profile_validates_its_parameters() -> None:
    sums = synthetic_sums(requests=10)
    with pytest.raises(ParameterError, match="'replicates' parameter of build_profile"):
        build_profile(sums, method="ig", reference="request", settings={}, replicates=5)
    with pytest.raises(ParameterError, match="'confidence' parameter"):
        build_profile(sums, method="ig", reference="request", settings={}, confidence=1.0)
    with pytest.raises(ParameterError, match="at least 2 requests"):
        build_profile(sums.select(["r00000"]), method="ig", reference="request", settings={})


def test_request_sums_select_and_concat_round_trip() -> None:
    sums = synthetic_sums(requests=6)
    first, second = sums.select(sums.requests[3:]), sums.select(sums.requests[:3])
    joined = RequestSums.concat([first, second])
    assert joined.requests == sums.requests
    assert np.array_equal(joined.magnitude, sums.magnitude)
    assert np.array_equal(joined.rows, sums.rows)
    with pytest.raises(ParameterError, match="'nope' is not in these sums"):
        sums.select(["nope"])


def test_profile_json_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    profile = synthetic_profile(seed=4, heads=("favorite", "score"))
    path = profile.write(tmp_path / "p.json")
    text = path.read_text()
    assert text == synthetic_profile(seed=4, heads=("favorite", "score")).to_json()
    assert not list(tmp_path.glob(".*.tmp"))
    back = read_profile(path)
    assert back.heads == ("favorite", "score")
    assert back.features == profile.features
    for head in back.heads:
        assert np.array_equal(back.replicates[head], profile.replicates[head])
        assert back.shares(head) == pytest.approx(profile.shares(head), rel=1e-6)
    pd.testing.assert_frame_equal(
        back.to_frame()[["head", "feature", "rank"]],
        profile.to_frame()[["head", "feature", "rank"]],
    )
    assert back.label == f"{path} (model m)"
    document = json.loads(text)
    assert document["format"] == "rankaudit-drift-profile"
    assert len(document["share_replicates_ppm"]["score"]["a"]) == 200
    # One line per replicate list keeps the file small and diffs readable.
    assert len(text.splitlines()) < 300


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "profile file not found"),
        ("{not json", "not valid JSON (line 1"),
        ('{"format": "other"}', 'not a drift profile: expected "format"'),
        ('{"format": "rankaudit-drift-profile", "version": 99}', "version 99 is not supported"),
        ('{"format": "rankaudit-drift-profile", "version": 1}', "missing key 'method'"),
    ],
)
def test_read_profile_names_the_file_and_the_problem(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputFileError, match=r"p\.json: ") as info:
        read_profile(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_read_profile_rejects_tampered_tables(tmp_path: Path) -> None:
    document = json.loads(synthetic_profile().to_json())
    document["importance"]["score"][0]["share"] = "high"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputFileError, match=r"importance.score\[0\].share must be a finite"):
        read_profile(path)
    document = json.loads(synthetic_profile().to_json())
    del document["share_replicates_ppm"]["score"]["h"]
    path.write_text(json.dumps(document))
    with pytest.raises(
        InputFileError, match=r"share_replicates_ppm\.score must list every feature"
    ):
        read_profile(path)


def test_profile_model_on_a_linear_workspace(make_workspace: Callable[..., Path]) -> None:
    workspace = load_workspace(make_workspace())
    profile = profile_model(workspace, "baseline", sample=200, seed=1, replicates=50)
    again = profile_model(workspace, "baseline", sample=200, seed=1, replicates=50)
    assert profile.heads == ("score",)
    assert set(profile.features) == {"topic_similarity", "real_graph_weight", "tweet_age_minutes"}
    assert (
        profile.to_json().split('"rankaudit_version"')[1]
        == again.to_json().split('"rankaudit_version"')[1]
    )  # byte-identical apart from the creation time
    meta = profile.metadata
    assert meta["model"]["kind"] == "linear"
    assert len(meta["model"]["fingerprint"]) == 64
    assert len(meta["data"]["fingerprint"]) == 64
    assert meta["sample"]["rows"] >= 200
    assert meta["sample"]["seed"] == 1
    assert meta["completeness"]["score"]["median_relative_error"] == pytest.approx(0, abs=1e-9)
    late = profile_model(
        workspace, "baseline", sample=200, seed=1, replicates=50,
        window=(pd.Timestamp("2026-11-08T00:00:00Z"), None),
    )  # fmt: skip
    assert late.metadata["data"]["window"]["since"] == "2026-11-08T00:00:00+00:00"
    assert late.metadata["data"]["fingerprint"] != meta["data"]["fingerprint"]
    with pytest.raises(NotFoundError, match="no requests served in"):
        profile_model(workspace, "baseline", window=(pd.Timestamp("2031-01-01"), None))


def test_torch_threads_sets_and_restores() -> None:
    import torch

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    threads = torch_threads(0)
    with pytest.raises(ParameterError, match="'threads' parameter must be an int >= 1"):
        threads.__enter__()


def test_a_request_is_explained_alike_in_any_batch() -> None:
    """What the false-alarm benchmark relies on: splitting attributed requests equals
    profiling each part on its own (request baselines are seeded by the request id)."""
    demo = load_workspace(Path(__file__).resolve().parents[2] / "fixtures" / "demo")
    rows = sample_requests(demo, 300, seed=5)
    together = attribute_requests(demo, "deep", rows)
    first = list(together.requests[: len(together.requests) // 2])
    apart = RequestSums.concat(
        [
            attribute_requests(demo, "deep", rows.loc[rows["request_id"].isin(part)])
            for part in (first, [r for r in together.requests if r not in first])
        ]
    )
    assert apart.requests == together.requests
    np.testing.assert_allclose(apart.magnitude, together.magnitude, rtol=1e-6)
    np.testing.assert_array_equal(apart.rows, together.rows)
