"""The on-disk layout of a partitioned store: what `rankaudit attribute`, `compare` and `drift
profile` write, what their resumed runs check, and what `rankaudit.store.query` reads.

A store is a folder:

    _rankaudit_store.json     the manifest: kind, partition count, the job that wrote it,
                              and whether every partition is finished
    part-00000.parquet        the rows of every viewer whose id hashes to partition 0
    part-00001.parquet        ...
    _done/part-00000.json     a partition's marker: rows, bytes, sha256 and the task's summary,
                              written after its Parquet file; a partition without one is unfinished
    _staging/                 the input rows routed to partitions, a few chunk files each
                              (removed when the run ends)

Rows are partitioned by a hash of the viewer id (`partition_of`), so one viewer's rows, hence
whole requests, sit in one file: a viewer lookup opens one file, and a request reference never
spans two partitions. Within a file rows are sorted by viewer, then request (stable: candidates
keep their log order), so Parquet row-group statistics prune a lookup further.

Readers that discover Parquet files (pandas, pyarrow, DuckDB globs of `part-*.parquet`) skip the
manifest, `_done/` and `_staging/`: names starting with an underscore are not data.
Every file is written under a temporary name and renamed, so a killed run leaves whole files.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.errors import InputFileError

__all__ = [
    "MANIFEST",
    "PARTITION_ROWS",
    "STORE_FORMAT",
    "Manifest",
    "PartitionMarker",
    "atomic_path",
    "complete_store",
    "default_partitions",
    "finished_partitions",
    "marker_path",
    "part_path",
    "partition_of",
    "read_manifest",
    "sha256_file",
    "write_json",
]

STORE_FORMAT = "rankaudit-store"
STORE_VERSION = 1
MANIFEST = "_rankaudit_store.json"
DONE = "_done"
STAGING = "_staging"
#: Log rows per partition aimed at when the partition count is derived from the row count:
#: a partition is a unit of work (minutes of attribution) and a file a lookup opens.
PARTITION_ROWS = 32_768


def default_partitions(rows: int | None) -> int:
    """Partitions for a log of `rows` rows (64 when unknown, e.g. CSV logs)."""
    if rows is None:
        return 64
    return max(1, -(-rows // PARTITION_ROWS))


def partition_of(user_ids: pd.Series, partitions: int) -> np.ndarray:
    """The partition of each viewer id: the first 8 bytes of blake2b(id) modulo `partitions`.

    Stable across processes, machines and library versions (unlike Python's or DuckDB's own
    hash), so a store can be read by any tool that knows the rule. Each distinct id is hashed
    once.
    """
    codes, uniques = pd.factorize(user_ids.astype(str), sort=False)
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(str(u).encode(), digest_size=8).digest(), "big")
            % partitions
            for u in uniques
        ),
        dtype=np.int64,
        count=len(uniques),
    )
    return buckets[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def part_path(root: Path, index: int) -> Path:
    """The Parquet file of partition `index` under `root`."""
    return root / f"part-{index:05d}.parquet"


def marker_path(root: Path, index: int) -> Path:
    """The finished-marker of partition `index` of the store at `root`."""
    return root / DONE / f"part-{index:05d}.json"


def atomic_path(path: Path) -> Path:
    """A temporary name beside `path`, unique to this process (readers skip dot-files)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write `document` as JSON through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = atomic_path(path)
    try:
        temp.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputFileError(f"{path}: cannot write ({exc.strerror or exc})") from None


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{path}: the {what} is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InputFileError(f"{path}: the {what} is not a JSON object")
    return document


@dataclass(frozen=True)
class Manifest:
    """What a store holds. `job` identifies the run that writes it (model fingerprints,
    options, input fingerprint): a resumed run must present the same job, so partitions of two
    different runs never mix. `complete`: every partition is finished."""

    kind: str
    partitions: int
    job: Mapping[str, Any]
    complete: bool = False
    columns: tuple[str, ...] = field(default=())

    def write(self, root: Path) -> None:
        write_json(
            root / MANIFEST,
            {
                "format": STORE_FORMAT,
                "version": STORE_VERSION,
                "kind": self.kind,
                "partitions": self.partitions,
                "partition_key": "user_id",
                "partition_hash": "blake2b-64 big-endian of the UTF-8 id, modulo partitions",
                "complete": self.complete,
                "columns": list(self.columns),
                "job": dict(self.job),
            },
        )


def read_manifest(root: Path) -> Manifest | None:
    """The manifest of the store at `root`; None when `root` holds none. Raises
    InputFileError for an unreadable or foreign manifest."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    document = _read_json(path, "store manifest")
    if document.get("format") != STORE_FORMAT or document.get("version") != STORE_VERSION:
        raise InputFileError(
            f"{path}: not a rankaudit store manifest (format {document.get('format')!r}, "
            f"version {document.get('version')!r})"
        )
    try:
        return Manifest(
            kind=str(document["kind"]),
            partitions=int(document["partitions"]),
            job=dict(document["job"]),
            complete=bool(document["complete"]),
            columns=tuple(document.get("columns", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"{path}: malformed store manifest ({exc!r})") from None


@dataclass(frozen=True)
class PartitionMarker:
    """A finished partition: input and output rows, its file's size and sha256, and the
    task's summary of it (JSON)."""

    index: int
    rows_in: int
    rows_out: int
    bytes: int
    sha256: str
    summary: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "summary": dict(self.summary),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], where: str) -> PartitionMarker:
        """The marker `to_dict` wrote; InputFileError naming `where` when malformed."""
        try:
            return cls(
                index=int(document["index"]),
                rows_in=int(document["rows_in"]),
                rows_out=int(document["rows_out"]),
                bytes=int(document["bytes"]),
                sha256=str(document["sha256"]),
                summary=dict(document["summary"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(f"{where}: malformed partition marker ({exc!r})") from None

    @classmethod
    def read(cls, path: Path) -> PartitionMarker:
        return cls.from_dict(_read_json(path, "partition marker"), str(path))


def finished_partitions(root: Path, partitions: int) -> dict[int, PartitionMarker]:
    """The finished partitions of the store at `root`, each checked against its marker (file
    present, same size and sha256). Raises InputFileError naming the first corrupt partition;
    nothing is deleted, so finished partitions stay as they are."""
    done: dict[int, PartitionMarker] = {}
    for index in range(partitions):
        path = marker_path(root, index)
        if not path.is_file():
            continue
        marker = PartitionMarker.read(path)
        data = part_path(root, index)
        if not data.is_file():
            raise InputFileError(
                f"{data}: missing, but {path} marks it finished; delete the marker to recompute it"
            )
        if data.stat().st_size != marker.bytes or sha256_file(data) != marker.sha256:
            raise InputFileError(
                f"{data}: corrupt (its size or sha256 differs from {path}); "
                "delete both to recompute that partition"
            )
        done[index] = marker
    return done


def complete_store(root: Path, kind: str, writer: str) -> tuple[Manifest, list[Path]]:
    """The manifest and partition files of the finished store of `kind` at `root`. Raises
    InputFileError when `root` holds no such store, or an unfinished one (`writer`: the
    command that writes it, for the message)."""
    manifest = read_manifest(root)
    if manifest is None or manifest.kind != kind:
        raise InputFileError(f"{root}: not a store of {kind}; write one with {writer}")
    if not manifest.complete:
        raise InputFileError(f"{root}: the store of {kind} is unfinished; run {writer} again")
    files = [part_path(root, i) for i in range(manifest.partitions) if part_path(root, i).is_file()]
    return manifest, files
