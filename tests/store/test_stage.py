"""Staging routes rows to viewer partitions with bounded memory: however small the buffer,
each partition reads back exactly its rows, in input order within a viewer's request."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rankaudit.store import partition_of, read_staged, stage_rows, staged_input
from tests.conftest import small_log


def test_a_small_buffer_spills_chunks_and_reads_back_the_same_rows(tmp_path: Path) -> None:
    log = small_log(users=12, seed=4)
    frames = [log.iloc[i : i + 97] for i in range(0, len(log), 97)]  # requests cut across frames
    roomy = stage_rows(frames, tmp_path / "roomy", 3, "f")
    tight = stage_rows(frames, tmp_path / "tight", 3, "f", buffer_bytes=20_000)
    assert roomy.rows == tight.rows
    assert sum(tight.rows.values()) == len(log)
    chunks = sorted(
        p.relative_to(tight.directory).as_posix() for p in tight.directory.rglob("*.parquet")
    )
    assert len(chunks) > len(tight.rows)  # the tight buffer spilled several chunks per partition
    expected_partitions = partition_of(log["user_id"], 3)
    for index in tight.rows:
        got = read_staged(tight, index)
        pd.testing.assert_frame_equal(got, read_staged(roomy, index))
        mine = log.loc[expected_partitions == index]
        expected = mine.sort_values(["user_id", "request_id"], kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # A complete staging is found again; another input's fingerprint is not it.
    assert staged_input(tmp_path / "tight", 3, "f") == tight
    assert staged_input(tmp_path / "tight", 3, "other") is None
    assert staged_input(tmp_path / "tight", 4, "f") is None
