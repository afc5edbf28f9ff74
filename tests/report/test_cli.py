"""`rankaudit report` on the command line: bad input is one clear line on stderr and exit 2,
before anything slow and without leaving a file; outputs are written all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from rankaudit.errors import InputFileError
from rankaudit.report import BrowserError, Selection
from rankaudit.report.output import check_outputs, write_outputs
from tests.report.conftest import DEMO

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["report", "--workspace", str(DEMO), *args], env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "u_nobody"], "unknown user 'u_nobody'"),
        (["--request", "r_nowhere"], "unknown request 'r_nowhere'"),
        (["--sample", "0"], "The 'sample' parameter of build_report must be an int >= 1. Got 0"),
        (["--surprising", "-1"], "must be an int >= 1"),
        (["--user", " "], "the selection is empty"),
        ([], "choose the report's viewers one way"),
        (["--user", "u000406", "--sample", "2"], "got users, sample"),
        (["--user", "u000406", "--vs", "baseline", "nope"], "no model named 'nope'"),
    ],
)
def test_bad_selection_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(
        *args, "--out", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json")
    )
    assert code == 2, (out, err)
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_or_clashing_outputs_fail_before_any_work(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "r.html"
    code, _, err = invoke("--user", "u000406", "--out", str(missing))
    assert code == 2
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = invoke("--user", "u000406", "--out", str(tmp_path))
    assert code == 2
    assert "is a folder" in err
    same = tmp_path / "r.html"
    code, _, err = invoke("--user", "u000406", "--out", str(same), "--pdf", str(same))
    assert code == 2
    assert "same file" in err
    assert list(tmp_path.iterdir()) == []


def test_pdf_without_a_browser_says_how_to_get_one(tmp_path: Path) -> None:
    env = {"RANKAUDIT_CHROMIUM": str(tmp_path / "no-chromium")}
    code, _, err = invoke(
        "--user",
        "u000406",
        "--out",
        str(tmp_path / "r.html"),
        "--pdf",
        str(tmp_path / "r.pdf"),
        env=env,
    )
    assert code == 2
    assert "--pdf needs headless Chromium" in err
    assert "apt-get install chromium" in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_outputs_are_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(html: Path, pdf: Path, **_: object) -> None:
        pdf.write_bytes(b"%PDF-half")
        raise BrowserError("chromium crashed")

    monkeypatch.setattr("rankaudit.report.output.print_pdf", broken)
    with pytest.raises(BrowserError):
        write_outputs(
            html=lambda: b"<html></html>",
            json=lambda: b"{}",
            html_path=tmp_path / "r.html",
            json_path=tmp_path / "r.json",
            pdf_path=tmp_path / "r.pdf",
        )
    assert list(tmp_path.iterdir()) == []
    sizes = write_outputs(
        html=lambda: b"<html></html>", json=lambda: b"{}", html_path=tmp_path / "r.html",
        json_path=tmp_path / "r.json",
    )  # fmt: skip
    assert sizes == {"html": 13, "json": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]


def test_an_unwritable_output_path_is_refused(tmp_path: Path) -> None:
    """Refused before any work: a folder that is a file (holds for root too), and a read-only
    folder (only checkable without root, who writes anywhere)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputFileError, match="is a file, not a folder"):
        check_outputs(out=blocker / "r.html")
    if os.geteuid() == 0:
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputFileError, match="not writable"):
            check_outputs(out=locked / "r.html")
    finally:
        locked.chmod(0o700)


def test_selection_keeps_ids_once_in_order() -> None:
    selection = Selection.from_options(users=["b", "a", "b", " "])
    assert selection.ids == ("b", "a")
    assert selection.to_dict(str.upper) == {"mode": "users", "users": ["B", "A"]}
