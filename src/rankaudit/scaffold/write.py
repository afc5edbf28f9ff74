"""Write a scaffolded workspace: rankaudit.toml, features.yaml and (for imports) the log.

Every file goes through a temporary file and a rename, and rankaudit.toml is written last, so
that a reader never finds a config naming a half-written file.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import FeatureSpec
from rankaudit.errors import InputFileError, WorkspaceError
from rankaudit.models.base import write_atomic
from rankaudit.scaffold.infer import ModelGuess
from rankaudit.scaffold.svmlight import SvmlightLog
from rankaudit.workspace import CONFIG_NAME

__all__ = [
    "SPEC_NAME",
    "check_out_dir",
    "relative_to",
    "render_config",
    "write_config",
    "write_parquet_log",
]

SPEC_NAME = "features.yaml"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def check_out_dir(out: Path, *, force: bool) -> None:
    """Raise WorkspaceError when `out` is a file, or a non-empty folder and `force` is off."""
    if out.exists() and not out.is_dir():
        raise WorkspaceError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise WorkspaceError(
            f"{out}: the folder is not empty; pass --force to write {CONFIG_NAME} and "
            f"{SPEC_NAME} into it (other files are left alone), or choose another --out"
        )


def relative_to(path: Path, root: Path) -> str:
    """`path` relative to the folder `root`, POSIX-style (`../logs/day1.parquet`)."""
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else _string(name)


def render_config(
    *,
    name: str,
    logs: str,
    heads: Mapping[str, float],
    relevance: GradedRelevance | None,
    models: Iterable[tuple[str, str, str | None]],
) -> str:
    """The text of rankaudit.toml; `models` holds (name, kind, path relative to the folder,
    or None for a kind that reads no file)."""
    lines = [
        "# Written by `rankaudit init`; paths are relative to this file.",
        f"name = {_string(name)}",
        f"logs = {_string(logs)}",
        f"spec = {_string(SPEC_NAME)}",
    ]
    if heads:
        lines += ["", "# Check the weights: every head was given 1.0.", "[heads]"]
        lines += [f"{_key(head)} = {float(weight)!r}" for head, weight in heads.items()]
    if relevance is not None:
        lines += [
            "",
            "[relevance]",
            f"column = {_string(relevance.column)}",
            f"gain = {_string(relevance.gain)}",
        ]
    for model, kind, path in models:
        lines += ["", f"[models.{_key(model)}]", f"kind = {_string(kind)}"]
        if path is not None:
            lines.append(f"path = {_string(path)}")
    return "\n".join(lines) + "\n"


def write_config(
    out: Path,
    *,
    logs: Path,
    spec: FeatureSpec,
    heads: Mapping[str, float],
    relevance: GradedRelevance | None,
    models: Iterable[ModelGuess],
) -> Path:
    """Write `out/features.yaml` then `out/rankaudit.toml`; return the config's path."""
    header = (
        "# Written by `rankaudit init`: kinds, groups and missing policies are guesses from the\n"
        "# log; replace every TODO with what the feature means and its unit.\n"
    )
    spec_text = header + yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True)
    write_atomic(out / SPEC_NAME, spec_text.encode("utf-8"))
    config = render_config(
        name=out.resolve().name,
        logs=relative_to(logs, out),
        heads=heads,
        relevance=relevance,
        models=[
            (m.name, m.kind, None if m.path is None else relative_to(m.path, out)) for m in models
        ],
    )
    path = out / CONFIG_NAME
    write_atomic(path, config.encode("utf-8"))
    return path


def write_parquet_log(path: Path, log: SvmlightLog) -> None:
    """Write an imported log to `path` as Parquet, chunk by chunk, through a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for frame in log.iter_frames():
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(temp, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
            writer = None
        os.replace(temp, path)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write the log ({exc.strerror or exc})") from None
    finally:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
