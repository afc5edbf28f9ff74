"""`rankaudit serve --workers 2`: two forked processes answer on one socket, each with the
Host check and authentication; a worker that dies is reported and replaced; SIGTERM stops
them all, and workers whose parent was killed stop on their own.

Loopback only, a small workspace (a linear ranker, no torch), Linux (/proc shows which
process holds which connection)."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dash_app.server import MAX_WORKERS, check_workers, default_workers
from rankaudit.cli import app
from rankaudit.errors import ParameterError
from tests.conftest import small_log, write_workspace

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; fork serving is Linux/macOS"
)
TOKEN = "workers-test-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]


class Server:
    """`python -m rankaudit serve ...` with its announced port, its workers' pids (from the
    parent's log line) and every stderr line (read in a thread, so nothing blocks)."""

    def __init__(self, workspace: Path, workers: int) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "RANKAUDIT_TOKEN": TOKEN}
        for name in ("RANKAUDIT_TOKEN_FILE", "RANKAUDIT_BASIC_AUTH", "RANKAUDIT_BASIC_AUTH_FILE"):
            env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rankaudit", "serve", "--workspace", str(workspace),
             "--port", "0", "--vs", "baseline", "deep", "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        assert self.process.stdout is not None
        announced = self.process.stdout.readline()
        assert "2 worker processes" in announced, self.stderr_so_far()
        self.port = int(announced.split(" at ")[1].split()[0].rstrip("/").rsplit(":", 1)[1])
        line = self.wait_for("serving from 2 worker processes")
        self.workers = [int(p) for p in line.split("(pids ")[1].split(")")[0].split()]

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The next stderr line holding `text`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if text in line:
                return line
        raise AssertionError(f"no log line with {text!r} within {timeout} s")

    def stderr_so_far(self) -> str:
        if self.process.poll() is not None and self.process.stderr is not None:
            return self.process.stderr.read()
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@contextmanager
def serving(tmp_path: Path, workers: int = 2) -> Iterator[Server]:
    server = Server(write_workspace(tmp_path / "ws", small_log(users=12)), workers)
    try:
        yield server
    finally:
        server.stop()


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def holder_of(client: http.client.HTTPConnection, server_port: int, workers: list[int]) -> int:
    """The worker holding the server side of `client`'s connection (/proc/net/tcp gives the
    socket's inode, the worker's /proc/PID/fd the socket)."""
    client_port = client.sock.getsockname()[1]
    wanted = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = next(
        fields[9]
        for fields in (ln.split() for ln in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if (fields[1], fields[2]) == wanted
    )
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def status(
    client: http.client.HTTPConnection, path: str, *, token: str | None, host: str | None = None
) -> int:
    headers = {"Host": host or f"127.0.0.1:{client.port}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    client.request("GET", path, headers=headers)
    response = client.getresponse()
    response.read()
    return int(response.status)


def test_two_workers_answer_check_and_stop(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        assert children_of(server.process.pid) == set(server.workers)
        assert len(set(server.workers)) == 2
        holders: dict[int, list[int]] = {}
        clients: list[http.client.HTTPConnection] = []
        # Connections go to whichever worker accepts first: open more until both have some.
        for _ in range(8):
            batch = [
                http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for _ in range(6)
            ]
            for client in batch:
                client.connect()
            clients.extend(batch)
            for client in batch:
                # On every connection, whichever worker holds it: the Host check (first),
                # authentication, then the app.
                assert status(client, "/", token=TOKEN, host="rebound.example:80") == 400
                assert status(client, "/", token=None) == 401
                assert status(client, "/", token="wrong-token-0123456789") == 401
                assert status(client, "/", token=TOKEN) == 200
                holders.setdefault(holder_of(client, server.port, server.workers), []).append(1)
            if len(holders) == 2:
                break
        assert set(holders) == set(server.workers), holders
        # A page and Dash's endpoints from each worker.
        for pid in server.workers:
            client = next(c for c in clients if holder_of(c, server.port, server.workers) == pid)
            assert status(client, "/timeline/u000001", token=TOKEN) == 200
            assert status(client, "/_dash-dependencies", token=TOKEN) == 200
        for client in clients:
            client.close()

        # A worker that dies is reported and replaced.
        dead = server.workers[0]
        os.kill(dead, signal.SIGKILL)
        line = server.wait_for("was killed by SIGKILL")
        assert f"(pid {dead})" in line
        assert "starting another" in line
        deadline = time.monotonic() + 20
        while len(children_of(server.process.pid) - {dead}) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = children_of(server.process.pid) - {dead}
        assert len(workers) == 2
        assert server.workers[1] in workers
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        assert status(client, "/", token=TOKEN) == 200
        client.close()

        # SIGTERM stops the parent and every worker.
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert server.process.stdout is not None
        assert "rankaudit: stopped" in server.process.stdout.read()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers)


def test_workers_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        server.process.kill()  # SIGKILL: the parent cannot stop its workers
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in server.workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in server.workers)


@pytest.mark.parametrize("workers", [0, -1, MAX_WORKERS + 1, True, 2.0])
def test_bad_worker_counts_are_refused(workers: object) -> None:
    with pytest.raises(ParameterError) as error:
        check_workers(workers)  # type: ignore[arg-type]
    assert str(error.value) == (
        f"The 'workers' parameter of serve must be an int in 1..{MAX_WORKERS}. "
        f"Got {workers!r} instead."
    )


def test_worker_counts() -> None:
    assert check_workers(3) == 3
    cores = len(os.sched_getaffinity(0))
    assert default_workers() == min(2, cores)


def test_cli_refuses_zero_workers() -> None:
    result = CliRunner().invoke(app, ["serve", "--workspace", str(ROOT), "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.stderr
