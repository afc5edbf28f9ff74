"""Atomic text output shared by profiles and check reports."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from rankaudit.errors import InputFileError

__all__ = ["check_writable", "write_text"]


def check_writable(path: Path) -> None:
    """Raise InputFileError when `path` cannot be written (missing or read-only folder), so a
    command fails before its expensive part rather than after."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputFileError(f"{path}: the output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputFileError(f"{path}: the output folder {parent} is not writable")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; give a file name")


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder and a rename, so a
    reader never sees half a file; returns `path`. Raises InputFileError when the folder is
    missing or the file cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputFileError(f"{path}: the output folder {parent} does not exist")
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputFileError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
