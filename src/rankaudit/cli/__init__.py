"""The `rankaudit` command line: one module per group of commands, registered on one app."""

from __future__ import annotations

import sys

import typer

from rankaudit.cli import _attribute, _compare, _drift, _init, _report, _serve, _workspace

__all__ = ["app", "main"]

app = typer.Typer(
    name="rankaudit",
    help="Explainable-ranking debugging and model audits for timeline rankers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for _module in (_workspace, _init, _compare, _attribute, _serve, _report, _drift):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
