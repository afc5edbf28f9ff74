"""Store lookups through DuckDB: exactly a viewer's rows, from the viewer's partition only."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rankaudit.attribution import COLUMNS, plan_attribution, run_attribution
from rankaudit.engine import PartitionTask, run_partitioned
from rankaudit.errors import InputFileError
from rankaudit.store import part_path, partition_of
from rankaudit.store.query import AttributionStore, Store
from rankaudit.workspace import load_workspace
from tests.store.conftest import DEMO_LOG, PARTITIONS, demo_workspace


def _absent_viewer(store: Store, *, finished: bool) -> str:
    """An id of no demo viewer whose partition is (or is not) finished."""
    for i in range(10_000):
        name = f"nobody-{i}"
        if store.finished(store.partition(name)) == finished:
            return name
    raise AssertionError("no such id")


def _one_line_error(excinfo: pytest.ExceptionInfo[InputFileError], path: Path) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(str(path))


def test_a_viewer_lookup_returns_exactly_the_viewers_rows(
    baseline_store: Path, store_viewers: list[str]
) -> None:
    store = AttributionStore.open(baseline_store)
    everything = pd.read_parquet(baseline_store)
    assert list(everything.columns) == list(COLUMNS)
    assert set(everything["user_id"]) == set(store_viewers)
    assert store.model == "baseline"
    assert store.label == "store (store)"
    for viewer in store_viewers:
        expected = everything.loc[everything["user_id"] == viewer].reset_index(drop=True)
        got = store.store.viewer_rows(viewer)
        assert len(got) == len(expected) > 0
        pd.testing.assert_frame_equal(got, expected)
        # The attribution filters match pandas' on the same rows.
        request = str(expected["request_id"].iat[-1])
        tweet = str(expected.loc[expected["request_id"] == request, "tweet_id"].iat[0])
        for filters in (
            {"head": "score"},
            {"head": "reply", "requests": [request]},
            {"head": "score", "requests": [request], "tweet": tweet, "method": "shap"},
        ):
            want = expected.loc[expected["head"] == filters["head"]]
            if "requests" in filters:
                want = want.loc[want["request_id"].isin(filters["requests"])]
            if "tweet" in filters:
                want = want.loc[want["tweet_id"] == filters["tweet"]]
            got = store.rows(model="baseline", reference="request", viewer=viewer, **filters)
            assert len(got) == len(want) > 0
            pd.testing.assert_frame_equal(got, want.reset_index(drop=True))
        # Without the viewer, a request is found by scanning every partition.
        by_request = store.rows(
            model="baseline", head="score", reference="request", requests=[request]
        )
        pd.testing.assert_frame_equal(
            by_request,
            everything.loc[
                (everything["request_id"] == request) & (everything["head"] == "score")
            ].reset_index(drop=True),
        )


def test_lookups_that_match_nothing_are_empty_with_the_columns(baseline_store: Path) -> None:
    store = AttributionStore.open(baseline_store)
    viewer = pd.read_parquet(baseline_store, columns=["user_id"])["user_id"].iat[0]
    for frame in (
        store.store.viewer_rows(_absent_viewer(store.store, finished=True)),
        store.store.viewer_rows(_absent_viewer(store.store, finished=False)),
        store.rows(model="deep", head="score", reference="request", viewer=viewer),
        store.rows(model="baseline", head="score", reference="global", viewer=viewer),
        store.rows(model="baseline", head="score", reference="request", viewer=viewer, requests=[]),
    ):
        assert frame.empty
        assert list(frame.columns) == list(COLUMNS)


def test_covers_says_whether_the_store_holds_the_viewer(
    baseline_store: Path, store_viewers: list[str]
) -> None:
    store = Store.open(baseline_store, kind="attributions")
    assert store.partitions == PARTITIONS
    finished = sorted(i for i in range(PARTITIONS) if store.finished(i))
    assert finished == sorted(store.partition(v) for v in store_viewers)
    assert all(store.covers(v) for v in store_viewers)
    # A viewer hashed to a finished partition that does not hold them, or to an unfinished one.
    assert not store.covers(_absent_viewer(store, finished=True))
    assert not store.covers(_absent_viewer(store, finished=False))
    log = pd.read_parquet(DEMO_LOG, columns=["user_id"])
    others = log.loc[~log["user_id"].isin(store_viewers), "user_id"].unique()[:20]
    assert not any(store.covers(str(v)) for v in others)


def test_concurrent_lookups_return_the_same_rows(
    baseline_store: Path, store_viewers: list[str]
) -> None:
    store = Store.open(baseline_store)
    expected = {v: store.viewer_rows(v) for v in store_viewers}
    failures: list[str] = []

    def look(viewer: str) -> None:
        for _ in range(5):
            if not store.viewer_rows(viewer).equals(expected[viewer]):
                failures.append(viewer)

    threads = [threading.Thread(target=look, args=(v,)) for v in store_viewers * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@dataclass(frozen=True, eq=False)
class _Candidates(PartitionTask):
    """A comparisons-like store: one row per candidate tweet."""

    kind = "comparisons"

    def job(self) -> dict[str, Any]:
        return {"task": "candidates"}

    def pieces(self, rows: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, Mapping[str, Any]]]:
        yield rows[["user_id", "request_id", "tweet_id", "position"]], {}


def test_any_kind_of_store_is_read_by_viewer(tmp_path: Path, store_viewers: list[str]) -> None:
    log = pd.read_parquet(DEMO_LOG)
    log = log.loc[log["user_id"].isin(store_viewers)].reset_index(drop=True)
    run_partitioned(
        _Candidates(), tmp_path / "comparisons", frames=lambda: [log], input_fingerprint="x",
        partitions=PARTITIONS,
    )  # fmt: skip
    store = Store.open(tmp_path / "comparisons", kind="comparisons")
    for viewer in store_viewers:
        expected = log.loc[
            log["user_id"] == viewer, ["user_id", "request_id", "tweet_id", "position"]
        ]
        expected = expected.sort_values(["user_id", "request_id"], kind="stable")
        pd.testing.assert_frame_equal(store.viewer_rows(viewer), expected.reset_index(drop=True))
        assert store.covers(viewer)
    first = log.loc[log["user_id"] == store_viewers[0]]
    narrowed = store.viewer_rows(
        store_viewers[0], where={"request_id": first["request_id"].iat[0]}, columns=["tweet_id"]
    )
    assert (
        narrowed["tweet_id"].tolist()
        == first.loc[first["request_id"] == first["request_id"].iat[0], "tweet_id"].tolist()
    )
    with pytest.raises(InputFileError, match="no column 'score' in this store"):
        store.viewer_rows(store_viewers[0], where={"score": 1.0})
    with pytest.raises(InputFileError, match="a store of comparisons, not of attributions"):
        AttributionStore.open(tmp_path / "comparisons")


def test_wide_stores_and_other_folders_are_refused(
    tmp_path: Path, store_viewers: list[str]
) -> None:
    workspace = load_workspace(demo_workspace(tmp_path / "ws", users=store_viewers[:1]))
    plan = plan_attribution(
        workspace, "baseline", method="all", reference="request", out=tmp_path / "wide",
        heads=["reply"], wide=True, partitions=PARTITIONS,
    )  # fmt: skip
    run_attribution(plan)
    with pytest.raises(InputFileError, match="a wide attribution store") as excinfo:
        AttributionStore.open(tmp_path / "wide")
    _one_line_error(excinfo, tmp_path / "wide")
    (tmp_path / "empty").mkdir()
    for path, message in (
        (tmp_path / "empty", "not a rankaudit store"),
        (tmp_path / "missing", "not a folder"),
    ):
        with pytest.raises(InputFileError, match=message) as excinfo:
            AttributionStore.open(path)
        _one_line_error(excinfo, path)


def test_corrupt_or_missing_files_are_one_line_naming_the_file(
    tmp_path: Path, baseline_store: Path, store_viewers: list[str]
) -> None:
    root = tmp_path / "store"
    shutil.copytree(baseline_store, root)
    viewer = store_viewers[0]
    index = int(partition_of(pd.Series([viewer]), PARTITIONS)[0])
    path = part_path(root, index)
    size = path.stat().st_size
    for damage, message in (
        (lambda: path.write_bytes(b"x" * size), "cannot read the store"),  # same size
        (lambda: path.write_bytes(path.read_bytes()[: size // 2]), "corrupt"),
        (lambda: path.unlink(), "missing, but"),
    ):
        damage()
        store = AttributionStore.open(root)
        with pytest.raises(InputFileError, match=message) as excinfo:
            store.rows(model="baseline", head="score", reference="request", viewer=viewer)
        _one_line_error(excinfo, path)
        with pytest.raises(InputFileError, match=message):
            store.covers(viewer)
        # Other partitions are still read.
        assert store.covers(store_viewers[1])
    (root / "_rankaudit_store.json").write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON") as excinfo:
        AttributionStore.open(root)
    _one_line_error(excinfo, root / "_rankaudit_store.json")
