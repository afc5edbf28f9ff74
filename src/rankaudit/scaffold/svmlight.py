"""Import the LETOR/svmlight format (MSLR-WEB10K, Yahoo! LTR, Istella, the LightGBM and XGBoost
ranking examples) as a log in the timeline contract.

One line per document::

    <grade> qid:<query> <id>:<value> <id>:<value> ... # comment

or without `qid:`, with a query file holding one group size per line (LightGBM's `.query`).
Parsing is scikit-learn's `load_svmlight_file`; this module adds what it does not report: the
line of a malformed entry, and the checks the contract needs (finite values, grades >= 0,
every line with a qid or none).

The contract's ids are made up, stably: `request_id` is the qid (or `q<index>` with a query
file), `user_id` the request (svmlight has no viewer), `tweet_id` `d<index>` (the document's
line order, zero-padded), `author_id` "unknown", `served_at` 1970-01-01T00:00:00Z plus the
query's index in seconds, so that time order is file order, and `position` the document's place
among its query's lines: the order the file lists (in LETOR data, usually the order a first-stage
retriever returned), which `init` offers as the `served` baseline.
"""

from __future__ import annotations

import bz2
import gzip
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from rankaudit.data import schema
from rankaudit.data.spec import Feature, FeatureSpec
from rankaudit.errors import InputFileError

__all__ = ["RELEVANCE_COLUMN", "SvmlightLog", "read_svmlight"]

RELEVANCE_COLUMN = "relevance"
UNKNOWN_AUTHOR = "unknown"
_EPOCH = pd.Timestamp("1970-01-01T00:00:00Z")


@dataclass(frozen=True)
class SvmlightLog:
    """An imported svmlight file, kept sparse until it is written.

    Row i of `features` is document `doc_index[i]` of the file (its 0-based order among the
    data lines), in query `query_index[i]` (0-based order of first appearance) whose request id
    is `request_ids[query_index[i]]`. `feature_ids` are the svmlight ids of the columns.
    """

    source: Path
    features: sparse.csr_matrix
    grades: NDArray[np.float64]
    doc_index: NDArray[np.int64]
    query_index: NDArray[np.int64]
    #: 1-based place of each document among its query's lines, in file order.
    positions: NDArray[np.int64]
    request_ids: tuple[str, ...]
    feature_ids: tuple[int, ...]
    #: svmlight ids in the written range that no line of the file mentions (all 0.0).
    absent_ids: tuple[int, ...]
    #: Requests with one document (kept unless dropped; validate rejects them).
    single_requests: tuple[str, ...]
    dropped_requests: int
    doc_width: int

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"f{i}" for i in self.feature_ids)

    def spec(self) -> FeatureSpec:
        """The spec of the imported features: continuous, group "features", missing forbid."""
        return FeatureSpec(
            features=tuple(
                Feature(
                    name=name,
                    kind="continuous",
                    group="features",
                    description=f"TODO: what svmlight feature {name[1:]} of {self.source.name} measures",
                    unit="TODO: unit, or none",
                )
                for name in self.feature_names
            ),
            source=str(self.source),
        )

    def iter_frames(self, chunk_rows: int = 65_536) -> Iterator[pd.DataFrame]:
        """Yield the log in contract form, `chunk_rows` rows at a time, in file order."""
        for start in range(0, self.rows, chunk_rows):
            stop = min(start + chunk_rows, self.rows)
            yield self._frame(start, stop)

    def to_frame(self) -> pd.DataFrame:
        """The whole log as one frame (dense: mind the size of large files)."""
        return self._frame(0, self.rows)

    def _frame(self, start: int, stop: int) -> pd.DataFrame:
        queries = self.query_index[start:stop]
        requests = np.asarray(self.request_ids, dtype=object)[queries]
        docs = self.doc_index[start:stop]
        columns: dict[str, object] = {
            schema.REQUEST_ID: requests,
            schema.USER_ID: requests,
            schema.TWEET_ID: np.asarray([f"d{d:0{self.doc_width}d}" for d in docs], dtype=object),
            schema.AUTHOR_ID: np.full(stop - start, UNKNOWN_AUTHOR, dtype=object),
            schema.SERVED_AT: (_EPOCH + pd.to_timedelta(queries, unit="s")).as_unit("us"),
            schema.POSITION: self.positions[start:stop],
            RELEVANCE_COLUMN: self.grades[start:stop],
        }
        dense = self.features[start:stop].toarray()
        for j, name in enumerate(self.feature_names):
            columns[name] = dense[:, j]
        frame = pd.DataFrame(columns)
        for column in schema.ID_COLUMNS:
            frame[column] = frame[column].astype(object)
        return frame


