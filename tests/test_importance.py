"""Global importance: a hand-made long frame gives exact shares and ranks; samples are whole,
seeded, windowed requests; a linear model's importance matches its closed form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.attribution import AttributionSettings
from rankaudit.errors import AttributionError, NotFoundError, ParameterError
from rankaudit.importance import (
    IMPORTANCE_COLUMNS,
    attribute_sample,
    importance_table,
    request_keys,
    sample_requests,
)
from rankaudit.workspace import load_workspace
from tests.conftest import LINEAR_COEFFICIENTS, LINEAR_FEATURES


def _long(rows: list[tuple[str, str, str, float]], head: str = "score") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": "m", "method": "ig", "reference": "request", "head": head,
             "request_id": r, "tweet_id": t, "feature": f, "attribution": a}
            for r, t, f, a in rows
        ]
    )  # fmt: skip


def test_importance_table_gives_exact_shares_ranks_and_signed_means() -> None:
    frame = _long(
        [
            ("r1", "t1", "a", 3.0), ("r1", "t1", "b", -1.0), ("r1", "t1", "c", 0.0),
            ("r1", "t2", "a", -1.0), ("r1", "t2", "b", 1.0), ("r1", "t2", "c", 2.0),
        ]
    )  # fmt: skip
    table = importance_table(frame)
    assert tuple(table.columns) == IMPORTANCE_COLUMNS
    # mean |a|: a = 2, b = 1, c = 1 (a tie with b, broken by name); total 4.
    assert table["feature"].tolist() == ["a", "b", "c"]
    assert table["mean_abs"].tolist() == [2.0, 1.0, 1.0]
    assert table["share"].tolist() == [0.5, 0.25, 0.25]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["signed_mean"].tolist() == [1.0, 0.0, 1.0]
    assert table["rows"].tolist() == [2, 2, 2]


def test_importance_table_keeps_groups_apart_and_handles_all_zero() -> None:
    frame = pd.concat(
        [
            _long([("r", "t", "x", 1.0), ("r", "t", "y", 3.0)], head="score"),
            _long([("r", "t", "x", 0.0), ("r", "t", "y", 0.0)], head="reply"),
        ],
        ignore_index=True,
    )
    table = importance_table(frame)
    assert table["head"].tolist() == ["score", "score", "reply", "reply"]
    assert table["feature"].tolist() == ["y", "x", "x", "y"]
    assert table["share"].tolist() == [0.75, 0.25, 0.0, 0.0]
    assert table["rank"].tolist() == [1, 2, 1, 2]
    assert importance_table(frame.iloc[:0]).columns.tolist() == list(IMPORTANCE_COLUMNS)


def test_request_keys_are_seeded_and_stable() -> None:
    keys = request_keys(["r1", "r2", "r3"], seed=1)
    assert keys.dtype == np.uint64
    assert np.array_equal(keys, request_keys(pd.Series(["r1", "r2", "r3"]), seed=1))
    assert not np.array_equal(keys, request_keys(["r1", "r2", "r3"], seed=2))
    assert request_keys(["r2"], seed=1)[0] == keys[1]  # independent of its neighbours


def test_sample_requests_takes_whole_requests_deterministically(
    make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    workspace = load_workspace(make_workspace())
    sizes = tiny_log.groupby("request_id").size()
    first = sample_requests(workspace, 100, seed=5)
    again = sample_requests(workspace, 100, seed=5)
    pd.testing.assert_frame_equal(first, again)
    chosen = first["request_id"].unique()
    # Whole requests, and the fewest in key order that reach 100 rows.
    assert first.groupby("request_id").size().to_dict() == sizes[chosen].to_dict()
    order = np.argsort(request_keys(sizes.index, 5), kind="stable")
    cumulative = sizes.iloc[order].cumsum().to_numpy()
    expected = int(np.searchsorted(cumulative, 100) + 1)
    assert len(chosen) == expected
    assert set(chosen) == set(sizes.index[order[:expected]])
    other = sample_requests(workspace, 100, seed=6)
    assert set(other["request_id"]) != set(chosen)
    # A disjoint second sample, and the whole log when asked for more than it holds.
    second = sample_requests(workspace, 100, seed=5, exclude=chosen)
    assert not set(second["request_id"]) & set(chosen)
    assert len(sample_requests(workspace, 10**9, seed=5)) == len(tiny_log)


def test_sample_requests_windows_and_errors(
    make_workspace: Callable[..., Path], tiny_log: pd.DataFrame
) -> None:
    workspace = load_workspace(make_workspace())
    cut = pd.Timestamp("2026-11-08T00:00:00Z")
    late = sample_requests(workspace, 10**9, seed=0, window=(cut, None))
    assert len(late) == int((tiny_log["served_at"] >= cut).sum())
    early = sample_requests(workspace, 10**9, seed=0, window=(None, pd.Timestamp("2026-11-08")))
    assert len(early) + len(late) == len(tiny_log)
    with pytest.raises(NotFoundError, match="no requests served in"):
        sample_requests(workspace, 10, seed=0, window=(pd.Timestamp("2030-01-01"), None))
    with pytest.raises(ParameterError, match="'rows' parameter of sample_requests"):
        sample_requests(workspace, 0, seed=0)


def test_attribute_sample_matches_the_linear_closed_form(
    make_workspace: Callable[..., Path],
) -> None:
    workspace = load_workspace(make_workspace())
    rows = sample_requests(workspace, 60, seed=2)
    result = attribute_sample(
        workspace, "baseline", method="ig", reference="request", heads=None,
        settings=AttributionSettings(), rows=rows,
    )  # fmt: skip
    table = importance_table(result.frame)
    # Exact: attribution = w * (x - mean of the request's candidates).
    expected = {}
    for feature, weight in zip(LINEAR_FEATURES, LINEAR_COEFFICIENTS, strict=True):
        centred = rows[feature] - rows.groupby("request_id")[feature].transform("mean")
        expected[feature] = float((weight * centred).abs().mean())
    got = table.set_index("feature")["mean_abs"].to_dict()
    assert got == pytest.approx(expected, rel=1e-9)
    total = sum(expected.values())
    assert table.set_index("feature")["share"].to_dict() == pytest.approx(
        {f: v / total for f, v in expected.items()}, rel=1e-9
    )
    assert set(table["rows"]) == {len(rows)}
    with pytest.raises(AttributionError, match="'request' or 'global' reference"):
        attribute_sample(
            workspace, "baseline", method="ig", reference="pair", heads=None,
            settings=AttributionSettings(), rows=rows,
        )  # fmt: skip


def test_attribute_sample_against_the_global_background(
    make_workspace: Callable[..., Path],
) -> None:
    from rankaudit.attribution import background_sample

    workspace = load_workspace(make_workspace())
    rows = sample_requests(workspace, 60, seed=2)
    settings = AttributionSettings(background_size=16, seed=3)
    result = attribute_sample(
        workspace, "baseline", method="ig", reference="global", heads=None, settings=settings,
        rows=rows,
    )  # fmt: skip
    background = background_sample(workspace, 16, 3)
    table = importance_table(result.frame).set_index("feature")
    for feature, weight in zip(LINEAR_FEATURES, LINEAR_COEFFICIENTS, strict=True):
        expected = float((weight * (rows[feature] - background[feature].mean())).abs().mean())
        assert table.loc[feature, "mean_abs"] == pytest.approx(expected, rel=1e-9)
    assert set(table["reference"]) == {"global"}


def test_importing_importance_and_drift_is_light() -> None:
    """The web app imports rankaudit.importance; neither it nor rankaudit.drift loads torch."""
    import subprocess
    import sys

    code = (
        "import sys, rankaudit.importance, rankaudit.drift; "
        "print(sorted({'torch', 'shap', 'captum', 'lightgbm', 'dash'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
