"""Issue 14, item 6: the loopback server answers only to the names it is bound to (DNS
rebinding: `Host: evil.example` was answered 200)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from dash_app.server import BackgroundServer, HostCheck
from rankaudit.cli import app
from rankaudit.views import WorkspaceSession
from tests.app.conftest import DEMO, session

__all__ = ["session"]  # fixture used here


@pytest.fixture(scope="module")
def server(session: WorkspaceSession) -> Iterator[BackgroundServer]:
    with BackgroundServer(session, allowed_hosts=("audit.example", "proxy.example:8443")) as bg:
        yield bg


def status(server: BackgroundServer, host: str | None, path: str = "/") -> tuple[int, bytes]:
    """Status and body of a GET sent with exactly this Host header (None: no Host)."""
    port = int(server.server.effective_port)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST:{port}", 200),
        ("[::1]:{port}", 200),
        ("audit.example", 200),  # --allowed-host, any port
        ("audit.example:443", 200),
        ("proxy.example:8443", 200),  # --allowed-host with its port
        ("proxy.example:8444", 400),
        ("proxy.example", 400),
        ("evil.example", 400),
        ("evil.example:{port}", 400),
        ("127.0.0.1:1", 400),  # another port
        ("127.0.0.1", 400),  # port 80 implied
        ("127.0.0.2:{port}", 400),  # not the bound address
        ("localhost.evil.example:{port}", 400),
        ("", 400),
        (None, 400),
    ],
)
def test_only_bound_and_allowed_hosts_are_answered(
    server: BackgroundServer, host: str | None, expected: int
) -> None:
    port = int(server.server.effective_port)
    code, body = status(server, None if host is None else host.format(port=port))
    assert code == expected
    if expected == 400:
        assert body.startswith(b"400 Bad Request: unknown Host header")
        assert len(body) < 200


def test_every_route_is_checked(server: BackgroundServer) -> None:
    for path in ("/timeline/u000406", "/_dash-layout", "/_dash-dependencies", "/assets/app.css"):
        assert status(server, "evil.example", path)[0] == 400


@pytest.mark.parametrize(
    ("bound", "host", "accepted"),
    [
        ("0.0.0.0", "192.0.2.7:8050", True),  # an address literal cannot be rebound
        ("0.0.0.0", "[2001:db8::1]:8050", True),
        ("0.0.0.0", "localhost:8050", True),
        ("0.0.0.0", "evil.example:8050", False),
        ("0.0.0.0", "192.0.2.7:9999", False),
        ("192.0.2.10", "192.0.2.10:8050", True),
        ("192.0.2.10", "192.0.2.11:8050", False),
        ("192.0.2.10", "evil.example:8050", False),
        ("::1", "[::1]:8050", True),
        ("::1", "localhost:8050", True),
        ("127.0.0.1", "x" * 400, False),
    ],
)
def test_host_rules(bound: str, host: str, accepted: bool) -> None:
    check = HostCheck(lambda environ, start: [b""], host=bound)
    check.port = 8050
    assert check.accepts(host) is accepted


@pytest.mark.parametrize("name", ["http://evil.example/", "*.example", "a b", "x:99999", ""])
def test_bad_allowed_host_is_one_line(name: str) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--workspace", str(DEMO), "--allowed-host", name],
        env={"RANKAUDIT_TOKEN": None, "RANKAUDIT_BASIC_AUTH": None},  # type: ignore[dict-item]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--allowed-host must be a host name or address" in lines[0]


def test_host_check_comes_before_authentication(session: WorkspaceSession) -> None:
    from dash_app.auth import Credentials

    with BackgroundServer(session, credentials=Credentials(token="t" * 20)) as bg:
        port = int(bg.server.effective_port)
        assert status(bg, "evil.example")[0] == 400
        assert status(bg, f"127.0.0.1:{port}")[0] == 401
