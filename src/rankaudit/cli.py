"""The `rankaudit` command line. The only module that turns rankaudit errors into exit codes:
bad input prints one line on stderr and exits 2, never a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from rankaudit.errors import RankauditError, ValidationFailed

__all__ = ["app", "main"]

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="rankaudit",
    help="Explainable-ranking debugging and model audits for timeline rankers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
fixtures_app = typer.Typer(help="Build demo and benchmark workspaces.", no_args_is_help=True)
app.add_typer(fixtures_app, name="fixtures")


def _stdout() -> Console:
    """The console for results, made per command so that it sees the current environment."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped or captured output (files, CI logs) is not cut down to 80 columns.
        console.width = 160
    return console


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder holding rankaudit.toml.")
]


def _fail(message: str) -> None:
    # Messages quote user data (paths, "[models.deep]"): never interpret them as rich markup.
    _stderr().print(Text.assemble(("error: ", "bold red"), message), emoji=False)


def _handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Map rankaudit errors to exit code 2 and one line on stderr."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ValidationFailed as exc:
            for problem in exc.problems:
                _fail(problem)
            if len(exc.problems) > 1:
                _stderr().print(f"{len(exc.problems)} problems found", emoji=False)
            raise typer.Exit(2) from None
        except RankauditError as exc:
            _fail(str(exc))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


@app.command()
@_handle_errors
def validate(workspace: WorkspaceOption = Path(".")) -> None:
    """Check logs against the feature spec and every configured model."""
    from rankaudit.validation import validate_workspace
    from rankaudit.workspace import load_workspace

    summary = validate_workspace(load_workspace(workspace))
    out = _stdout()
    logs = summary.logs
    span = f"{logs.first_served:%Y-%m-%d %H:%M} .. {logs.last_served:%Y-%m-%d %H:%M} UTC"
    out.print(
        f"ok: {logs.rows} rows, {logs.requests} requests, {logs.users} users in {logs.files} file(s), "
        f"served {span}"
    )
    out.print(f"    {summary.features} features, heads: {', '.join(summary.heads)}")
    for model in summary.models:
        out.print(
            f"    model {model.name}: {model.description} (sha256 {model.fingerprint[:12]})",
            markup=False,
        )


@fixtures_app.command("build")
@_handle_errors
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
        progress=lambda m: _stderr().print(f"- {m}", emoji=False),
    )
    out = _stdout()
    out.print(
        f"wrote {report.out}: {report.rows} rows, {report.requests} requests, {report.users} users, "
        f"logs {report.log_bytes / 1e6:.2f} MB"
    )
    from rankaudit.render import evaluation_table

    out.print(evaluation_table(report.evaluation, title="held-out requests"))
    out.print(
        evaluation_table(report.evaluation_clean, title="held-out, without the planted-bug slice")
    )


@app.command()
@_handle_errors
def demo(
    workspace: WorkspaceOption = Path("fixtures/demo"),
    user: Annotated[
        str | None, typer.Option(help="Viewer to show (default: see --request).")
    ] = None,
    request: Annotated[
        str | None,
        typer.Option(help="Request to show (default: where the two rankers disagree most)."),
    ] = None,
    vs: Annotated[
        tuple[str, str], typer.Option(help="The two models to compare: BASELINE DEEP.")
    ] = ("baseline", "deep"),
) -> None:
    """Print one viewer's timeline as ordered by the baseline and by the deep ranker."""
    from rankaudit.render import timeline_table
    from rankaudit.timeline import load_side_by_side
    from rankaudit.workspace import load_workspace

    view = load_side_by_side(load_workspace(workspace), user=user, request=request, models=vs)
    _stdout().print(timeline_table(view))


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
