"""The svmlight/LETOR importer: values for values against the generating data, and every
malformed input named by file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.errors import InputFileError
from rankaudit.scaffold.svmlight import read_svmlight
from tests.scaffold.letor import FEATURES, NEVER, make_letor


@pytest.mark.parametrize("query_file", [False, True])
def test_import_equals_the_generating_values(tmp_path: Path, query_file: bool) -> None:
    letor = make_letor()
    path = letor.write(tmp_path / "train.txt", with_qid=not query_file)
    query = letor.write_query(tmp_path / "train.txt.query") if query_file else None
    log = read_svmlight(path, query=query)
    pd.testing.assert_frame_equal(
        log.to_frame(), letor.expected(query_file=query_file), check_dtype=False
    )
    assert log.feature_names == tuple(f"f{i}" for i in range(1, FEATURES + 1))
    assert log.absent_ids == (NEVER,)
    assert log.single_requests == ()
    # Chunks concatenate to the whole log.
    chunked = pd.concat(list(log.iter_frames(chunk_rows=7)), ignore_index=True)
    pd.testing.assert_frame_equal(chunked, log.to_frame())


def test_sparse_entries_are_zero_and_ids_keep_their_place(tmp_path: Path) -> None:
    # Id 0 is used, so f0 is kept; ids 2 and 4 are never listed and read 0.0.
    path = tmp_path / "z.txt"
    path.write_text("3 qid:7 0:1.5 5:2\n0 qid:7 3:-1\n1.5 qid:9 1:4 # note\n2 qid:9 0:0.25\n")
    frame = read_svmlight(path).to_frame()
    assert list(frame.columns[7:]) == ["f0", "f1", "f2", "f3", "f4", "f5"]
    np.testing.assert_array_equal(
        frame[["f0", "f1", "f2", "f3", "f4", "f5"]].to_numpy(),
        [[1.5, 0, 0, 0, 0, 2], [0, 0, 0, -1, 0, 0], [0, 4, 0, 0, 0, 0], [0.25, 0, 0, 0, 0, 0]],
    )
    assert frame["relevance"].tolist() == [3.0, 0.0, 1.5, 2.0]
    assert frame["request_id"].tolist() == ["7", "7", "9", "9"]
    assert frame["tweet_id"].tolist() == ["d0", "d1", "d2", "d3"]


def test_compressed_file_reads_like_the_plain_one(tmp_path: Path) -> None:
    letor = make_letor(seed=4, queries=3)
    plain = letor.write(tmp_path / "a.txt")
    packed = tmp_path / "a.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    pd.testing.assert_frame_equal(read_svmlight(packed).to_frame(), read_svmlight(plain).to_frame())


def test_single_document_requests_are_listed_or_dropped(tmp_path: Path) -> None:
    letor = make_letor(single=True)
    path = letor.write(tmp_path / "s.txt")
    kept = read_svmlight(path)
    assert kept.single_requests == (str(letor.qids[4]),)
    assert kept.rows == letor.rows
    dropped = read_svmlight(path, drop_single=True)
    assert dropped.dropped_requests == 1
    expected = letor.expected(query_file=False)
    expected = expected[expected["request_id"] != str(letor.qids[4])].reset_index(drop=True)
    # Documents and queries keep their file indices: d-ids and served_at do not shift.
    pd.testing.assert_frame_equal(dropped.to_frame(), expected, check_dtype=False)


GOOD = "2 qid:1 1:0.5 3:1\n0 qid:1 2:3\n"
MALFORMED = {
    "non-numeric value": (GOOD + "1 qid:1 1:abc\n", None, "line 3: the entry '1:abc'"),
    "bad qid": ("# head\n" + GOOD + "1 qid:x 1:1\n", None, "line 4: bad 'qid:x'"),
    "float qid": (GOOD + "1 qid:1.5 1:1\n", None, "line 3: bad 'qid:1.5'"),
    "grade not a number": (GOOD + "high qid:1 1:1\n", None, "line 3: the grade 'high'"),
    "negative grade": (GOOD + "-1 qid:1 1:1\n", None, "line 3: the grade '-1' must be"),
    "NaN value": (GOOD + "1 qid:1 1:nan\n", None, "line 3: the entry '1:nan'"),
    "missing value": (GOOD + "1 qid:1 2\n", None, "line 3: the entry '2' is not <id>:<value>"),
    "ids out of order": (GOOD + "1 qid:1 3:1 2:2\n", None, "line 3: the entry '2:2'"),
    "qid on some lines": (GOOD + "1 1:1\n", None, "line 3: has no qid:"),
    "empty file": ("", None, "no data lines"),
    "only comments": ("# nothing\n\n", None, "no data lines"),
    "no qid, no query file": ("1 1:1\n0 2:1\n", None, "line 1: no qid:"),
    "qid and a query file": (GOOD, "2\n", "a query file"),
    "sizes do not add up": ("1 1:1\n0 2:1\n2 1:3\n", "2\n2\n", "add up to 4 documents"),
    "bad size": ("1 1:1\n0 2:1\n", "2\nmany\n", "line 2: a group size must be"),
    "zero size": ("1 1:1\n0 2:1\n", "0\n2\n", "line 1: a group size must be"),
    "empty query file": ("1 1:1\n0 2:1\n", "\n", "holds no group sizes"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_names_file_and_line(tmp_path: Path, case: str) -> None:
    text, sizes, expected = MALFORMED[case]
    path = tmp_path / "bad.txt"
    path.write_text(text)
    query = None
    if sizes is not None:
        query = tmp_path / "bad.query"
        query.write_text(sizes)
    with pytest.raises(InputFileError) as caught:
        read_svmlight(path, query=query)
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message
    assert str(query if "size" in expected else path) in message