# --- locating what is wrong -----------------------------------------------------------------


def _lines(path: Path) -> Iterator[bytes]:
    # The same compressed suffixes scikit-learn reads.
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as packed:
            yield from packed
    elif path.suffix == ".bz2":
        with bz2.open(path, "rb") as packed:
            yield from packed
    else:
        with path.open("rb") as handle:
            yield from handle


def _number(token: bytes) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def _line_problem(tokens: list[bytes], has_qid: bool | None) -> str | None:
    """What is wrong with one data line (split on whitespace, comment removed), or None."""
    grade = _number(tokens[0])
    if grade is None:
        return f"the grade {tokens[0].decode(errors='replace')!r} is not a number"
    if not math.isfinite(grade) or grade < 0:
        return f"the grade {tokens[0].decode(errors='replace')!r} must be a finite number >= 0"
    entries = tokens[1:]
    line_has_qid = bool(entries) and entries[0].startswith(b"qid:")
    if line_has_qid:
        try:
            int(entries[0][4:])
        except ValueError:
            return f"bad {entries[0].decode(errors='replace')!r}: a qid must be a whole number"
        entries = entries[1:]
    if has_qid is not None and line_has_qid != has_qid:
        return (
            "has a qid: but the lines before it have none"
            if line_has_qid
            else "has no qid: but the lines before it have one"
        )
    previous = -1
    for entry in entries:
        text = entry.decode(errors="replace")
        index_text, sep, value_text = entry.partition(b":")
        if not sep:
            return f"the entry {text!r} is not <id>:<value>"
        try:
            index = int(index_text)
        except ValueError:
            return f"the entry {text!r}: a feature id must be a whole number"
        value = _number(value_text)
        if index < 0:
            return f"the entry {text!r}: a feature id must be >= 0"
        if value is None or not math.isfinite(value):
            return f"the entry {text!r}: the value must be a finite number"
        if index <= previous:
            return f"the entry {text!r}: feature ids must increase along a line"
        previous = index
    return None


def _locate_problem(path: Path) -> tuple[int, str] | None:
    """Return (1-based line, problem) of the first malformed line of `path`, or None."""
    has_qid: bool | None = None
    for number, raw in enumerate(_lines(path), start=1):
        tokens = raw.split(b"#", 1)[0].split()
        if not tokens:
            continue
        problem = _line_problem(tokens, has_qid)
        if problem is not None:
            return number, problem
        if has_qid is None:
            has_qid = len(tokens) > 1 and tokens[1].startswith(b"qid:")
    return None


def _malformed(path: Path, detail: str) -> InputFileError:
    try:
        found = _locate_problem(path)
    except OSError as exc:
        return InputFileError(f"{path}: cannot read ({exc.strerror or exc})")
    if found is None:
        return InputFileError(f"{path}: not a valid svmlight file ({detail})")
    line, problem = found
    return InputFileError(f"{path} line {line}: {problem}")


# --- reading --------------------------------------------------------------------------------


def _read_group_sizes(path: Path) -> list[int]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputFileError(f"{path}: cannot read query file ({reason})") from None
    sizes: list[int] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            size = int(text)
        except ValueError:
            size = 0
        if size < 1:
            raise InputFileError(
                f"{path} line {number}: a group size must be a whole number >= 1; got {text!r}"
            )
        sizes.append(size)
    if not sizes:
        raise InputFileError(f"{path}: the query file holds no group sizes (one per line)")
    return sizes


