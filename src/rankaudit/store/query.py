"""Read a partitioned store (`rankaudit.store.layout`) through DuckDB, embedded and in memory.

A viewer's rows sit in one partition, so a viewer lookup hashes the id (`partition_of`) and
queries that partition's file only; within the file rows are sorted by viewer, so DuckDB reads
the row groups whose statistics can hold the viewer, not the file. Lookups without a viewer
(a sample of requests) scan every finished file with the filters pushed down.

Only finished partitions (those with a `_done/` marker) are read, so a store still being
written answers for what it holds. Values are bound as query parameters, never written into
the SQL text. `Store` is generic (any kind: attributions, comparisons, ...); `AttributionStore`
adds the filters of long attribution rows.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rankaudit.data import schema
from rankaudit.errors import InputFileError
from rankaudit.store.layout import (
    MANIFEST,
    Manifest,
    PartitionMarker,
    marker_path,
    part_path,
    partition_of,
    read_manifest,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["COLUMNS", "AttributionStore", "Store", "Value", "open_attribution_stores"]

#: Columns of the long attribution format, in order (documented in README, "Attribution
#: output"); `rankaudit.attribution.result` writes them. They live here, in the store layer
#: below the attribution package, so that reading a store never imports the attribution code.
COLUMNS = (
    "request_id", "user_id", "tweet_id", "vs_tweet_id", "model", "head", "method", "reference",
    "feature", "feature_value", "feature_category", "attribution", "score", "reference_score",
    "completeness_error", "completeness_relative", "converged",
)  # fmt: skip

#: A value a column is compared with: one value (=) or a collection of them (IN).
Value: TypeAlias = str | int | float | bool


def _identifier(column: str) -> str:
    """`column` quoted as an SQL identifier (names come from the store's own schema)."""
    return '"' + column.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Store:
    """A store folder opened for reading (see the module docstring). Thread-safe: each query
    runs on its own cursor of one in-memory DuckDB database, which caches Parquet footers."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self._lock = threading.Lock()
        self._database: duckdb.DuckDBPyConnection | None = None
        self._markers: dict[int, PartitionMarker] = {}
        self._schema: pa.Schema | None = None

    @classmethod
    def open(cls, root: Path | str, *, kind: str | None = None) -> Store:
        """The store at `root`; with `kind`, it must hold that kind. Raises InputFileError
        naming the folder when it is no store (or another kind), or its manifest is broken."""
        path = Path(root)
        if not path.is_dir():
            raise InputFileError(f"{path}: not a folder; a store is the folder `--out` names")
        manifest = read_manifest(path)
        if manifest is None:
            raise InputFileError(
                f"{path}: not a rankaudit store (no {MANIFEST}); write one with "
                "`rankaudit attribute --out DIR`"
            )
        if kind is not None and manifest.kind != kind:
            raise InputFileError(
                f"{path}: a store of {manifest.kind}, not of {kind}; name a store of {kind}"
            )
        if manifest.partitions < 1:
            raise InputFileError(
                f"{path / MANIFEST}: malformed store manifest (partitions {manifest.partitions})"
            )
        return cls(path, manifest)

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def partitions(self) -> int:
        return self.manifest.partitions

    def partition(self, viewer: str) -> int:
        """The partition holding `viewer`'s rows."""
        return int(partition_of(pd.Series([str(viewer)]), self.partitions)[0])

    def finished(self, index: int) -> bool:
        """Whether partition `index` is finished (its marker exists)."""
        return self._marker(index) is not None

    def covers(self, viewer: str) -> bool:
        """Whether the store holds `viewer`'s rows: the viewer's partition is finished and has
        at least one row of the viewer."""
        index = self.partition(viewer)
        if not self.finished(index):
            return False
        sql = f"SELECT 1 FROM read_parquet(?) WHERE {_identifier(schema.USER_ID)} = ? LIMIT 1"
        return bool(self._query(sql, [self._files([index]), str(viewer)]).num_rows > 0)

    def viewer_rows(
        self,
        viewer: str,
        *,
        where: Mapping[str, Value | Collection[Value]] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """`viewer`'s rows (that also match `where`), read from the viewer's partition only;
        an empty frame when the store does not hold them."""
        return self.select(viewers=[viewer], where=where, columns=columns)

    def select(
        self,
        *,
        viewers: Collection[str] | None = None,
        where: Mapping[str, Value | Collection[Value]] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The rows of `viewers` (None: any viewer, every finished partition is scanned) whose
        columns equal `where`'s values (or are among them, for a collection), with `columns`
        (default: all) in that order, in store order. Raises InputFileError naming a file that
        is missing or corrupt, and for a column the store does not have."""
        known = self._columns()
        selected = list(columns) if columns is not None else known
        conditions = dict(where or {})
        wanted = None if viewers is None else [str(v) for v in viewers]
        if wanted is not None:
            conditions[schema.USER_ID] = wanted
        unknown = [c for c in [*selected, *conditions] if known and c not in known]
        if unknown:
            raise InputFileError(
                f"{self.root}: no column {unknown[0]!r} in this store; it has {', '.join(known)}"
            )
        if wanted is not None:
            buckets = partition_of(pd.Series(wanted, dtype=object), self.partitions)
            indices = sorted({int(b) for b in buckets})
        else:
            indices = list(range(self.partitions))
        files = self._files([i for i in indices if self.finished(i)])
        clauses: list[str] = []
        params: list[object] = [files]
        for column, value in conditions.items():
            if isinstance(value, str | int | float | bool):
                clauses.append(f"{_identifier(column)} = ?")
                params.append(value)
                continue
            values = list(value)
            if not values:
                files = []
                break
            clauses.append(f"{_identifier(column)} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        if not files:
            return self._empty(selected)
        projection = ", ".join(_identifier(c) for c in selected) if selected else "*"
        sql = f"SELECT {projection} FROM read_parquet(?)"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        frame: pd.DataFrame = self._query(sql, params).to_pandas()
        return frame

    def close(self) -> None:
        """Close the DuckDB database (a later query opens a new one)."""
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None

    def _marker(self, index: int) -> PartitionMarker | None:
        # Finished partitions stay finished: their markers are read once; others are looked
        # for again at every call, so a store still being written is read as it grows.
        if index in self._markers:
            return self._markers[index]
        if not 0 <= index < self.partitions:
            return None
        path = marker_path(self.root, index)
        if not path.is_file():
            return None
        marker = PartitionMarker.read(path)
        self._markers[index] = marker
        return marker

    def _files(self, indices: Sequence[int]) -> list[str]:
        """The files of finished partitions `indices`, each checked against its marker's size
        (one stat: a truncated or replaced file fails here with the fix, not in DuckDB)."""
        files = []
        for index in indices:
            marker = self._marker(index)
            if marker is None:
                continue
            path = part_path(self.root, index)
            try:
                size = path.stat().st_size
            except OSError:
                raise InputFileError(
                    f"{path}: missing, but {marker_path(self.root, index)} marks it finished; "
                    "delete the marker and run the command that wrote the store again"
                ) from None
            if size != marker.bytes:
                raise InputFileError(
                    f"{path}: corrupt ({size} bytes, its marker says {marker.bytes}); delete it "
                    "and its marker and run the command that wrote the store again"
                )
            files.append(str(path))
        return files

    def _columns(self) -> list[str]:
        if self.manifest.columns:
            return list(self.manifest.columns)
        found = self._arrow_schema()
        return [] if found is None else list(found.names)

    def _arrow_schema(self) -> pa.Schema | None:
        """The schema of the first finished partition (None before one is finished)."""
        if self._schema is None:
            for index in range(self.partitions):
                if self.finished(index):
                    path = part_path(self.root, index)
                    try:
                        self._schema = pq.read_schema(path)
                    except (OSError, pa.ArrowException) as exc:
                        raise InputFileError(
                            f"{path}: not a readable Parquet file ({_first_line(exc)})"
                        ) from None
                    break
        return self._schema

    def _empty(self, columns: Sequence[str]) -> pd.DataFrame:
        found = self._arrow_schema()
        if found is None:
            return pd.DataFrame(columns=list(columns))
        empty: pd.DataFrame = found.empty_table().select(list(columns)).to_pandas()
        return empty

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        import duckdb  # loaded on the first query: importing a store module stays light

        with self._lock:
            if self._database is None:
                database = duckdb.connect(":memory:")
                # Footers of the files read are kept between lookups (checked against the
                # files' modification times by DuckDB).
                database.execute("SET enable_object_cache = true")
                self._database = database
            return self._database.cursor()

    def _query(self, sql: str, params: list[object]) -> pa.Table:
        """Run `sql` with `params` (the first: the files read) on a cursor of its own."""
        import duckdb

        files = params[0]
        where = files[0] if isinstance(files, list) and len(files) == 1 else self.root
        cursor = self._cursor()
        try:
            table: pa.Table = cursor.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise InputFileError(
                f"{where}: cannot read the store ({_first_line(exc)}); delete the file named "
                "and its marker, and run the command that wrote the store again"
            ) from None
        finally:
            cursor.close()
        return table


class AttributionStore:
    """A store of long attribution rows (`rankaudit attribute --out DIR`, without --wide) of
    one model, looked up the way the web app and `rankaudit explain` ask."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, root: Path | str) -> AttributionStore:
        """The attribution store at `root`. Raises InputFileError naming the folder when it is
        no store, a store of another kind, a wide one, or one without the long columns."""
        store = Store.open(root, kind="attributions")
        layout = store.manifest.job.get("layout")
        if layout != "long":
            raise InputFileError(
                f"{store.root}: a {layout} attribution store; the app and `rankaudit explain` "
                "read long rows: write it with `rankaudit attribute --out DIR` without --wide"
            )
        columns = store.manifest.columns
        if columns and tuple(columns) != COLUMNS:
            missing = [c for c in COLUMNS if c not in columns]
            raise InputFileError(
                f"{store.root}: not long attribution rows (columns {', '.join(missing) or 'in another order'}"
                " differ); write it again with `rankaudit attribute --out DIR`"
            )
        return cls(store)

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def model(self) -> str:
        """The model the store explains."""
        return str(self.store.manifest.job.get("model", ""))

    @property
    def settings(self) -> Mapping[str, Any]:
        """The attribution settings the store was computed with (as `asdict` gives them)."""
        settings = self.store.manifest.job.get("settings", {})
        return dict(settings) if isinstance(settings, Mapping) else {}

    @property
    def label(self) -> str:
        """Where explanations read here come from, as views show it: `store (<folder>)`."""
        return f"store ({self.root.name})"

    def covers(self, viewer: str) -> bool:
        """Whether the store holds `viewer`'s rows (its partition is finished)."""
        return self.store.covers(viewer)

    def rows(
        self,
        *,
        model: str,
        head: str,
        reference: str,
        viewer: str | Collection[str] | None = None,
        requests: Sequence[str] | None = None,
        tweet: str | None = None,
        vs_tweet: str | None = None,
        method: str | None = None,
    ) -> pd.DataFrame:
        """The stored rows (`COLUMNS`, in store order) of `model`, `head` and `reference`, and
        of the given viewer (or viewers), requests, tweet, pair partner and method; an empty
        frame when there are none. With `viewer` the viewer's partition is read (the row groups
        that can hold the viewer); without, every partition is scanned (about 0.5 s against 5 ms
        at 10M rows), so callers that know the viewers of their requests pass them."""
        if model != self.model:
            return self.store.select(viewers=[], columns=COLUMNS)
        where: dict[str, Value | Collection[Value]] = {
            "model": model,
            "head": head,
            "reference": reference,
        }
        if requests is not None:
            where[schema.REQUEST_ID] = [str(r) for r in requests]
        if tweet is not None:
            where[schema.TWEET_ID] = str(tweet)
        if vs_tweet is not None:
            where["vs_tweet_id"] = str(vs_tweet)
        if method is not None:
            where["method"] = method
        viewers = [viewer] if isinstance(viewer, str) else viewer
        return self.store.select(viewers=viewers, where=where, columns=COLUMNS)


def open_attribution_stores(roots: Sequence[Path]) -> dict[str, AttributionStore]:
    """The attribution stores at `roots`, by the model each explains. Raises InputFileError
    when two stores explain the same model (which one to read would be a guess)."""
    stores: dict[str, AttributionStore] = {}
    for root in roots:
        store = AttributionStore.open(root)
        if store.model in stores:
            raise InputFileError(
                f"{root}: explains model {store.model!r}, like {stores[store.model].root}; "
                "name one store per model in 'attributions'"
            )
        stores[store.model] = store
    return stores
