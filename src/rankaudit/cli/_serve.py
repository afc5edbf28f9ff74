"""`rankaudit serve`: the web app under waitress; `demo` serves through the same helper."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rankaudit.cli._common import WorkspaceOption, handle_errors, open_workspace
from rankaudit.cli._device import DeviceOption, check_device, with_device
from rankaudit.errors import ParameterError

if TYPE_CHECKING:
    from dash_app.auth import Credentials

HostOption = Annotated[
    str,
    typer.Option(
        help="Address to listen on. Anything but loopback needs authentication configured."
    ),
]
PortOption = Annotated[int, typer.Option(help="Port to listen on (0: any free port).")]
TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        help="File holding a bearer token (or set RANKAUDIT_TOKEN / RANKAUDIT_TOKEN_FILE)."
    ),
]
BasicFileOption = Annotated[
    Path | None,
    typer.Option(
        help="File holding user:password for basic auth (or set RANKAUDIT_BASIC_AUTH / "
        "RANKAUDIT_BASIC_AUTH_FILE)."
    ),
]
AllowedHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        help="Another name the server answers to (the Host header: a reverse proxy's or a DNS "
        "name), with an optional :port; repeatable. By default it answers only to the address "
        "it is bound to (127.0.0.1, localhost, [::1]), against DNS rebinding.",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        help="Processes serving the app (8 threads each), sharing the models, the index and "
        "the overview: a page keeps one core busy, so N workers serve up to N times the pages "
        "per second, at a few hundred MB more memory each (their own caches). Default: one per "
        "core, at most 2 (1 where the platform cannot fork).",
        min=1,
        max=64,
    ),
]
VsOption = Annotated[
    tuple[str, str],
    typer.Option(help="The two models to compare: REFERENCE AUDITED (default: baseline deep)."),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(serve)


def serve_workspace(
    workspace: Path,
    *,
    host: str,
    port: int,
    models: tuple[str, str],
    token_file: Path | None = None,
    basic_auth_file: Path | None = None,
    user: str | None = None,
    request: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    device: str = "cpu",
    workers: int | None = None,
) -> None:
    """Check the address and credentials, open the workspace, announce the URL on stdout
    (and the timeline of `user` / `request` when given, checked first) and serve from
    `workers` processes (None: `default_workers()`) until Ctrl+C or SIGTERM; the app
    explains torch rankers on `device`. Raises rankaudit errors for bad input."""
    check_device(device)
    if isinstance(port, bool) or not 0 <= port <= 65535:
        raise ParameterError(
            f"The 'port' parameter of serve must be in 0..65535. Got {port!r} instead."
        )
    from dash_app import auth, server  # the web layer, installed with rankaudit

    workers = server.check_workers(server.default_workers() if workers is None else workers)
    if workers > 1 and device != "cpu":
        # A CUDA context does not survive fork; one process owns the device.
        typer.echo(f"rankaudit: serving from 1 process: --device {device} cannot be forked")
        workers = 1
    credentials = auth.load_credentials(token_file=token_file, basic_auth_file=basic_auth_file)
    server.check_exposure(host, credentials)  # before anything slow: fail fast
    allowed_hosts = server.check_allowed_hosts(tuple(allowed_hosts))
    from rankaudit.models.threads import torch_threads

    # With workers, one torch thread from before the rankers first run: see dash_app.server.
    with torch_threads(1 if workers > 1 else None):
        _open_and_serve(
            workspace,
            host=host,
            port=port,
            models=models,
            credentials=credentials,
            user=user,
            request=request,
            allowed_hosts=allowed_hosts,
            device=device,
            workers=workers,
        )


def _open_and_serve(
    workspace: Path,
    *,
    host: str,
    port: int,
    models: tuple[str, str],
    credentials: Credentials | None,
    user: str | None,
    request: str | None,
    allowed_hosts: tuple[str, ...],
    device: str,
    workers: int,
) -> None:
    from dash_app import server
    from rankaudit.attribution import INTERACTIVE_SETTINGS
    from rankaudit.views import SessionSettings, WorkspaceSession

    options = SessionSettings(models=models, attribution=with_device(INTERACTIVE_SETTINGS, device))
    session = WorkspaceSession(open_workspace(workspace, models), options)
    start = "/"
    if user is not None or request is not None:
        from rankaudit.views import TimelineQuery

        viewer = user if user is not None else session.viewer_of(str(request))
        session.timeline(viewer, request)  # NotFoundError for unknown ids
        start = TimelineQuery(user=viewer, request=request).url()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    def announce(url: str) -> None:
        kinds = " and ".join(credentials.kinds) if credentials is not None else "none"
        processes = f"{workers} worker processes" if workers > 1 else "1 process"
        typer.echo(
            f"rankaudit: serving workspace {session.workspace.name!r} ({models[0]} vs {models[1]}) "
            f"at {url}  (authentication: {kinds}; {processes}; Ctrl+C to stop)"
        )
        if start != "/":
            typer.echo(f"open: {url.rstrip('/')}{start}")
        sys.stdout.flush()

    try:
        server.serve(
            session,
            host=host,
            port=port,
            credentials=credentials,
            on_ready=announce,
            allowed_hosts=allowed_hosts,
            workers=workers,
        )
    except OSError as exc:
        raise ParameterError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port"
        ) from None
    except KeyboardInterrupt:
        typer.echo("rankaudit: stopped")
    except RuntimeError as exc:  # worker processes kept dying: the log says why
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@handle_errors
def serve(
    workspace: WorkspaceOption = Path("."),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8050,
    token_file: TokenFileOption = None,
    basic_auth_file: BasicFileOption = None,
    vs: VsOption = ("baseline", "deep"),
    allowed_host: AllowedHostOption = None,
    device: DeviceOption = "cpu",
    workers: WorkersOption = None,
) -> None:
    """Serve the web app: overview, side-by-side timelines of any viewer with every tweet
    explained, and global feature views. Runs under waitress; binds 127.0.0.1 unless
    authentication is configured."""
    serve_workspace(
        workspace,
        host=host,
        port=port,
        models=vs,
        token_file=token_file,
        basic_auth_file=basic_auth_file,
        allowed_hosts=tuple(allowed_host or ()),
        device=device,
        workers=workers,
    )
