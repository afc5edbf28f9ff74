"""Authentication: where credentials come from, what the middleware accepts, and a served app
that answers 401 without them."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from dash_app.auth import AuthMiddleware, Credentials, load_credentials
from dash_app.server import BackgroundServer, check_exposure, is_loopback, server_url
from rankaudit.errors import InputFileError, ParameterError
from rankaudit.views import WorkspaceSession

TOKEN = "s3cret-token-for-tests"
PASSWORD = "correct horse battery"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("credentials", "header", "accepted"),
    [
        (Credentials(token=TOKEN), f"Bearer {TOKEN}", True),
        (Credentials(token=TOKEN), f"bearer   {TOKEN} ", True),
        (Credentials(token=TOKEN), f"Bearer {TOKEN}x", False),
        (Credentials(token=TOKEN), "Bearer ", False),
        (Credentials(token=TOKEN), "", False),
        (Credentials(token=TOKEN), basic("anyone", TOKEN), True),  # browsers: the token as password
        (Credentials(token=TOKEN), basic("anyone", "nope"), False),
        (Credentials(user="ana", password=PASSWORD), basic("ana", PASSWORD), True),
        (Credentials(user="ana", password=PASSWORD), basic("bob", PASSWORD), False),
        (Credentials(user="ana", password=PASSWORD), basic("ana", PASSWORD + "!"), False),
        (Credentials(user="ana", password=PASSWORD), f"Bearer {PASSWORD}", False),
        (Credentials(user="ana", password=PASSWORD), "Basic !!!not-base64", False),
        (Credentials(token=TOKEN, user="ana", password=PASSWORD), basic("ana", PASSWORD), True),
        (Credentials(token=TOKEN, user="ana", password=PASSWORD), f"Bearer {TOKEN}", True),
        (Credentials(token=TOKEN), f"Digest {TOKEN}", False),
    ],
)
def test_credentials_accept(credentials: Credentials, header: str, accepted: bool) -> None:
    assert credentials.accepts(header) is accepted


def test_secrets_are_never_printed() -> None:
    credentials = Credentials(token=TOKEN, user="ana", password=PASSWORD)
    assert TOKEN not in repr(credentials)
    assert PASSWORD not in repr(credentials)
    assert repr(credentials) == "Credentials(token, basic)"


def test_load_credentials_from_environment_and_files(tmp_path: Path) -> None:
    assert load_credentials({}) is None
    assert load_credentials({"RANKAUDIT_TOKEN": TOKEN}) == Credentials(token=TOKEN)
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    assert load_credentials({"RANKAUDIT_TOKEN_FILE": str(token_file)}) == Credentials(token=TOKEN)
    assert load_credentials({}, token_file=token_file) == Credentials(token=TOKEN)
    basic_file = tmp_path / "basic"
    basic_file.write_text(f"ana:{PASSWORD}\n")
    both = load_credentials({"RANKAUDIT_TOKEN": TOKEN}, basic_auth_file=basic_file)
    assert both == Credentials(token=TOKEN, user="ana", password=PASSWORD)
    assert load_credentials({"RANKAUDIT_BASIC_AUTH": f"ana:{PASSWORD}"}) == Credentials(
        user="ana", password=PASSWORD
    )


@pytest.mark.parametrize(
    ("environ", "error", "message"),
    [
        ({"RANKAUDIT_TOKEN": "short"}, ParameterError, "the token from $RANKAUDIT_TOKEN is too short (5 characters)"),
        ({"RANKAUDIT_BASIC_AUTH": "no-colon"}, ParameterError, "must read user:password"),
        ({"RANKAUDIT_BASIC_AUTH": "ana:short"}, ParameterError, "basic-auth password from $RANKAUDIT_BASIC_AUTH is too short"),
        ({"RANKAUDIT_TOKEN_FILE": "/nonexistent/token"}, InputFileError, "/nonexistent/token: cannot read the token file"),
    ],
)  # fmt: skip
def test_bad_credentials_are_clear_errors(
    environ: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        load_credentials(environ)
    assert message in str(caught.value)


def test_empty_secret_file(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    with pytest.raises(InputFileError, match="the token file is empty"):
        load_credentials({}, token_file=empty)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("192.168.1.4", False), ("::", False), ("example.org", False)],
)  # fmt: skip
def test_only_loopback_serves_without_credentials(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        check_exposure(host, None)
    else:
        with pytest.raises(
            ParameterError, match=f"refusing to serve on {host} without authentication"
        ):
            check_exposure(host, None)
    check_exposure(host, Credentials(token=TOKEN))


def test_server_url() -> None:
    assert server_url("0.0.0.0", 8050) == "http://127.0.0.1:8050/"
    assert server_url("::1", 80) == "http://[::1]:80/"


def test_middleware_without_a_server() -> None:
    seen: list[str] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("200 OK", [])  # type: ignore[operator]
        return [b"ok"]

    middleware = AuthMiddleware(app, Credentials(token=TOKEN))
    body = middleware({}, lambda status, headers: seen.append(status))
    assert seen == ["401 Unauthorized"]
    assert b"401" in b"".join(body)
    assert middleware({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, lambda s, h: seen.append(s)) == [
        b"ok"
    ]


@pytest.fixture(scope="module")
def protected_url(session: WorkspaceSession) -> Iterator[str]:
    credentials = Credentials(token=TOKEN, user="ana", password=PASSWORD)
    with BackgroundServer(session, credentials=credentials) as server:
        yield server.url


def _status(url: str, header: str | None = None, data: bytes | None = None) -> tuple[int, Message]:
    request = urllib.request.Request(
        url, data=data, headers={"Authorization": header} if header else {}
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


@pytest.mark.parametrize("path", ["/", "/timeline/u000406", "/_dash-layout", "/assets/style.css"])
def test_served_app_needs_credentials(protected_url: str, path: str) -> None:
    status, headers = _status(protected_url + path)
    assert status == 401
    assert str(headers.get("WWW-Authenticate")).startswith('Basic realm="rankaudit"')
    assert _status(protected_url + path, f"Bearer {TOKEN}x")[0] == 401
    assert _status(protected_url + path, f"Bearer {TOKEN}")[0] == 200
    assert _status(protected_url + path, basic("ana", PASSWORD))[0] == 200
    assert _status(protected_url + path, basic("browser", TOKEN))[0] == 200


def test_callbacks_need_credentials_too(protected_url: str) -> None:
    status, _ = _status(protected_url + "/_dash-update-component", data=b"{}")
    assert status == 401
