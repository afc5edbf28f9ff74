"""Comparison commands: compare (one request, or the population), surprises."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rankaudit.cli._common import (
    AddressOption,
    EngineOption,
    PartitionsOption,
    WorkersOption,
    WorkspaceOption,
    handle_errors,
    open_workspace,
    rows_progress,
    stdout_console,
)

if TYPE_CHECKING:
    import pandas as pd

    from rankaudit.compare import CompareSettings, PopulationComparison
    from rankaudit.engine import Engine
    from rankaudit.workspace import Workspace


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ScopeOption(StrEnum):
    holdout = "holdout"
    all = "all"


VsOption = Annotated[
    tuple[str, str],
    typer.Option(help="The two models to compare: REFERENCE AUDITED (default: baseline deep)."),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="table (terminal), json or csv (stable keys: docs/compare.md)."),
]
POption = Annotated[
    float, typer.Option("--p", help="Persistence of rank-biased overlap, in (0, 1).")
]
ScopeOpt = Annotated[
    ScopeOption,
    typer.Option(
        help="holdout: requests served from the workspace's holdout_from on; all: every request."
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(compare)
    app.command()(surprises)


def _emit(
    output: OutputFormat,
    document: Callable[[], dict[str, Any]],
    frame: Callable[[], pd.DataFrame],
    tables: Callable[[], Any],
) -> None:
    """Write a result in the chosen format; only the chosen view is built."""
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(document(), indent=2, allow_nan=False) + "\n")
    elif output is OutputFormat.csv:
        sys.stdout.write(frame().to_csv(index=False))
    else:
        stdout_console().print(tables())


@handle_errors
def compare(
    workspace: WorkspaceOption = Path("."),
    user: Annotated[
        str | None, typer.Option(help="Viewer: compare their most disagreeing request.")
    ] = None,
    request: Annotated[str | None, typer.Option(help="Request to compare.")] = None,
    vs: VsOption = ("baseline", "deep"),
    output: FormatOption = OutputFormat.table,
    k: Annotated[
        list[int] | None,
        typer.Option("--k", help="Cut-off for top-k overlap and NDCG@k; repeat (default 5, 10)."),
    ] = None,
    p: POption = 0.9,
    scope: ScopeOpt = ScopeOption.holdout,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples of the intervals (population only).")
    ] = 1000,
    permutations: Annotated[
        int, typer.Option(help="Sign flips of the paired randomization test (population only).")
    ] = 10_000,
    seed: Annotated[
        int, typer.Option(help="Seed of the bootstrap and the test (population only).")
    ] = 0,
    engine: EngineOption = "local",
    address: AddressOption = None,
    num_workers: WorkersOption = None,
    partitions: PartitionsOption = None,
    store: Annotated[
        Path | None,
        typer.Option(
            help="Population only: write the per-tweet scores to this folder (a partitioned "
            "store, kept; an interrupted run resumes). Default: in memory, or a temporary "
            "folder with --engine ray."
        ),
    ] = None,
) -> None:
    """Compare two rankers' orderings: one viewer's or request's timeline, or (with neither)
    every request with intervals, paired tests and segments."""
    from rankaudit.compare import CompareSettings, compare_population, compare_request
    from rankaudit.errors import ParameterError

    batch = engine != "local" or store is not None
    if (user is not None or request is not None) and (
        batch or address is not None or num_workers is not None or partitions is not None
    ):
        raise ParameterError(
            "--engine, --address, --num-workers, --partitions and --store apply to the "
            "population comparison; drop them or drop --user/--request"
        )
    if (partitions is not None or num_workers is not None) and not batch:
        option = "--partitions" if partitions is not None else "--num-workers"
        raise ParameterError(f"{option} applies to a partitioned run: add --store DIR")

    settings = CompareSettings(
        k=tuple(k) if k else (5, 10),
        p=p,
        n_bootstrap=bootstrap,
        n_permutations=permutations,
        seed=seed,
    )
    loaded = open_workspace(workspace, vs)
    if user is None and request is None:
        from rankaudit.engine import make_engine

        runner = make_engine(engine, address=address, num_workers=num_workers)
        if batch:
            population = _partitioned_population(
                loaded, vs, settings, scope, runner, partitions, store
            )
        else:
            population = compare_population(loaded, models=vs, settings=settings, scope=scope.value)
        from rankaudit.render.compare import population_tables

        _emit(
            output, population.to_dict, population.to_frame, lambda: population_tables(population)
        )
        return
    comparison = compare_request(loaded, user=user, request=request, models=vs, settings=settings)
    from rankaudit.render.compare import request_tables

    _emit(output, comparison.to_dict, comparison.to_frame, lambda: request_tables(comparison))


def _partitioned_population(
    loaded: Workspace,
    models: tuple[str, str],
    settings: CompareSettings,
    scope: ScopeOption,
    runner: Engine,
    partitions: int | None,
    store: Path | None,
) -> PopulationComparison:
    """The population comparison scored on an engine, with a progress bar on stderr."""
    from rankaudit.compare import compare_population

    with rows_progress("scoring") as (_, advance):
        return compare_population(
            loaded, models=models, settings=settings, scope=scope.value, engine=runner,
            store=store, partitions=partitions, progress=advance,
        )  # fmt: skip


@handle_errors
def surprises(
    workspace: WorkspaceOption = Path("."),
    top: Annotated[int, typer.Option(help="How many requests to list.")] = 10,
    vs: VsOption = ("baseline", "deep"),
    output: FormatOption = OutputFormat.table,
    k: Annotated[int, typer.Option("--k", help="The top of the timeline the score looks at.")] = 5,
    p: POption = 0.9,
    scope: ScopeOpt = ScopeOption.holdout,
) -> None:
    """List the requests most worth a look: the audited ranker disagrees, demotes what the
    viewer engaged with, promotes what they ignored, or sees features outside training range."""
    from rankaudit.compare import SurpriseSettings, find_surprises
    from rankaudit.errors import ParameterError

    if isinstance(top, bool) or top < 1:
        raise ParameterError(
            f"The 'top' parameter of surprises must be an int >= 1. Got {top!r} instead."
        )
    loaded = open_workspace(workspace, vs)
    found = find_surprises(
        loaded, models=vs, settings=SurpriseSettings(k=k, p=p), scope=scope.value
    )

    def table() -> Any:
        from rankaudit.attribution.disagreement import why_surprising
        from rankaudit.render.compare import surprises_table

        listed = [str(r) for r in found.top(top)["request_id"]]
        return surprises_table(found, top, why=why_surprising(loaded, listed, models=vs))

    _emit(output, lambda: found.to_dict(top=top), lambda: found.to_frame(top=top), table)
