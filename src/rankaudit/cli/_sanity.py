"""`rankaudit sanity`: the model-parameter randomisation test, as a CI gate.

Exits 0 when every method's median Spearman correlation (trained vs re-initialised weights) is
at most `--max-spearman`, 1 when one exceeds it, 2 on bad input (one line on stderr)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rankaudit.cli._common import WorkspaceOption, handle_errors, open_workspace, stdout_console
from rankaudit.cli._device import DeviceOption, check_device

# DEFAULT_MAX_SPEARMAN of rankaudit.attribution.sanity, written out so that `--help` stays light.
_MAX_SPEARMAN = 0.3


class SanityFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(sanity)


@handle_errors
def sanity(
    model: Annotated[str, typer.Option(help="Model of the workspace to check (torch or linear).")],
    workspace: WorkspaceOption = Path("."),
    sample: Annotated[
        int, typer.Option(help="Explain a seeded sample of whole requests, about this many rows.")
    ] = 200,
    seed: Annotated[
        int, typer.Option(help="Seed of the sample, the new weights and SHAP permutations.")
    ] = 0,
    max_spearman: Annotated[
        float, typer.Option(help="Fail (exit 1) when a method's median Spearman exceeds this.")
    ] = _MAX_SPEARMAN,
    method: Annotated[
        str, typer.Option(help="ig, shap, or all (every method that applies).")
    ] = "all",
    output: Annotated[
        SanityFormat, typer.Option("--format", help="table (terminal) or json.")
    ] = SanityFormat.table,
    device: DeviceOption = "cpu",
) -> None:
    """Do the explanations depend on the model? Attributions (request reference, final score)
    of the trained model against the same architecture with re-initialised weights."""
    import json
    import sys

    from rankaudit.attribution.batch import sample_requests
    from rankaudit.attribution.sanity import check_sanity
    from rankaudit.attribution.settings import AttributionSettings
    from rankaudit.errors import ParameterError

    check_device(device)
    if not 0.0 <= max_spearman <= 1.0:
        raise ParameterError(
            f"The '--max-spearman' option must be in [0, 1]. Got {max_spearman!r} instead."
        )
    loaded = open_workspace(workspace, [model])
    ranker = loaded.ranker(model)
    rows = sample_requests(loaded, sample, seed=seed)
    settings = AttributionSettings(seed=seed, device=device)  # type: ignore[arg-type]
    result = check_sanity(ranker, rows, methods=method, settings=settings, threshold=max_spearman)
    if output is SanityFormat.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    else:
        console = stdout_console()
        console.print(
            f"sanity of {model}: {len(rows)} rows of {rows['request_id'].nunique()} requests, "
            f"trained vs re-initialised weights (seed {seed}), request reference, final score",
            markup=False,
        )
        for row in result.to_frame().itertuples(index=False):
            verdict = "ok" if row.passed else "FAIL"
            console.print(
                f"  {row.method}: median Spearman {row.median_spearman:.3f} "
                f"(max {row.max_spearman:.3f}, {row.tweets} tweets, {row.undefined} undefined) "
                f"limit {max_spearman}: {verdict}",
                markup=False,
            )
    if not result.passed:
        raise typer.Exit(1)
