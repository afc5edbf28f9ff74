"""What every command module shares: the error-to-exit-code mapping, consoles, common options.

The CLI package is the only code that turns rankaudit errors into exit codes: bad input prints
one line on stderr and exits 2, never a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from rankaudit.errors import RankauditError, ValidationFailed

if TYPE_CHECKING:
    from rankaudit.workspace import Workspace

__all__ = [
    "AddressOption",
    "EngineOption",
    "PartitionsOption",
    "WorkersOption",
    "WorkspaceOption",
    "handle_errors",
    "open_workspace",
    "rows_progress",
    "stderr_console",
    "stdout_console",
]

P = ParamSpec("P")
R = TypeVar("R")


def stdout_console() -> Console:
    """The console for results, made per command so that it sees the current environment."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped or captured output (files, CI logs) is not cut down to 80 columns.
        console.width = 160
    return console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder holding rankaudit.toml.")
]
# The engine options of the batch commands (attribute, compare, drift profile).
EngineOption = Annotated[
    str,
    typer.Option(help="local (this process, every core) or ray (needs rankaudit[ray])."),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        help="Ray cluster to join (ray://host:port or host:port); default: start a local one."
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(help="Ray actors, each loading the model once (default: one per CPU)."),
]
PartitionsOption = Annotated[
    int | None,
    typer.Option(help="Viewer partitions of the output (default: one per ~32k input rows)."),
]


def open_workspace(path: Path, models: Iterable[str]) -> Workspace:
    """Load the workspace at `path` and check its logs and `models` as `validate` does: every
    command that reads the logs starts here, so bad input stops it with validate's lines."""
    from rankaudit.validation import check_workspace
    from rankaudit.workspace import load_workspace

    return check_workspace(load_workspace(path), models)


def _fail(message: str) -> None:
    # Messages quote user data (paths, "[models.deep]"): never interpret them as rich markup.
    stderr_console().print(Text.assemble(("error: ", "bold red"), message), emoji=False)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Map rankaudit errors to exit code 2 and one line on stderr."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ValidationFailed as exc:
            for problem in exc.problems:
                _fail(problem)
            if len(exc.problems) > 1:
                stderr_console().print(f"{len(exc.problems)} problems found", emoji=False)
            raise typer.Exit(2) from None
        except RankauditError as exc:
            _fail(str(exc))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


@contextmanager
def rows_progress(
    label: str, total: int | None = None
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """A progress bar of rows on stderr, drawn only on a terminal (so that piped stderr holds
    nothing but the error line, when there is one): yields (set the total, advance by rows)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = stderr_console()
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=total)
        yield (lambda rows: bar.update(task, total=rows)), (lambda rows: bar.advance(task, rows))
