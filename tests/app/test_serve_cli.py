"""`rankaudit serve`: loopback by default, refuses exposed addresses without credentials, and
a served app answers 401 to requests without them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankaudit.cli import app
from tests.app.conftest import DEMO

runner = CliRunner()
TOKEN = "cli-test-token-0123456789"
_NO_AUTH = {
    "RANKAUDIT_TOKEN": None,
    "RANKAUDIT_TOKEN_FILE": None,
    "RANKAUDIT_BASIC_AUTH": None,
    "RANKAUDIT_BASIC_AUTH_FILE": None,
}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_exposed_host_without_auth_exits_2(host: str) -> None:
    result = runner.invoke(app, ["serve", "--workspace", str(DEMO), "--host", host], env=_NO_AUTH)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in result.output
    assert lines[0].startswith(f"error: refusing to serve on {host} without authentication")
    assert "RANKAUDIT_TOKEN" in lines[0]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--token-file", "/nonexistent/file"], {}, "/nonexistent/file: cannot read the token file"),
        ([], {"RANKAUDIT_TOKEN": "tiny"}, "the token from $RANKAUDIT_TOKEN is too short"),
        (["--port", "70000"], {}, "The 'port' parameter of serve must be in 0..65535. Got 70000 instead."),
        (["--vs", "baseline", "gbdt"], {}, "no model named 'gbdt'"),
    ],
)  # fmt: skip
def test_bad_serve_input_is_one_line(args: list[str], env: dict[str, str], message: str) -> None:
    result = runner.invoke(app, ["serve", "--workspace", str(DEMO), *args], env={**_NO_AUTH, **env})
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@contextmanager
def running(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[list[str]]:
    """Run `python -m rankaudit ARGS` and yield its first stdout lines (URL announced)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rankaudit", *args],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        if "open:" not in lines[0] and "--request" in args:
            lines.append(process.stdout.readline())
        if not lines[0]:
            process.wait(timeout=30)
            raise AssertionError(
                f"server did not start: {process.stderr.read() if process.stderr else ''}"
            )
        yield lines
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    for attempt in range(50):
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except urllib.error.URLError:
            time.sleep(0.1 * attempt)
    raise AssertionError(f"{url} did not answer")


def test_served_with_a_token_on_all_interfaces(tmp_path: Path) -> None:
    # Run from another folder: the command must find the app without the repository on sys.path.
    args = ["serve", "--workspace", str(DEMO), "--host", "0.0.0.0", "--port", "0"]
    with running(args, {**{k: "" for k in _NO_AUTH}, "RANKAUDIT_TOKEN": TOKEN}, tmp_path) as lines:
        assert "authentication: bearer token" in lines[0]
        url = lines[0].split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert get(url) == 401
        assert get(url, "wrong-token-0123456789") == 401
        assert get(url, TOKEN) == 200
        assert get(url + "timeline/u000406", TOKEN) == 200
