"""Write a report's files all or nothing: every output is first written under a temporary
name next to its target, and only when all of them are complete are they renamed into place.
A failure (a full disk, a browser that cannot print) leaves no partial file behind."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from rankaudit.errors import InputFileError, ParameterError
from rankaudit.report.pdf import print_pdf

__all__ = ["check_outputs", "write_outputs"]


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
    a set; returns each written file's size in bytes by kind."""
    temps: dict[Path, Path] = {}
    sizes: dict[str, int] = {}
    scratch: list[Path] = []
    try:
        page: Path | None = None
        if html_path is not None or pdf_path is not None:
            content = html()
            target = html_path if html_path is not None else pdf_path
            assert target is not None
            page = _temporary(target, ".html")
            _write(page, content)
            if html_path is not None:
                temps[page] = html_path
                sizes["html"] = len(content)
            else:
                scratch.append(page)
        if json_path is not None:
            content = json()
            temp = _temporary(json_path, ".json")
            _write(temp, content)
            temps[temp] = json_path
            sizes["json"] = len(content)
        if pdf_path is not None:
            assert page is not None
            temp = _temporary(pdf_path, ".pdf")
            scratch.append(temp)  # the browser creates it; removed on failure
            print_pdf(page, temp, browser=browser)
            scratch.remove(temp)
            temps[temp] = pdf_path
            sizes["pdf"] = temp.stat().st_size
        for temp, final in temps.items():
            os.replace(temp, final)
    except BaseException:
        for temp in [*temps, *scratch]:
            temp.unlink(missing_ok=True)
        raise
    finally:
        for temp in scratch:
            temp.unlink(missing_ok=True)
    return sizes
