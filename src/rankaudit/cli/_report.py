"""`rankaudit report`: the audit report of chosen viewers as HTML, JSON and PDF."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from rankaudit.cli._common import (
    WorkspaceOption,
    handle_errors,
    open_workspace,
    stderr_console,
    stdout_console,
)
from rankaudit.cli._device import DeviceOption, with_device


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(report)


def _label(workspace: Path) -> str:
    """The workspace as the reproduce command names it: a relative path that stays inside
    the current folder as given, else a placeholder (no machine path in the report)."""
    text = workspace.as_posix()
    parts = PurePosixPath(text).parts
    if workspace.is_absolute() or ".." in parts or not parts:
        return "WORKSPACE_DIR"
    return text


@handle_errors
def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (self-contained).")],
    workspace: WorkspaceOption = Path("."),
    user: Annotated[
        list[str] | None,
        typer.Option("--user", help="Viewer to report on (repeat); their most disputed request."),
    ] = None,
    request: Annotated[
        list[str] | None, typer.Option("--request", help="Request to report on (repeat).")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(help="Report on N viewers drawn at random (with --seed).")
    ] = None,
    surprising: Annotated[
        int | None,
        typer.Option(help="Report on the N most surprising held-out requests (one per viewer)."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the JSON twin (every number shown).")
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option(help="Also print a PDF with headless Chromium.")
    ] = None,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            help="Replace viewer and author ids by keyed hashes (salt: RANKAUDIT_PSEUDONYM_SALT, "
            "else random; never written)."
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed of the sample, the bootstrap and every attribution.")
    ] = 0,
    vs: Annotated[
        tuple[str, str],
        typer.Option(help="The two models: REFERENCE AUDITED (default: baseline deep)."),
    ] = ("baseline", "deep"),
    movers: Annotated[int, typer.Option(help="Biggest movers per viewer explained pairwise.")] = 3,
    importance_rows: Annotated[
        int, typer.Option(help="Log rows (whole requests) behind global importance.")
    ] = 250,
    fast: Annotated[
        bool,
        typer.Option(
            help="Use the web app's attribution settings (fewer IG points and SHAP "
            "permutations): faster, coarser."
        ),
    ] = False,
    device: DeviceOption = "cpu",
) -> None:
    """Write an audit report: a manifest, deep-vs-baseline metrics with intervals, each
    viewer's two orderings with every tweet's SHAP and IG attributions, pairwise explanations
    of the biggest movers, global importance, method agreement and completeness."""
    import time

    from rankaudit.attribution import INTERACTIVE_SETTINGS, AttributionSettings
    from rankaudit.report import ReportSettings, Selection, build_report
    from rankaudit.report.output import check_outputs
    from rankaudit.report.pdf import require_browser

    # Everything that can be checked without computing is checked first.
    attribution = with_device(INTERACTIVE_SETTINGS if fast else AttributionSettings(), device)
    Selection.from_options(users=user, requests=request, sample=sample, surprising=surprising)
    check_outputs(out=out, json=json_out, pdf=pdf)
    if pdf is not None:
        require_browser()
    settings = ReportSettings(
        models=vs,
        attribution=attribution,
        seed=seed,
        movers=movers,
        importance_rows=importance_rows,
    ).validated()
    errors = stderr_console()
    started = time.perf_counter()
    built = build_report(
        open_workspace(workspace, vs),
        users=user,
        requests=request,
        sample=sample,
        surprising=surprising,
        settings=settings,
        pseudonymize=pseudonymize,
        progress=lambda message: errors.print(f"- {message}", emoji=False, markup=False),
        workspace_label=_label(workspace),
    )
    sizes = built.write(html=out, json=json_out, pdf=pdf)
    elapsed = time.perf_counter() - started
    console = stdout_console()
    for kind, path in (("html", out), ("json", json_out), ("pdf", pdf)):
        if path is not None:
            console.print(f"wrote {path} ({sizes[kind] / 1e6:.2f} MB)", markup=False)
    console.print(
        f"{built.viewers} viewer(s), {len(built.figures)} figures in {elapsed:.1f} s",
        markup=False,
    )
