"""Workspace commands: validate, demo, fixtures build."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rankaudit.cli._common import (
    WorkspaceOption,
    handle_errors,
    open_workspace,
    stderr_console,
    stdout_console,
)
from rankaudit.cli._serve import WorkersOption

fixtures_app = typer.Typer(help="Build demo and benchmark workspaces.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(validate)
    app.command()(demo)
    app.add_typer(fixtures_app, name="fixtures")


@handle_errors
def validate(workspace: WorkspaceOption = Path(".")) -> None:
    """Check logs against the feature spec and every configured model."""
    from rankaudit.validation import validate_workspace
    from rankaudit.workspace import load_workspace

    loaded = load_workspace(workspace)
    summary = validate_workspace(loaded)
    out = stdout_console()
    logs = summary.logs
    span = f"{logs.first_served:%Y-%m-%d %H:%M} .. {logs.last_served:%Y-%m-%d %H:%M} UTC"
    out.print(
        f"ok: {logs.rows} rows, {logs.requests} requests, {logs.users} users in {logs.files} file(s), "
        f"served {span}",
        markup=False,
    )
    heads = ", ".join(summary.heads) if summary.heads else "none"
    out.print(f"    {summary.features} features, heads: {heads}", markup=False)
    if loaded.relevance is not None:
        relevance = loaded.relevance
        out.print(
            f"    graded relevance: column {relevance.column!r}, {relevance.gain} gain",
            markup=False,
        )
    for model in summary.models:
        out.print(
            f"    model {model.name}: {model.description} (sha256 {model.fingerprint[:12]})",
            markup=False,
        )
    for note in summary.notes:
        out.print(f"note: {note}", markup=False)


@fixtures_app.command("build")
@handle_errors
def fixtures_build(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the workspace to.")],
    users: Annotated[
        int, typer.Option(help="Number of viewers to simulate (~50 rows each).")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the simulation and of training.")] = 7,
    force: Annotated[
        bool, typer.Option(help="Replace an existing, non-empty --out folder.")
    ] = False,
) -> None:
    """Simulate a home timeline, train the baseline and deep rankers, write a workspace."""
    from rankaudit.synth.build import build_workspace

    report = build_workspace(
        out_dir,
        users=users,
        seed=seed,
        force=force,
        progress=lambda m: stderr_console().print(f"- {m}", emoji=False),
    )
    out = stdout_console()
    out.print(
        f"wrote {report.out}: {report.rows} rows, {report.requests} requests, {report.users} users, "
        f"logs {report.log_bytes / 1e6:.2f} MB"
    )
    from rankaudit.render import evaluation_table

    out.print(evaluation_table(report.evaluation, title="held-out requests"))
    out.print(
        evaluation_table(report.evaluation_clean, title="held-out, without the planted-bug slice")
    )


@handle_errors
def demo(
    workspace: WorkspaceOption = Path("fixtures/demo"),
    user: Annotated[
        str | None, typer.Option(help="Viewer to open (default: see --request).")
    ] = None,
    request: Annotated[
        str | None,
        typer.Option(help="Request to open (default: where the two rankers disagree most)."),
    ] = None,
    vs: Annotated[
        tuple[str, str], typer.Option(help="The two models to compare: BASELINE DEEP.")
    ] = ("baseline", "deep"),
    host: Annotated[
        str, typer.Option(help="Address to serve on (loopback unless authentication is set).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on (0: any free port).")] = 8050,
    print_only: Annotated[
        bool,
        typer.Option(
            "--print", help="Print one timeline in the terminal instead of serving the app."
        ),
    ] = False,
    device: Annotated[
        str, typer.Option(help="auto, cpu, cuda or mps: where the app explains torch rankers.")
    ] = "cpu",
    workers: WorkersOption = None,
) -> None:
    """Serve the web app on the demo workspace and print its URL; with --print, print one
    viewer's timeline as ordered by the baseline and by the deep ranker instead."""
    if print_only:
        from rankaudit.render import timeline_table
        from rankaudit.timeline import load_side_by_side

        view = load_side_by_side(
            open_workspace(workspace, vs), user=user, request=request, models=vs
        )
        stdout_console().print(timeline_table(view))
        return
    from rankaudit.cli._serve import serve_workspace

    serve_workspace(
        workspace,
        host=host,
        port=port,
        models=vs,
        user=user,
        request=request,
        device=device,
        workers=workers,
    )
