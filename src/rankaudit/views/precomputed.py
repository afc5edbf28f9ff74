"""Precomputed attributions named by a workspace (`attributions = "..."` in rankaudit.toml):
the long Parquet output of `rankaudit attribute`, one file or a folder of them.

Views look rows up here before computing anything: a request's rows are read with the filter
pushed down to the files' row groups (`rankaudit attribute` writes requests in log order, so a
lookup reads a few row groups, not the file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_ds

from rankaudit.attribution import COLUMNS
from rankaudit.errors import InputFileError, SchemaError

__all__ = ["PrecomputedAttributions"]


class PrecomputedAttributions:
    """Rows of precomputed attribution files, filtered on read."""

    def __init__(self, path: Path) -> None:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*.parquet"))
        if not files:
            raise InputFileError(
                f"{path}: no Parquet attribution files (rankaudit attribute --out)"
            )
        try:
            self._dataset = pa_ds.dataset([str(f) for f in files], format="parquet")
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{path}: cannot read attribution files ({exc})") from None
        missing = [c for c in COLUMNS if c not in self._dataset.schema.names]
        if missing:
            raise SchemaError(
                f"{path}: not long attribution output: missing column(s) {', '.join(missing)}; "
                "write it with `rankaudit attribute` without --wide"
            )
        self.path = path
        self.files = tuple(files)

    def rows(
        self,
        *,
        model: str,
        head: str,
        reference: str,
        requests: Sequence[str] | None = None,
        tweet: str | None = None,
        vs_tweet: str | None = None,
        method: str | None = None,
    ) -> pd.DataFrame:
        """The stored rows of `model`, `head` and `reference` (and of the given requests,
        tweet, pair partner and method); an empty frame when there are none."""
        field = pa_ds.field
        condition = (
            (field("model") == model) & (field("head") == head) & (field("reference") == reference)
        )
        if requests is not None:
            condition &= field("request_id").isin([str(r) for r in requests])
        if tweet is not None:
            condition &= field("tweet_id") == tweet
        if vs_tweet is not None:
            condition &= field("vs_tweet_id") == vs_tweet
        if method is not None:
            condition &= field("method") == method
        try:
            table = self._dataset.to_table(filter=condition, columns=list(COLUMNS))
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{self.path}: cannot read attribution files ({exc})") from None
        frame: pd.DataFrame = table.to_pandas()
        return frame
