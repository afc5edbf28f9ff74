"""Write a report's files all or nothing: every output is first written under a temporary
name next to its target, and only when all of them are complete are they renamed into place.
A failure (a full disk, a browser that cannot print) leaves no partial file behind, and a run
removes the temporaries of its outputs that a killed earlier run left."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

from rankaudit.errors import InputFileError, ParameterError
from rankaudit.report.pdf import print_pdf

__all__ = ["check_outputs", "remove_stale_temporaries", "write_outputs"]


def check_outputs(**outputs: Path | None) -> None:
    """Check each named output path before any work: distinct paths, an existing writable
    folder, not a folder itself. Raises ParameterError or InputFileError naming the option."""
    given = {name: Path(path) for name, path in outputs.items() if path is not None}
    seen: dict[Path, str] = {}
    for name, path in given.items():
        resolved = path.resolve()
        if resolved in seen:
            raise ParameterError(
                f"--{seen[resolved]} and --{name} name the same file {path}; give each output its own path"
            )
        seen[resolved] = name
        if path.is_dir():
            raise InputFileError(f"--{name} {path}: is a folder; name a file to write")
        parent = path.parent if str(path.parent) else Path(".")
        if parent.exists() and not parent.is_dir():
            raise InputFileError(f"--{name} {path}: {parent} is a file, not a folder")
        if not parent.is_dir():
            raise InputFileError(f"--{name} {path}: the folder {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputFileError(f"--{name} {path}: the folder {parent} is not writable")
        if path.exists() and not os.access(path, os.W_OK):
            raise InputFileError(f"--{name} {path}: the file exists and is not writable")


def _temporary(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}")


def _stale_pattern(path: Path) -> re.Pattern[str]:
    """The names `_temporary` gives the temporaries of `path`; group 1 is the writer's PID."""
    return re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp(?:\.\w+)?")


def _alive(pid: int) -> bool:
    """Whether process `pid` may still be running (and writing its temporaries)."""
    if pid == os.getpid() or os.name != "posix":
        # Our own PID: another thread's report in progress. Off POSIX, os.kill would not probe
        # but kill, so nothing is taken for dead.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or not a PID at all: leave the file alone
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of `path` left behind by a writer that no longer runs (a killed
    run: its own failure paths remove them otherwise); returns the removed files. Temporaries of
    running processes are kept."""
    pattern = _stale_pattern(path)
    removed: list[Path] = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed  # check_outputs reports an unusable folder
    for sibling in siblings:
        match = pattern.fullmatch(sibling.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            sibling.unlink()
            removed.append(sibling)
    return removed


def _write(path: Path, data: bytes) -> None:
    try:
        with path.open("xb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InputFileError(f"{path.parent}: cannot write ({exc.strerror or exc})") from None


def write_outputs(
    *,
    html: Callable[[], bytes],
    json: Callable[[], bytes],
    html_path: Path | None = None,
    json_path: Path | None = None,
    pdf_path: Path | None = None,
    browser: Path | None = None,
) -> dict[str, int]:
    """Write the requested outputs (HTML, JSON, and a PDF printed from the HTML) atomically as
    a set; returns each written file's size in bytes by kind.

    Every temporary is registered before it is created, so that any failure (a full disk
    midway through a write, a browser that cannot print, an interrupt) removes all of them;
    temporaries of the same outputs left by a killed earlier run are removed first."""
    for target in (html_path, json_path, pdf_path):
        if target is not None:
            remove_stale_temporaries(target)
    created: list[Path] = []  # every temporary of this call, removed whatever happens
    moves: list[tuple[Path, Path]] = []
    sizes: dict[str, int] = {}
    try:
        page: Path | None = None
        if html_path is not None or pdf_path is not None:
            content = html()
            target = html_path if html_path is not None else pdf_path
            assert target is not None
            page = _temporary(target, ".html")
            created.append(page)
            _write(page, content)
            if html_path is not None:
                moves.append((page, html_path))
                sizes["html"] = len(content)
        if json_path is not None:
            content = json()
            temp = _temporary(json_path, ".json")
            created.append(temp)
            _write(temp, content)
            moves.append((temp, json_path))
            sizes["json"] = len(content)
        if pdf_path is not None:
            assert page is not None
            temp = _temporary(pdf_path, ".pdf")
            created.append(temp)  # the browser creates it
            print_pdf(page, temp, browser=browser)
            sizes["pdf"] = temp.stat().st_size
            moves.append((temp, pdf_path))
        for temp, final in moves:
            os.replace(temp, final)
    finally:
        # Renamed temporaries are gone already; the rest (a scratch page, a half-written
        # file after ENOSPC) must not stay behind as hidden files.
        for temp in created:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
    return sizes
