from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankaudit.data import schema
from rankaudit.data.readers import LogSource, iter_timelines, read_timelines
from rankaudit.errors import InputFileError
from rankaudit.synth.features import DEMO_SPEC


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_every_format_reads_to_the_same_prepared_frame(
    tmp_path: Path, tiny_log: pd.DataFrame, suffix: str
) -> None:
    path = tmp_path / f"log{suffix}"
    if suffix == ".parquet":
        tiny_log.to_parquet(path, index=False)
    elif suffix == ".csv":
        tiny_log.to_csv(path, index=False)
    else:
        tiny_log.to_json(path, orient="records", lines=True, date_format="iso", date_unit="s")
    frame = read_timelines(LogSource.from_path(path), DEMO_SPEC)
    assert len(frame) == len(tiny_log)
    assert frame[schema.REQUEST_ID].tolist() == tiny_log[schema.REQUEST_ID].tolist()
    assert (frame[schema.SERVED_AT] == pd.to_datetime(tiny_log[schema.SERVED_AT], utc=True)).all()
    for name in DEMO_SPEC.numeric_names:
        expected = tiny_log[name].astype(np.float64)
        if DEMO_SPEC[name].missing == "fill":
            expected = expected.fillna(DEMO_SPEC[name].fill_value)
        np.testing.assert_allclose(frame[name].to_numpy(), expected.to_numpy(), rtol=1e-6)
        assert frame[name].dtype == np.float64
    assert frame["client"].tolist() == tiny_log["client"].tolist()


def test_streaming_batches_are_bounded_and_cover_every_row(
    tmp_path: Path, tiny_log: pd.DataFrame
) -> None:
    tiny_log.to_parquet(tmp_path / "a.parquet", index=False, row_group_size=100)
    tiny_log.to_parquet(tmp_path / "b.parquet", index=False, row_group_size=100)
    source = LogSource.from_path(tmp_path)
    assert [p.name for p in source.files] == ["a.parquet", "b.parquet"]
    sizes = [len(b) for b in iter_timelines(source, DEMO_SPEC, batch_rows=250)]
    assert max(sizes) <= 250
    assert sum(sizes) == 2 * len(tiny_log)


def test_filter_by_user_returns_exactly_that_users_rows(
    tmp_path: Path, tiny_log: pd.DataFrame
) -> None:
    tiny_log.to_parquet(tmp_path / "a.parquet", index=False, row_group_size=100)
    tiny_log.to_csv(tmp_path / "a.csv", index=False)
    user = tiny_log[schema.USER_ID].iloc[17]
    expected = tiny_log.loc[tiny_log[schema.USER_ID] == user, schema.TWEET_ID].tolist()
    for fmt in ("parquet", "csv"):
        frame = read_timelines(
            LogSource.from_path(tmp_path, fmt), DEMO_SPEC, where=(schema.USER_ID, [user])
        )
        assert frame[schema.TWEET_ID].tolist() == expected


def test_mixed_formats_in_one_folder_need_an_explicit_format(
    tmp_path: Path, tiny_log: pd.DataFrame
) -> None:
    tiny_log.head(5).to_parquet(tmp_path / "a.parquet", index=False)
    tiny_log.head(5).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputFileError, match="several formats"):
        LogSource.from_path(tmp_path)
    assert LogSource.from_path(tmp_path, "csv").files == (tmp_path / "b.csv",)


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file")
    with pytest.raises(InputFileError, match=r"broken\.parquet"):
        list(LogSource.from_path(path).iter_raw())
