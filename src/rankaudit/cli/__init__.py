"""The `rankaudit` command line: one module per group of commands, registered on one app."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from rankaudit.cli import (
    _attribute,
    _compare,
    _drift,
    _exposure,
    _init,
    _report,
    _sanity,
    _serve,
    _workspace,
)
from rankaudit.libraries import skip_estimator_apis

__all__ = ["app", "main"]

app = typer.Typer(
    name="rankaudit",
    help="Explainable-ranking debugging and model audits for timeline rankers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    trust_model_code: Annotated[
        bool,
        typer.Option(
            "--trust-model-code",
            help="Let every model run the Python code its folder names (torch 'entrypoint' "
            "factories), as if each had trust_code = true in rankaudit.toml. Only for model "
            "folders you trust.",
        ),
    ] = False,
) -> None:
    """Explainable-ranking debugging and model audits for timeline rankers."""
    if trust_model_code:
        from rankaudit.models.base import TRUST_ENV  # not at import: `--help` stays light

        # An environment variable, so that the local engine's spawned workers inherit it;
        # restored when the command ends (the app may be invoked again in one process).
        previous = os.environ.get(TRUST_ENV)
        os.environ[TRUST_ENV] = "1"
        ctx.call_on_close(lambda: _restore(previous))


def _restore(previous: str | None) -> None:
    from rankaudit.models.base import TRUST_ENV

    if previous is None:
        os.environ.pop(TRUST_ENV, None)
    else:
        os.environ[TRUST_ENV] = previous


for _module in (
    _workspace,
    _init,
    _compare,
    _attribute,
    _serve,
    _report,
    _drift,
    _exposure,
    _sanity,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    skip_estimator_apis()
    sys.exit(app())
