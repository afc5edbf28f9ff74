"""A failed report write leaves no temporary behind, and a rerun removes the ones a killed run
left (issue 14, item 7)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rankaudit.errors import InputFileError
from rankaudit.report.output import write_outputs

HTML = b"<html>" + b"x" * 4096 + b"</html>"
JSON = b'{"report": 1}\n'


class _FullDisk:
    """A file whose disk fills up halfway through the first write."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.written = 0

    def write(self, data: bytes) -> int:
        half = len(data) // 2
        self.handle.write(data[:half])
        self.handle.flush()
        self.written += half
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


@pytest.mark.parametrize("failing", ["html", "json"])
def test_a_full_disk_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    opened: list[tuple[Path, _FullDisk]] = []
    real_open = Path.open

    def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        if mode == "xb" and self.name.endswith(f".{failing}"):
            opened.append((self, _FullDisk(handle)))
            return opened[-1][1]
        return handle

    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(InputFileError, match=r"cannot write \(No space left on device\)"):
        write_outputs(html=lambda: HTML, json=lambda: JSON, html_path=tmp_path / "r.html",
                      json_path=tmp_path / "r.json")  # fmt: skip
    ((temp, disk),) = opened
    assert temp.name.startswith(".r.")
    assert disk.written > 0
    assert sorted(tmp_path.iterdir()) == []  # ...and is gone, with every other temporary


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(child.stdout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    return pid


def test_a_rerun_removes_the_temporaries_of_a_killed_run(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = [
        tmp_path / f".r.html.{dead}.0123abcd.tmp.html",
        tmp_path / f".r.json.{dead}.89abcdef.tmp.json",
        tmp_path / f".r.html.{dead}.deadbeef.tmp.pdf",
    ]
    kept = [
        tmp_path / f".r.html.{os.getppid()}.0123abcd.tmp.html",  # a live writer's
        tmp_path / f".other.html.{dead}.0123abcd.tmp.html",  # another output's
        tmp_path / "r.html.notes",
    ]
    for path in stale + kept:
        path.write_bytes(b"partial")
    sizes = write_outputs(html=lambda: HTML, json=lambda: JSON, html_path=tmp_path / "r.html",
                          json_path=tmp_path / "r.json")  # fmt: skip
    assert sizes == {"html": len(HTML), "json": len(JSON)}
    assert (tmp_path / "r.html").read_bytes() == HTML
    assert sorted(tmp_path.iterdir()) == sorted([*kept, tmp_path / "r.html", tmp_path / "r.json"])
