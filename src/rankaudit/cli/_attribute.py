"""`rankaudit attribute` and `rankaudit explain`: attributions to Parquet, and in the terminal."""

from __future__ import annotations

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
from rankaudit.cli._device import DeviceOption, check_device, with_device
from rankaudit.errors import ParameterError

if TYPE_CHECKING:
    from rankaudit.attribution.settings import AttributionSettings

# AttributionSettings.ig_max_steps, written out so that `rankaudit --help` does not import
# the attribution package (pandas); tests/test_imports.py checks that the two agree.
_IG_MAX_STEPS = 128


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(attribute)
    app.command()(explain)


@handle_errors
def attribute(
    model: Annotated[str, typer.Option(help="Model of the workspace to explain.")],
    out: Annotated[
        Path,
        typer.Option(help="Folder to write: a partitioned store; an interrupted run resumes."),
    ],
    workspace: WorkspaceOption = Path("."),
    method: Annotated[
        str, typer.Option(help="ig, shap, or all (every method that applies).")
    ] = "all",
    reference: Annotated[str, typer.Option(help="global, request or pair.")] = "request",
    user: Annotated[str | None, typer.Option(help="Explain this viewer's requests.")] = None,
    request: Annotated[str | None, typer.Option(help="Explain this request.")] = None,
    sample: Annotated[
        int | None,
        typer.Option(help="Explain a seeded sample of whole requests, about this many rows."),
    ] = None,
    all_rows: Annotated[
        bool, typer.Option("--all", help="Explain every request of the log.")
    ] = False,
    heads: Annotated[
        list[str] | None,
        typer.Option("--heads", help="Heads to explain (repeat); default: all and the score."),
    ] = None,
    tweet: Annotated[str | None, typer.Option(help="Pair reference: the tweet to explain.")] = None,
    vs_tweet: Annotated[
        str | None, typer.Option(help="Pair reference: the tweet it is compared with.")
    ] = None,
    wide: Annotated[bool, typer.Option(help="One row per tweet, one column per feature.")] = False,
    shap_groups: Annotated[
        bool,
        typer.Option(
            help="SHAP plays the spec's feature groups (members enter together): one value "
            "per group, cheaper and steadier with many features (torch and linear models)."
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed of background sampling and SHAP permutations.")
    ] = 0,
    ig_max_steps: Annotated[
        int,
        typer.Option(help="Cap of IG's Gauss-Legendre points; rows above 1% error get flagged."),
    ] = _IG_MAX_STEPS,
    device: Annotated[
        str, typer.Option(help="auto, cpu, cuda or mps: where torch rankers are explained.")
    ] = "cpu",
    engine: EngineOption = "local",
    address: AddressOption = None,
    num_workers: WorkersOption = None,
    partitions: PartitionsOption = None,
) -> None:
    """Explain every ranked tweet of the selection, per head and for the final score."""
    from rankaudit.attribution import plan_attribution, run_attribution
    from rankaudit.engine import make_engine
    from rankaudit.errors import AttributionError
    from rankaudit.render import completeness_table

    if sum((user is not None, request is not None, sample is not None, all_rows)) != 1:
        raise AttributionError("choose exactly one of --user U, --request R, --sample N or --all")
    if reference == "pair" and (tweet is None or vs_tweet is None):
        raise AttributionError("the pair reference needs --tweet T and --vs-tweet T2")
    plan = plan_attribution(
        open_workspace(workspace, [model]), model, method=method, reference=reference, out=out, user=user,
        request=request, sample=sample, heads=heads, pair=(tweet, vs_tweet) if tweet and vs_tweet else None,
        wide=wide, settings=_settings(seed=seed, ig_max_steps=ig_max_steps, device=device), partitions=partitions,
        shap_groups=shap_groups,
    )  # fmt: skip
    runner = make_engine(engine, address=address, num_workers=num_workers)
    with rows_progress("explaining", plan.total_rows) as (_, advance):
        run = run_attribution(plan, engine=runner, progress=advance)
    console = stdout_console()
    resumed = run.partitions - run.computed
    console.print(
        f"wrote {run.out}: {run.rows} tweets explained in {run.partitions} partition(s)"
        + (f", {resumed} finished by an earlier run" if resumed else ""),
        markup=False,
    )
    console.print(completeness_table(run.completeness))
    worst = float(run.completeness["max_relative_error"].max())
    console.print(f"max relative completeness error: {worst:.3g}", markup=False)


def _settings(**values: Any) -> AttributionSettings:
    from rankaudit.attribution.settings import AttributionSettings

    try:
        settings = AttributionSettings(**values)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    if settings.device != "cpu":  # fail here, in one line, not in a worker
        from rankaudit.models.torch_ranker import resolve_device

        resolve_device(settings.device)
    return settings


class ExplainBy(StrEnum):
    feature = "feature"
    group = "group"


class ExplainFormat(StrEnum):
    table = "table"
    json = "json"


class ExplainQuantity(StrEnum):
    score = "score"
    rank = "rank"
    topk = "topk"
    exposure = "exposure"
    listwise = "listwise"


@handle_errors
def explain(
    workspace: WorkspaceOption = Path("."),
    user: Annotated[str | None, typer.Option(help="Viewer whose timeline to explain.")] = None,
    request: Annotated[
        str | None, typer.Option(help="Request (default: the viewer's most disputed one).")
    ] = None,
    tweet: Annotated[
        str | None, typer.Option(help="Tweet to explain (default: the biggest mover).")
    ] = None,
    vs_tweet: Annotated[
        str | None, typer.Option(help="Explain the tweet against this one: why above/below.")
    ] = None,
    reference: Annotated[
        str, typer.Option(help="request or global (ignored with --vs-tweet).")
    ] = "request",
    vs: Annotated[tuple[str, str], typer.Option(help="The two models: BASELINE DEEP.")] = (
        "baseline",
        "deep",
    ),
    top: Annotated[
        int,
        typer.Option(help="Rows listed per model; the rest add up in 'all other features (K)'."),
    ] = 12,
    by: Annotated[
        ExplainBy,
        typer.Option(help="feature, or group: the sum over each feature group of the spec."),
    ] = ExplainBy.feature,
    output: Annotated[
        ExplainFormat,
        typer.Option("--format", help="table (terminal), or json: every feature (or group)."),
    ] = ExplainFormat.table,
    quantity: Annotated[
        ExplainQuantity,
        typer.Option(
            help="score (why the score), rank / topk / exposure (why the tweet's position, other "
            "candidates fixed), or listwise (why the whole order: Kendall τ, NDCG@k, RBO)."
        ),
    ] = ExplainQuantity.score,
    k: Annotated[int, typer.Option("--k", help="Cut-off of topk and of listwise NDCG@k.")] = 10,
    device: DeviceOption = "cpu",
) -> None:
    """Both orderings of a request side by side, and why a tweet sits where it does."""
    import json
    import sys

    from rankaudit.attribution.api import DEFAULT_SETTINGS
    from rankaudit.errors import AttributionError
    from rankaudit.explain import explain_tweet
    from rankaudit.render import contributions_table, timeline_table

    if top < 1:
        raise AttributionError(
            f"The 'top' parameter of explain must be an int >= 1. Got {top} instead."
        )
    check_device(device)  # before any work: a missing GPU is one line, exit 2
    if quantity is not ExplainQuantity.score:
        _explain_ranks(workspace, user=user, request=request, tweet=tweet, vs=vs, top=top,
                       by=by.value, output=output, quantity=quantity.value, k=k,
                       reference=reference)  # fmt: skip
        return
    explanation = explain_tweet(
        open_workspace(workspace, vs), user=user, request=request, tweet=tweet, vs_tweet=vs_tweet,
        reference=reference, models=vs, settings=with_device(DEFAULT_SETTINGS, device),
    )  # fmt: skip
    if output is ExplainFormat.json:
        document = explanation.to_dict(by=by.value)
        sys.stdout.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
        return
    console = stdout_console()
    console.print(timeline_table(explanation.view))
    for model in vs:
        console.print(contributions_table(explanation, model, top=top, by=by.value))


def _explain_ranks(
    workspace: Path, *, user: str | None, request: str | None, tweet: str | None,
    vs: tuple[str, str], top: int, by: str, output: ExplainFormat, quantity: str, k: int,
    reference: str,
) -> None:  # fmt: skip
    """`explain --quantity rank|topk|exposure|listwise`: tables or one JSON document."""
    import json
    import sys

    from rankaudit.attribution.rank import RankSettings
    from rankaudit.explain import explain_ranks
    from rankaudit.render import timeline_table
    from rankaudit.render.attribution import rank_level_table

    explanation = explain_ranks(
        open_workspace(workspace, vs), quantity=quantity, user=user, request=request,
        tweet=tweet, by=by, models=vs, settings=RankSettings(k=k), reference=reference,  # type: ignore[arg-type]
    )  # fmt: skip
    if output is ExplainFormat.json:
        sys.stdout.write(json.dumps(explanation.to_dict(), indent=2, allow_nan=False) + "\n")
        return
    console = stdout_console()
    console.print(timeline_table(explanation.view))
    for model in vs:
        console.print(rank_level_table(explanation, model, top=top))
    if explanation.disagreement is not None:
        console.print(
            f"why the two rankers disagree: {explanation.disagreement.line()}", markup=False
        )
