"""The exposure command: which groups the audited ranker amplifies, with intervals; a CI gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rankaudit.cli._common import WorkspaceOption, handle_errors, open_workspace, stdout_console
from rankaudit.cli._compare import FormatOption, OutputFormat, ScopeOpt, ScopeOption, VsOption


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(exposure)


@handle_errors
def exposure(
    workspace: WorkspaceOption = Path("."),
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="Group by this column (repeat): a log column, or an attribute of --groups; "
            "COL:E1,E2 buckets a numeric column at those edges, COL:qN into N quantiles.",
        ),
    ] = None,
    groups: Annotated[
        Path | None,
        typer.Option(
            "--groups",
            help="Author attribute file (.csv/.parquet): author_id, then one column per "
            "attribute (default: every attribute).",
        ),
    ] = None,
    vs: VsOption = ("baseline", "deep"),
    attention: Annotated[
        str,
        typer.Option(
            "--attention",
            help="Position model: log (1/log2(1+k)), geometric:P (patience P) or empirical "
            "(scroll depth estimated from the logs).",
        ),
    ] = "log",
    output: FormatOption = OutputFormat.table,
    fail_above: Annotated[
        float | None,
        typer.Option(
            "--fail-above",
            help="Exit 1 when a group's amplification interval lies wholly beyond ±X (a "
            "fraction: 0.1 is 10%).",
        ),
    ] = None,
    scope: ScopeOpt = ScopeOption.holdout,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of viewers.")] = 1000,
    permutations: Annotated[
        int, typer.Option(help="Draws of the permutation tests between groups.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the tests.")] = 0,
) -> None:
    """Audit amplification: each group's reach and exposure under the audited ranker against
    the reference (REFERENCE AUDITED), at the ranking stage on a fixed candidate pool."""
    from rankaudit.errors import ParameterError
    from rankaudit.exposure import ExposureSettings, audit_exposure

    if not group and groups is None:
        raise ParameterError(
            "give --group COLUMN (a log column) or --groups FILE (author attributes)"
        )
    if fail_above is not None and not fail_above >= 0:
        raise ParameterError(f"--fail-above must be a number >= 0 (0.1 is 10%). Got {fail_above}.")
    settings = ExposureSettings(
        attention=attention, n_bootstrap=bootstrap, n_permutations=permutations, seed=seed
    ).validated("rankaudit exposure")
    loaded = open_workspace(workspace, vs)
    audit = audit_exposure(
        loaded, groups=group or (), attributes=groups, models=vs, settings=settings,
        scope=scope.value,
    )  # fmt: skip
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(audit.to_dict(), indent=2, allow_nan=False) + "\n")
    elif output is OutputFormat.csv:
        sys.stdout.write(audit.to_frame().to_csv(index=False))
    else:
        from rankaudit.render.exposure import exposure_tables

        stdout_console().print(exposure_tables(audit))
    if fail_above is not None:
        flagged = audit.beyond(fail_above)
        if len(flagged):
            names = ", ".join(
                f"{g}={v}" for g, v in zip(flagged["grouping"], flagged["group"], strict=True)
            )
            print(
                f"amplification beyond ±{fail_above:g} for {len(flagged)} group(s): {names}",
                file=sys.stderr,
            )
            raise typer.Exit(1)