def _load(path: Path) -> tuple[sparse.csr_matrix, NDArray[np.float64], NDArray[np.int64]]:
    from sklearn.datasets import load_svmlight_file

    if not path.is_file():
        raise InputFileError(f"{path}: svmlight file does not exist")
    try:
        # zero_based=True keeps every id where the file puts it: column j is id j.
        x, y, qid = load_svmlight_file(str(path), query_id=True, zero_based=True, dtype=np.float64)
    except ValueError as exc:
        raise _malformed(path, str(exc).splitlines()[0] if str(exc) else "parse error") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    features = sparse.csr_matrix(x, dtype=np.float64)
    grades = np.asarray(y, dtype=np.float64)
    if features.shape[0] == 0:
        raise InputFileError(f"{path}: no data lines (the file is empty or holds only comments)")
    bad = (
        not np.isfinite(grades).all()
        or (grades < 0).any()
        or not np.isfinite(features.data).all()
        or len(qid) not in (0, features.shape[0])
    )
    if bad:
        raise _malformed(path, "non-finite values, negative grades or a qid on only some lines")
    return features, grades, np.asarray(qid, dtype=np.int64)


def _queries_from_sizes(
    path: Path, query: Path, sizes: list[int], rows: int
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    if sum(sizes) != rows:
        raise InputFileError(
            f"{query}: the group sizes add up to {sum(sizes)} documents but {path} has {rows} "
            "data lines; the query file must list one size per query of the file, in order"
        )
    width = len(str(len(sizes) - 1))
    index = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    return index, tuple(f"q{i:0{width}d}" for i in range(len(sizes)))


def read_svmlight(
    path: Path, *, query: Path | None = None, drop_single: bool = False
) -> SvmlightLog:
    """Read an svmlight/LETOR file (with `qid:` on its lines, or group sizes in `query`).

    Returns the log with features `f<id>` for every id from 1 (0 when the file uses id 0) to the
    largest; entries a line does not list are 0.0, as svmlight means. With `drop_single`,
    requests holding one document are left out. Raises InputFileError naming the file and line
    of malformed input: a non-numeric value, a bad qid, a grade < 0, a query file that does not
    add up, an empty file.
    """
    features, grades, qid = _load(path)
    rows = features.shape[0]
    if query is not None:
        if len(qid):
            raise InputFileError(
                f"{path}: the lines carry qid: and a query file ({query}) was given too; "
                "drop --query, or the qids"
            )
        query_index, request_ids = _queries_from_sizes(path, query, _read_group_sizes(query), rows)
    elif not len(qid):
        raise InputFileError(
            f"{path} line 1: no qid: on the lines; pass the group sizes with --query FILE "
            "(one size per line, as in LightGBM's .query files)"
        )
    else:
        codes, uniques = pd.factorize(qid, sort=False)
        query_index = np.asarray(codes, dtype=np.int64)
        request_ids = tuple(str(int(q)) for q in uniques)
    used = np.unique(features.indices)
    first = 0 if used.size and used[0] == 0 else 1
    width = features.shape[1]
    if width <= first:
        raise InputFileError(f"{path}: no line lists a feature (<id>:<value>)")
    ids = np.arange(first, width)
    absent = tuple(int(i) for i in np.setdiff1d(ids, used))
    features = features[:, first:]
    doc_index = np.arange(rows, dtype=np.int64)
    sizes = np.bincount(query_index, minlength=len(request_ids))
    singles = tuple(request_ids[i] for i in np.flatnonzero(sizes == 1))
    dropped = 0
    if drop_single and singles:
        keep = sizes[query_index] > 1
        if not keep.any():
            raise InputFileError(
                f"{path}: every query holds a single document; nothing is left to rank"
            )
        features, grades = features[keep], grades[keep]
        doc_index, query_index = doc_index[keep], query_index[keep]
        dropped = len(singles)
    positions = pd.Series(query_index).groupby(query_index).cumcount().to_numpy() + 1
    return SvmlightLog(
        source=path,
        features=sparse.csr_matrix(features),
        grades=grades,
        doc_index=doc_index,
        query_index=query_index,
        positions=positions.astype(np.int64),
        request_ids=request_ids,
        feature_ids=tuple(int(i) for i in ids),
        absent_ids=absent,
        single_requests=singles,
        dropped_requests=dropped,
        doc_width=len(str(rows - 1)),
    )
