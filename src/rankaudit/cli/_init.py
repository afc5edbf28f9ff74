"""`rankaudit init`: scaffold a workspace from a log (or an svmlight file) and model files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rankaudit.cli._common import handle_errors, stdout_console
from rankaudit.errors import ParameterError, ValidationFailed

if TYPE_CHECKING:
    from rankaudit.scaffold import InitReport


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("init")(init)


@handle_errors
def init(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the workspace to.")],
    logs: Annotated[
        Path | None,
        typer.Option(help="Your log: a Parquet, CSV or JSONL file, or a folder of them."),
    ] = None,
    from_svmlight: Annotated[
        Path | None,
        typer.Option(
            "--from-svmlight",
            help="Import a LETOR/svmlight file (<grade> qid:<q> <id>:<value> ...) as the log.",
        ),
    ] = None,
    query: Annotated[
        Path | None,
        typer.Option(
            help="With --from-svmlight: group sizes, one per line (LightGBM's .query file)."
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="A model as NAME=PATH (repeat); its kind is guessed from the file."
        ),
    ] = None,
    drop_single: Annotated[
        bool,
        typer.Option(help="With --from-svmlight: leave out requests holding one document."),
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Write into a non-empty --out folder (other files stay).")
    ] = False,
) -> None:
    """Write rankaudit.toml and features.yaml guessed from your log and models, then validate
    them; prints what was guessed and what to check."""
    from rankaudit.scaffold import init_from_logs, init_from_svmlight, parse_model_option

    if from_svmlight is None and (query is not None or drop_single):
        raise ParameterError("init: --query and --drop-single go with --from-svmlight only")
    models = [parse_model_option(text) for text in model or ()]
    if logs is not None and from_svmlight is None:
        report = init_from_logs(logs, out=out, models=models, force=force)
    elif from_svmlight is not None and logs is None:
        report = init_from_svmlight(
            from_svmlight, out=out, query=query, models=models, force=force, drop_single=drop_single
        )
    else:
        raise ParameterError("init: give exactly one of --logs LOG or --from-svmlight FILE")
    _print_report(report)
    if report.problems:
        raise ValidationFailed(list(report.problems))


def _print_report(report: InitReport) -> None:
    out = stdout_console()

    def say(text: str) -> None:
        out.print(text, markup=False, emoji=False)

    say(f"wrote {report.config} and features.yaml (logs: {report.logs}, not copied)")
    for note in report.notes:
        say(f"  {note}")
    by_kind: dict[str, list[str]] = {}
    for feature in report.spec:
        by_kind.setdefault(feature.kind, []).append(feature.name)
    counts = ", ".join(f"{len(names)} {kind}" for kind, names in by_kind.items())
    say(f"features: {len(report.spec)} ({counts}), {report.source}")
    for kind, names in by_kind.items():
        shown = ", ".join(names[:12]) + (
            f", ... ({len(names) - 12} more)" if len(names) > 12 else ""
        )
        say(f"  {kind}: {shown}")
    if report.heads:
        say(f"heads: {', '.join(report.heads)} (weight 1.0 each)")
    if report.relevance is not None:
        say(f"relevance: column {report.relevance.column!r}, gain {report.relevance.gain}")
    for guess in report.models:
        say(f"model {guess.name}: {guess.kind} ({guess.reason})")
    if report.summary is not None:
        logs = report.summary.logs
        say(
            f"validate: ok, {logs.rows} rows, {logs.requests} requests, {logs.users} users; "
            f"{len(report.summary.models)} model(s) load and match the spec"
        )
        for note in report.summary.notes:
            say(f"  note: {note}")
    else:
        say(
            f"validate: {len(report.problems)} problem(s), listed on stderr; the workspace is "
            "written so that you can fix them, then run `rankaudit validate`"
        )
    say("check these:")
    for check in report.checks:
        say(f"  - {check}")
