"""Batch runs cut the log at request boundaries into bounded batches."""

from __future__ import annotations

import pandas as pd

from rankaudit.attribution.batch import _whole_requests


def test_batches_hold_whole_requests_of_about_the_batch_size() -> None:
    sizes = {"r1": 3, "r2": 2, "r3": 4, "r4": 1, "r5": 6}
    frame = pd.DataFrame({"request_id": [r for r, n in sizes.items() for _ in range(n)]})
    parts = list(_whole_requests(frame, rows=4))
    assert [p["request_id"].unique().tolist() for p in parts] == [
        ["r1", "r2"],
        ["r3"],
        ["r4", "r5"],  # a part closes at the first request boundary past 4 rows
    ]
    assert pd.concat(parts, ignore_index=True).equals(frame)
    assert [p.index[0] for p in parts] == [0, 0, 0]
    assert list(_whole_requests(frame.iloc[:0])) == []
