"""Structural checks of booster files, run before LightGBM or XGBoost parse them.

The native parsers trust their input: a LightGBM text model cut short reads past its buffer
(or throws inside an OpenMP loop, which aborts), and a truncated XGBoost UBJSON file can
segfault. No input file may crash the process, so each file is first checked here in Python,
cheaply and without building anything, and refused with one line naming it when a native parser
could not read it safely. The checks cover the file's structure (sizes, counts, indices), not
whether the model is any good.

The native libraries also print their own `[LightGBM] [Fatal] ...` lines on the process's
stderr; `quiet_native_output` keeps them out of the one line rankaudit prints.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rankaudit.errors import ModelLoadError

__all__ = ["check_lightgbm_text", "check_xgboost_file", "quiet_native_output"]

# --- LightGBM text models ---------------------------------------------------------------------

_LGB_REQUIRED = ("version", "num_class", "label_index", "max_feature_idx", "feature_names",
                 "feature_infos", "tree_sizes")  # fmt: skip
#: Per-node arrays of a tree with n leaves: n - 1 entries (required ones first).
_NODE_REQUIRED = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_NODE_OPTIONAL = ("split_gain", "internal_value", "internal_weight", "internal_count")
#: Per-leaf arrays: n entries.
_LEAF_OPTIONAL = ("leaf_weight", "leaf_count")
_CATEGORICAL_MASK = 1
_RESAVE = "re-save it with Booster.save_model"


class _Refused(Exception):
    """A structural problem; the message says what and where."""


def _ints(fields: Mapping[str, str], key: str, count: int | None, where: str) -> list[int]:
    tokens = fields.get(key, "").split()
    if count is not None and len(tokens) != count:
        raise _Refused(f"{where}: '{key}' holds {len(tokens)} values, expected {count}")
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise _Refused(f"{where}: '{key}' holds a value that is not an integer") from None


def _floats(fields: Mapping[str, str], key: str, count: int, where: str) -> None:
    tokens = fields.get(key, "").split()
    if len(tokens) != count:
        raise _Refused(f"{where}: '{key}' holds {len(tokens)} values, expected {count}")
    try:
        for token in tokens:
            float(token)
    except ValueError:
        raise _Refused(f"{where}: '{key}' holds a value that is not a number") from None


def _one_int(fields: Mapping[str, str], key: str, where: str, minimum: int) -> int:
    if key not in fields:
        raise _Refused(f"{where}: missing '{key}'")
    (value,) = _ints(fields, key, 1, where)
    if value < minimum:
        raise _Refused(f"{where}: '{key}' is {value}, expected at least {minimum}")
    return value


def _tree_fields(block: bytes, index: int) -> dict[str, str]:
    """Return the key=value lines of one `Tree=` block, which must end with an empty line (the
    native parser reads lines until one is empty, wherever that is)."""
    where = f"tree {index}"
    lines = block.split(b"\n")
    if lines[0] != f"Tree={index}".encode():
        raise _Refused(f"{where}: the block does not start with 'Tree={index}'")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            return fields
        key, sep, value = line.partition(b"=")
        if not sep:
            raise _Refused(f"{where}: line {line[:40]!r} is not key=value")
        fields[key.decode("ascii", "replace")] = value.decode("ascii", "replace")
    raise _Refused(f"{where}: the block ends before the empty line that closes it")


def _check_tree(fields: Mapping[str, str], index: int, n_features: int) -> None:
    where = f"tree {index}"
    leaves = _one_int(fields, "num_leaves", where, 1)
    n_cat = _one_int(fields, "num_cat", where, 0)
    if "leaf_value" not in fields:
        raise _Refused(f"{where}: missing 'leaf_value'")
    _floats(fields, "leaf_value", leaves, where)
    if fields.get("is_linear", "0").strip() not in ("0", "1"):
        raise _Refused(f"{where}: 'is_linear' must be 0 or 1")
    if fields.get("is_linear", "0").strip() == "1":
        _floats(fields, "leaf_const", leaves, where)
        counts = _ints(fields, "num_features", leaves, where)
        if min(counts) < 0:
            raise _Refused(f"{where}: 'num_features' holds a negative count")
        linear = _ints(fields, "leaf_features", sum(counts), where)
        if any(not 0 <= f < n_features for f in linear):
            raise _Refused(f"{where}: 'leaf_features' names a feature out of range")
        _floats(fields, "leaf_coeff", sum(counts), where)
    if leaves == 1:
        return
    nodes = leaves - 1
    for key in _NODE_REQUIRED:
        if key not in fields:
            raise _Refused(f"{where}: missing '{key}'")
    for key in (*_NODE_REQUIRED, *_NODE_OPTIONAL):
        if key in fields:
            _floats(fields, key, nodes, where)
    for key in _LEAF_OPTIONAL:
        if key in fields:
            _floats(fields, key, leaves, where)
    features = _ints(fields, "split_feature", nodes, where)
    if any(not 0 <= f < n_features for f in features):
        raise _Refused(f"{where}: 'split_feature' names a feature out of range")
    for side in ("left_child", "right_child"):
        for node, child in enumerate(_ints(fields, side, nodes, where)):
            # Leaves are ~leaf (negative); an inner child comes after its parent, so the
            # prediction walk always ends.
            if not (-leaves <= child < 0 or node < child < nodes):
                raise _Refused(f"{where}: '{side}' of node {node} is out of range")
    decisions = _ints(fields, "decision_type", nodes, where)
    categorical = [n for n, d in enumerate(decisions) if d & _CATEGORICAL_MASK]
    if not categorical and n_cat == 0:
        return
    boundaries = _ints(fields, "cat_boundaries", n_cat + 1, where)
    thresholds = fields.get("cat_threshold", "").split()
    if boundaries[0] != 0 or any(b > a for b, a in itertools.pairwise(boundaries)):
        raise _Refused(f"{where}: 'cat_boundaries' must rise from 0")
    if boundaries[-1] != len(thresholds):
        raise _Refused(
            f"{where}: 'cat_threshold' holds {len(thresholds)} values, expected {boundaries[-1]}"
        )
    values = fields["threshold"].split()
    for node in categorical:
        try:
            slot = int(float(values[node]))
        except ValueError:
            raise _Refused(
                f"{where}: categorical threshold of node {node} is not a number"
            ) from None
        if not 0 <= slot < n_cat:
            raise _Refused(f"{where}: categorical split {node} points past 'cat_boundaries'")


def _lightgbm_problem(data: bytes) -> str | None:
    if b"\r" in data or b"\0" in data:
        return (
            "holds carriage returns or NUL bytes (converted line endings?); LightGBM needs the "
            f"file byte for byte as saved: {_RESAVE}"
        )
    start = data.find(b"\nTree=")
    header_end = start + 1 if start >= 0 else len(data)
    lines = data[:header_end].split(b"\n")
    if lines[0].strip() != b"tree":
        return "the first line is not 'tree'"
    header: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(b"=")
        if sep:
            header[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    missing = [k for k in _LGB_REQUIRED if k not in header]
    if missing:
        # Files from before LightGBM 2.1 have no tree_sizes; they parse without bounds.
        return f"the header lacks {', '.join(missing)} (truncated, or older than LightGBM 3?)"
    try:
        _one_int(header, "num_class", "header", 1)
        n_features = _one_int(header, "max_feature_idx", "header", 0) + 1
        for listed in ("feature_names", "feature_infos"):
            if len(header[listed].split(" ")) != n_features:
                return f"the header's {listed} does not list max_feature_idx + 1 = {n_features}"
        sizes = _ints(header, "tree_sizes", None, "header")
        if any(s <= 0 for s in sizes):
            return "the header's tree_sizes holds a size that is not positive"
        offset = header_end
        for index, size in enumerate(sizes):
            block = data[offset : offset + size]
            if len(block) != size:
                return f"it ends inside tree {index} of {len(sizes)} (the file is cut short)"
            _check_tree(_tree_fields(block, index), index, n_features)
            offset += size
    except _Refused as exc:
        return f"{exc} (tree_sizes and the Tree= blocks disagree, or the file is damaged)"
    if not data[offset:].startswith(b"end of trees"):
        return "no 'end of trees' after the trees listed in tree_sizes (the file is cut short?)"
    # Booster.save_model always ends the model with its parameters; a file without their end
    # was cut short, perhaps inside what follows the trees (then LightGBM would load it).
    if data.find(b"\nend of parameters", offset) < 0:
        return "no 'end of parameters' after the trees (the file is cut short)"
    return None


def check_lightgbm_text(path: Path, data: bytes) -> None:
    """Raise ModelLoadError naming `path` when `data` is not a LightGBM text model that the
    native parser can read safely: header keys present, `tree_sizes` matching the byte sizes of
    the `Tree=` blocks, every tree's arrays of the right lengths with indices in range,
    `end of trees` and `end of parameters` present. Returns None for a well-formed file."""
    problem = _lightgbm_problem(data)
    if problem is not None:
        raise ModelLoadError(f"{path}: not a LightGBM text model ({problem}); {_RESAVE}")


# --- XGBoost JSON / UBJSON --------------------------------------------------------------------

#: UBJSON value markers of a fixed size, in bytes.
_FIXED: Mapping[int, int] = {ord(m): s for m, s in
                             (("Z", 0), ("N", 0), ("T", 0), ("F", 0), ("i", 1), ("U", 1),
                              ("C", 1), ("I", 2), ("l", 4), ("d", 4), ("L", 8), ("D", 8))}  # fmt: skip
_INTEGERS: Mapping[int, tuple[int, bool]] = {ord("i"): (1, True), ord("U"): (1, False),
                                             ord("I"): (2, True), ord("l"): (4, True),
                                             ord("L"): (8, True)}  # fmt: skip
_STRINGS = (ord("S"), ord("H"))
_OPEN = {ord("["): ord("]"), ord("{"): ord("}")}
#: XGBoost models nest a handful of levels; the native parser recurses.
_MAX_DEPTH = 64


@dataclass
class _Container:
    is_object: bool
    close: int
    count: int | None
    element: int | None


class _UBJSON:
    """A bounds-checked walk over a UBJSON document that builds nothing."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise _Refused(f"it ends early: {n} byte(s) needed at byte {self.pos}")
        self.pos += n

    def byte(self) -> int:
        self.skip(1)
        return self.data[self.pos - 1]

    def integer(self) -> int:
        marker = self.byte()
        if marker not in _INTEGERS:
            raise _Refused(f"byte {self.pos - 1}: expected a length, found marker {marker!r}")
        size, signed = _INTEGERS[marker]
        start = self.pos
        self.skip(size)
        value = int.from_bytes(self.data[start : self.pos], "big", signed=signed)
        if value < 0:
            raise _Refused(f"byte {start}: negative length {value}")
        return value

    def container(self, opening: int, stack: list[_Container]) -> None:
        element = count = None
        if self.pos < len(self.data) and self.data[self.pos] == ord("$"):
            self.pos += 1
            element = self.byte()
            if self.pos >= len(self.data) or self.data[self.pos] != ord("#"):
                raise _Refused(f"byte {self.pos}: a typed container without a count")
        if self.pos < len(self.data) and self.data[self.pos] == ord("#"):
            self.pos += 1
            count = self.integer()
        is_object = opening == ord("{")
        if not is_object and element is not None and element in _FIXED and count is not None:
            self.skip(count * _FIXED[element])  # a typed array: no markers to walk
            return
        if len(stack) >= _MAX_DEPTH:
            raise _Refused(f"byte {self.pos}: nested deeper than {_MAX_DEPTH} levels")
        stack.append(_Container(is_object, _OPEN[opening], count, element))

    def value(self, marker: int, stack: list[_Container]) -> None:
        if marker in _FIXED:
            self.skip(_FIXED[marker])
        elif marker in _STRINGS:
            self.skip(self.integer())
        elif marker in _OPEN:
            self.container(marker, stack)
        else:
            raise _Refused(f"byte {self.pos - 1}: unknown UBJSON marker {marker!r}")

    def walk(self) -> None:
        stack: list[_Container] = []
        if self.byte() != ord("{"):
            raise _Refused("it does not start with an object")
        self.container(ord("{"), stack)
        while stack:
            top = stack[-1]
            if top.count is not None:
                if top.count == 0:
                    stack.pop()
                    continue
                top.count -= 1
            else:
                if self.pos >= len(self.data):
                    raise _Refused(f"it ends early, inside {len(stack)} open container(s)")
                if self.data[self.pos] == top.close:
                    self.pos += 1
                    stack.pop()
                    continue
            if top.is_object:
                self.skip(self.integer())  # the key
            self.value(top.element if top.element is not None else self.byte(), stack)


