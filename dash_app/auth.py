"""Authentication for a served app: credentials from the environment or a file, checked by a
small WSGI middleware with constant-time comparisons.

Two kinds, either or both:

- a bearer token: `Authorization: Bearer <token>`; browsers, which cannot send that header,
  may give the token as the password of HTTP basic auth (any user name);
- basic-auth credentials `user:password`.

Sources, first found wins per kind: the environment variable (`RANKAUDIT_TOKEN`,
`RANKAUDIT_BASIC_AUTH`), the file named by `RANKAUDIT_TOKEN_FILE` / `RANKAUDIT_BASIC_AUTH_FILE`,
or a file given on the command line. Secrets are never accepted as command-line values (they
would show in the process list) and never written to logs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankaudit.errors import InputFileError, ParameterError

__all__ = [
    "BASIC_ENV",
    "BASIC_FILE_ENV",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "AuthMiddleware",
    "Credentials",
    "load_credentials",
]

TOKEN_ENV = "RANKAUDIT_TOKEN"
TOKEN_FILE_ENV = "RANKAUDIT_TOKEN_FILE"
BASIC_ENV = "RANKAUDIT_BASIC_AUTH"
BASIC_FILE_ENV = "RANKAUDIT_BASIC_AUTH_FILE"
#: Shorter secrets are refused: a served app is reachable from the network.
MIN_SECRET = 12

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Credentials:
    """What a request must present: a bearer `token`, and/or basic-auth `user` + `password`."""

    token: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never print a secret
        kinds = [k for k, v in (("token", self.token), ("basic", self.user)) if v]
        return f"Credentials({', '.join(kinds)})"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k, v in (("bearer token", self.token), ("basic auth", self.user)) if v)

    def accepts(self, header: str) -> bool:
        """True when an `Authorization` header value carries valid credentials. Every
        comparison runs in constant time and all of them run, whatever matched."""
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        ok = False
        if scheme == "bearer" and self.token is not None:
            ok = _same(value, self.token)
        elif scheme == "basic":
            user, password = _basic(value)
            token_ok = self.token is not None and _same(password, self.token)
            basic_ok = (
                self.user is not None
                and self.password is not None
                and _same(user, self.user) & _same(password, self.password)
            )
            ok = bool(token_ok | basic_ok)
        return ok


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password


def _read_secret(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputFileError(
            f"{path}: cannot read the {what} file ({exc.strerror or exc})"
        ) from None
    if not text:
        raise InputFileError(f"{path}: the {what} file is empty")
    return text.splitlines()[0].strip()


def _check_token(token: str, source: str) -> str:
    if len(token) < MIN_SECRET:
        raise ParameterError(
            f"the token from {source} is too short ({len(token)} characters); use at least "
            f"{MIN_SECRET}, e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe())'`"
        )
    return token


def _check_basic(value: str, source: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ParameterError(f"the basic-auth credentials from {source} must read user:password")
    if len(password) < MIN_SECRET:
        raise ParameterError(
            f"the basic-auth password from {source} is too short; use at least {MIN_SECRET} characters"
        )
    return user, password


def load_credentials(
    environ: Mapping[str, str] | None = None,
    *,
    token_file: Path | None = None,
    basic_auth_file: Path | None = None,
) -> Credentials | None:
    """Read the credentials configured in `environ` (default: the process environment) or
    the given files; None when none is configured. Raises InputFileError for an unreadable
    file and ParameterError for a malformed or too short secret."""
    env = os.environ if environ is None else environ
    token: str | None = None
    if env.get(TOKEN_ENV):
        token = _check_token(env[TOKEN_ENV].strip(), f"${TOKEN_ENV}")
    else:
        path = Path(env[TOKEN_FILE_ENV]) if env.get(TOKEN_FILE_ENV) else token_file
        if path is not None:
            token = _check_token(_read_secret(path, "token"), str(path))
    basic: tuple[str, str] | None = None
    if env.get(BASIC_ENV):
        basic = _check_basic(env[BASIC_ENV].strip(), f"${BASIC_ENV}")
    else:
        path = Path(env[BASIC_FILE_ENV]) if env.get(BASIC_FILE_ENV) else basic_auth_file
        if path is not None:
            basic = _check_basic(_read_secret(path, "basic-auth"), str(path))
    if token is None and basic is None:
        return None
    return Credentials(
        token=token,
        user=None if basic is None else basic[0],
        password=None if basic is None else basic[1],
    )


class AuthMiddleware:
    """A WSGI middleware that answers 401 to any request without valid credentials."""

    def __init__(self, app: WSGIApp, credentials: Credentials, *, realm: str = "rankaudit") -> None:
        self.app = app
        self.credentials = credentials
        self.realm = realm

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.credentials.accepts(str(environ.get("HTTP_AUTHORIZATION", ""))):
            return self.app(environ, start_response)
        body = b"401 Unauthorized: this rankaudit server needs credentials.\n"
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", f'Basic realm="{self.realm}", charset="UTF-8"'),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]
