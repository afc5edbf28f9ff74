"""The request index answers viewer lookups exactly as the log does."""

from __future__ import annotations

import pandas as pd
import pytest

from rankaudit.data.index import INDEX_COLUMNS, build_viewer_index
from rankaudit.workspace import load_workspace
from tests.app.conftest import DEMO
from tests.conftest import small_log, write_workspace


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return pd.read_parquet(
        DEMO / "logs" / "timelines.parquet", columns=["request_id", "user_id", "served_at"]
    )


def test_index_matches_the_log(log: pd.DataFrame) -> None:
    workspace = load_workspace(DEMO)
    index = build_viewer_index(workspace.logs, workspace.spec)
    expected = (
        log.groupby("request_id")
        .agg(
            user_id=("user_id", "first"),
            served_at=("served_at", "min"),
            candidates=("user_id", "size"),
        )
        .reset_index()
        .sort_values(["user_id", "served_at", "request_id"])
        .reset_index(drop=True)
    )
    assert list(index.requests.columns) == list(INDEX_COLUMNS)
    pd.testing.assert_frame_equal(
        index.requests, expected.loc[:, list(INDEX_COLUMNS)], check_dtype=False
    )
    assert index.rows == len(log)
    assert index.n_users == log["user_id"].nunique()
    user = "u000406"
    mine = log.loc[log["user_id"] == user, "request_id"].unique()
    assert sorted(index.requests_of(user)["request_id"]) == sorted(mine)
    assert index.user_of("r000000819") == user
    assert index.has_user(user)
    assert not index.has_user("u_nobody")
    assert index.user_of("r_nothing") is None
    assert index.requests_of("u_nobody").empty


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("u00040", 3, ["u000400", "u000401", "u000402"]),  # prefix matches, sorted
        ("000406", 5, ["u000406"]),  # then ids containing the text
        ("", 2, ["u000000", "u000001"]),  # nothing typed: the first ids
        ("zz", 5, []),
        ("u0004", 0, []),
    ],
)
def test_search(text: str, limit: int, expected: list[str]) -> None:
    workspace = load_workspace(DEMO)
    index = build_viewer_index(workspace.logs, workspace.spec)
    assert index.search(text, limit=limit) == expected


@pytest.mark.parametrize("log_name", ["timelines.csv", "timelines.jsonl"])
def test_index_reads_every_format(tmp_path: pytest.TempPathFactory, log_name: str) -> None:
    frame = small_log(users=6)
    write_workspace(tmp_path, frame, log_name=log_name)  # type: ignore[arg-type]
    workspace = load_workspace(tmp_path)  # type: ignore[arg-type]
    index = build_viewer_index(workspace.logs, workspace.spec)
    assert index.n_requests == frame["request_id"].nunique()
    assert index.rows == len(frame)
    first = str(frame["request_id"].iat[0])
    assert index.user_of(first) == str(frame["user_id"].iat[0])
