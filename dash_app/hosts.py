"""Which requests the server answers: the exposure rule (loopback, or credentials) and the
`Host` header check.

`check_exposure` refuses any address other than loopback without credentials. `HostCheck`
answers 400 to a request whose `Host` header names neither the bound address nor a name given
with `--allowed-host` (DNS rebinding: a page of another site whose name resolves to 127.0.0.1
would otherwise reach a loopback server as the user's browser).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from dash_app.auth import Credentials, StartResponse, WSGIApp
from rankaudit.errors import ParameterError

__all__ = ["HostCheck", "check_allowed_hosts", "check_exposure", "is_loopback", "server_url"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _split_host(value: str) -> tuple[str, str | None]:
    """`name:port` -> (lowercased name, port or None); IPv6 literals keep their brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return name + "]", port
    name, sep, port = value.rpartition(":")
    return (name, port) if sep and port.isdigit() else (value, None)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class HostCheck:
    """A WSGI middleware answering 400 to requests whose `Host` header the server is not
    known by: the names of the bound address (for loopback: 127.0.0.1, localhost and [::1];
    for the wildcard address: any IP literal, this machine's name) with the bound port, and
    the `allowed` names (any port, or the one they name). Set `port` once bound."""

    def __init__(self, app: WSGIApp, *, host: str, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.port: int | None = None
        self.wildcard = host.strip("[]") in ("", "0.0.0.0", "::")
        bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
        names = {bound.lower()}
        if is_loopback(host) or self.wildcard:
            names.update(_LOOPBACK_NAMES)
        if self.wildcard:
            names.update(n.lower() for n in (socket.gethostname(), socket.getfqdn()) if n)
        self.bound_names = frozenset(names)
        self.allowed = tuple(_split_host(name) for name in allowed)

    def accepts(self, header: str) -> bool:
        """True when a request with this `Host` header value is answered."""
        if not header or len(header) > 300:
            return False
        name, port = _split_host(header)
        for allowed_name, allowed_port in self.allowed:
            if name == allowed_name and (allowed_port is None or port == allowed_port):
                return True
        bound_port = None if self.port is None else str(self.port)
        if port != bound_port and not (port is None and bound_port == "80"):
            return False
        return name in self.bound_names or (self.wildcard and _is_ip_literal(name))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.accepts(str(environ.get("HTTP_HOST", ""))):
            return self.app(environ, start_response)
        body = (
            b"400 Bad Request: unknown Host header; this rankaudit server answers only to the "
            b"address it is bound to and names given with --allowed-host.\n"
        )
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def check_allowed_hosts(names: tuple[str, ...]) -> tuple[str, ...]:
    """The `--allowed-host` names, checked: host names or addresses, with an optional port.
    Raises ParameterError for anything else (a URL, a wildcard, a path)."""
    for name in names:
        host, port = _split_host(name)
        plain = host.strip("[]")
        valid = (
            bool(plain)
            and len(name) <= 253
            and (
                _is_ip_literal(plain)
                or all(
                    part and part.replace("-", "").replace("_", "").isalnum()
                    for part in plain.split(".")
                )
            )
        )
        if not valid or (port is not None and not 0 < int(port) < 65536):
            raise ParameterError(
                f"--allowed-host must be a host name or address with an optional :port, e.g. "
                f"audit.example.org or audit.example.org:8443. Got {name[:80]!r} instead."
            )
    return tuple(names)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, credentials: Credentials | None) -> None:
    """Raise ParameterError when `host` is reachable from other machines and no credentials
    are configured."""
    if credentials is None and not is_loopback(host):
        raise ParameterError(
            f"refusing to serve on {host} without authentication: anyone on the network could "
            "read the logs. Set RANKAUDIT_TOKEN (or RANKAUDIT_TOKEN_FILE, --token-file) or "
            "RANKAUDIT_BASIC_AUTH=user:password (or RANKAUDIT_BASIC_AUTH_FILE, "
            "--basic-auth-file), or bind --host 127.0.0.1"
        )


def server_url(host: str, port: int) -> str:
    """The URL to print for a bound address (the wildcard address prints as this machine)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
