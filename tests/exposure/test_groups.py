"""Groups from log columns, numeric buckets and an author attribute file; one clear error each
for bad specs and files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.errors import InputFileError, ParameterError, SchemaError
from rankaudit.exposure import group_rows, read_author_attributes
from rankaudit.exposure.groups import MISSING, UNLISTED


@pytest.fixture
def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "author_id": ["a1", "a2", "a3", "a1", "a9"],
            "client": ["ios", "web", None, "ios", "web"],
            "followers": [10, 500, 2000, 10, 50_000],
            "in_network": np.array([1, 0, 1, 1, 0], dtype=np.int8),
        }
    )


def test_a_log_column_gives_one_group_per_value(rows: pd.DataFrame) -> None:
    (client, network) = group_rows(rows, ["client", "in_network"])
    assert client.labels == ("ios", "web", MISSING)
    assert client.codes.tolist() == [0, 1, 2, 0, 1]
    assert network.labels == ("0", "1")
    assert network.codes.tolist() == [1, 0, 1, 1, 0]


def test_explicit_and_quantile_buckets(rows: pd.DataFrame) -> None:
    (edges,) = group_rows(rows, ["followers:100,1000,10000"])
    assert edges.labels == ("< 100", "100–1000", "1000–10000", ">= 10000")
    assert edges.codes.tolist() == [0, 1, 2, 0, 3]
    (halves,) = group_rows(rows, ["followers:q2"])
    assert halves.labels == ("< 500", ">= 500")
    assert halves.codes.tolist() == [0, 1, 1, 0, 1]


def test_author_attribute_file(tmp_path: Path, rows: pd.DataFrame) -> None:
    path = tmp_path / "authors.csv"
    pd.DataFrame({"author_id": ["a1", "a2", "a3"], "topic": ["news", "sport", "news"]}).to_csv(
        path, index=False
    )
    table = read_author_attributes(path)
    (topic,) = group_rows(rows, [], attributes=table)
    assert topic.labels == ("news", "sport", UNLISTED)
    assert topic.codes.tolist() == [0, 1, 0, 0, 2]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["nope"], "group column 'nope' is not a column of the log"),
        (["client:q4"], "is not numeric, so it cannot be bucketed"),
        (["followers:5,1"], "bucket edges must be finite and increasing"),
        (["followers:abc"], "buckets must be qN or increasing numbers"),
        ([], "give at least one group"),
    ],
)
def test_bad_specs_say_what_to_fix(rows: pd.DataFrame, specs: list[str], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        group_rows(rows, specs)


def test_bad_attribute_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"must be \.csv or \.parquet"):
        read_author_attributes(tmp_path / "authors.txt")
    with pytest.raises(InputFileError, match="does not exist"):
        read_author_attributes(tmp_path / "missing.csv")
    no_id = tmp_path / "no_id.csv"
    pd.DataFrame({"author": ["a1"], "topic": ["x"]}).to_csv(no_id, index=False)
    with pytest.raises(SchemaError, match="has no 'author_id' column"):
        read_author_attributes(no_id)
    twice = tmp_path / "twice.csv"
    pd.DataFrame({"author_id": ["a1", "a1"], "topic": ["x", "y"]}).to_csv(twice, index=False)
    with pytest.raises(SchemaError, match="lists author 'a1' more than once"):
        read_author_attributes(twice)