def check_xgboost_file(path: Path, data: bytes) -> None:
    """Raise ModelLoadError naming `path` unless `data` is a complete JSON or UBJSON document
    (what Booster.save_model writes); returns None otherwise. Only the structure is checked:
    XGBoost itself reports a well-formed document that is not a model."""
    hint = "save it with booster.save_model('model.json') (or '.ubj')"
    if data[:1] != b"{":
        raise ModelLoadError(f"{path}: not an XGBoost model (neither JSON nor UBJSON); {hint}")
    if len(data) > 1 and data[1] in b"iUIlL$#}":  # a UBJSON object: a typed length follows
        try:
            _UBJSON(data).walk()
        except _Refused as exc:
            raise ModelLoadError(
                f"{path}: not an XGBoost model (damaged UBJSON: {exc}); {hint}"
            ) from None
        return
    import json

    try:
        json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(
            f"{path}: not an XGBoost model (damaged JSON: {reason}); {hint}"
        ) from None


# --- native output ----------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Send what native code and library loggers print to stdout and stderr (LightGBM's
    `[Fatal]` and `[Warning]` lines) to a discarded temporary file while the block runs, so
    that a refused file leaves only rankaudit's one line on stderr.

    The redirection is of the process's file descriptors 1 and 2: another thread printing
    during the block loses that output too, which is why the block should only load a file.
    """
    saved: list[tuple[int, int]] = []
    with tempfile.TemporaryFile() as sink:
        try:
            for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
                with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
                    stream.flush()
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
        except OSError:  # no such descriptor (a daemon, an embedded interpreter)
            pass
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                yield
        finally:
            for fd, copy in reversed(saved):
                os.dup2(copy, fd)
                os.close(copy)
