"""`rankaudit drift profile` and `rankaudit drift check`: feature-importance drift as a CI gate.

`check` exits 0 when nothing drifted, 1 when a rule fired, 2 on bad input (one line on stderr).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

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

if TYPE_CHECKING:
    import pandas as pd

    from rankaudit.attribution.settings import AttributionSettings
    from rankaudit.drift import DriftProfile, DriftResult
    from rankaudit.importance import Window
    from rankaudit.workspace import Workspace

drift_app = typer.Typer(
    name="drift",
    help="Feature-importance drift between model versions or data windows (a CI gate).",
    no_args_is_help=True,
)

SinceOption = Annotated[
    str | None,
    typer.Option(help="Only requests served at or after this ISO time (a data window)."),
]
UntilOption = Annotated[
    str | None, typer.Option(help="Only requests served before this ISO time (a data window).")
]
ThreadsOption = Annotated[
    int,
    typer.Option(help="Torch threads while explaining (one is fastest for per-request work)."),
]
WorkDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Write the per-request sums to this folder (a partitioned store, kept; an "
        "interrupted run resumes). Default: in memory, or a temporary folder with --engine ray."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `drift` group to the top-level app."""
    app.add_typer(drift_app, name="drift")


def _timestamp(value: str | None, option: str) -> pd.Timestamp | None:
    import pandas as pd

    from rankaudit.errors import ParameterError

    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise ParameterError(
            f"The '{option}' option must be an ISO timestamp such as 2026-11-13 or "
            f"2026-11-13T00:00:00Z. Got {value!r} instead."
        )
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _window(since: str | None, until: str | None) -> Window | None:
    start, end = _timestamp(since, "--since"), _timestamp(until, "--until")
    if start is None and end is None:
        return None
    if start is not None and end is not None and start >= end:
        from rankaudit.errors import ParameterError

        raise ParameterError(f"--since ({since}) must be before --until ({until})")
    return (start, end)


def _heads(workspace: Workspace, model: str, heads: list[str] | None) -> tuple[str, ...]:
    from rankaudit.attribution import FINAL
    from rankaudit.drift import DEFAULT_HEADS

    if not heads:
        return DEFAULT_HEADS
    if heads == ["all"]:
        return (*workspace.ranker(model).heads, FINAL)
    return tuple(dict.fromkeys(heads))


def _engine_options(
    engine: str,
    address: str | None,
    num_workers: int | None,
    partitions: int | None,
    work_dir: Path | None,
) -> dict[str, Any]:
    """`profile_model`'s engine options: none (in memory) for --engine local without
    --work-dir."""
    from rankaudit.engine import make_engine
    from rankaudit.errors import ParameterError

    runner = make_engine(engine, address=address, num_workers=num_workers)
    if engine == "local" and work_dir is None:
        if partitions is not None or num_workers is not None:
            option = "--partitions" if partitions is not None else "--num-workers"
            raise ParameterError(f"{option} applies to a partitioned run: add --work-dir DIR")
        return {}
    return {"engine": runner, "work_dir": work_dir, "partitions": partitions}


def _profile(workspace: Workspace, model: str, threads: int, **options: Any) -> DriftProfile:
    from rankaudit.drift import profile_model
    from rankaudit.models.threads import torch_threads

    with torch_threads(threads), rows_progress("profiling") as (set_total, advance):
        return profile_model(workspace, model, on_sample=set_total, progress=advance, **options)


def _print_profile(profile: DriftProfile, out: Path, top: int = 5) -> None:
    console = stdout_console()
    sample = profile.metadata.get("sample", {})
    console.print(
        f"wrote {out}: {profile.method} against the {profile.reference} reference, "
        f"{sample.get('rows')} rows of {sample.get('requests')} requests, "
        f"{len(profile.features)} features, heads {', '.join(profile.heads)}",
        markup=False,
    )
    for head in profile.heads:
        table = profile.importance.loc[profile.importance["head"] == head].head(top)
        ranked = ", ".join(
            f"{feature} {100 * share:.1f}%"
            for feature, share in zip(table["feature"], table["share"], strict=True)
        )
        console.print(f"  {head}: {ranked}", markup=False)
        if profile.has_groups:
            groups = profile.table("group")
            groups = groups.loc[groups["head"] == head].head(top)
            ranked = ", ".join(
                f"{group} {100 * share:.1f}%"
                for group, share in zip(groups["feature"], groups["share"], strict=True)
            )
            console.print(f"  {head} by group: {ranked}", markup=False)


@drift_app.command("profile")
@handle_errors
def profile(
    model: Annotated[str, typer.Option(help="Model of the workspace to profile.")],
    out: Annotated[Path, typer.Option(help="Profile JSON file to write.")],
    workspace: WorkspaceOption = Path("."),
    method: Annotated[str, typer.Option(help="ig or shap.")] = "ig",
    reference: Annotated[str, typer.Option(help="request or global.")] = "request",
    heads: Annotated[
        list[str] | None,
        typer.Option("--heads", help="Outputs to profile (repeat), or 'all'; default: score."),
    ] = None,
    sample: Annotated[int, typer.Option(help="Rows to sample (whole requests).")] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of the request sample and bootstrap.")] = 0,
    since: SinceOption = None,
    until: UntilOption = None,
    replicates: Annotated[int, typer.Option(help="Bootstrap resamples of the requests.")] = 200,
    threads: ThreadsOption = 1,
    engine: EngineOption = "local",
    address: AddressOption = None,
    num_workers: WorkersOption = None,
    partitions: PartitionsOption = None,
    work_dir: WorkDirOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Profile what drives a model's scores: importance per feature with bootstrap intervals."""
    from rankaudit.drift import DRIFT_SETTINGS
    from rankaudit.drift._io import check_writable

    settings = with_device(DRIFT_SETTINGS, device)  # before any work: one line, exit 2
    check_writable(out)
    batch = _engine_options(engine, address, num_workers, partitions, work_dir)
    loaded = open_workspace(workspace, [model])
    result = _profile(
        loaded, model, threads, method=method, reference=reference,
        heads=_heads(loaded, model, heads), sample=sample, seed=seed,
        window=_window(since, until), replicates=replicates, settings=settings, **batch,
    )  # fmt: skip
    result.write(out)
    _print_profile(result, out)


def _print_check(result: DriftResult, top: int = 5) -> None:
    console = stdout_console()
    if result.passed:
        console.print(
            f"no drift: {len(result.cases)} checks passed ({result.current} vs {result.reference})",
            markup=False,
        )
    else:
        console.print(
            f"drift: {len(result.findings)} finding(s) ({result.current} vs {result.reference})",
            markup=False,
        )
        for finding in result.findings:
            console.print(f"  [{finding.rule}] {finding.message}", markup=False)
    console.print("biggest moves (share, percentage points):", markup=False)
    for row in result.moves.head(top).to_dict(orient="records"):
        group = row.get("level", "feature") == "group"
        name = f"group {row['feature']}" if group else row["feature"]
        console.print(
            f"  {row['head']}: {name} {100 * float(row['share_before']):.1f}% -> "
            f"{100 * float(row['share_after']):.1f}% ({100 * float(row['change']):+.1f})",
            markup=False,
        )


@drift_app.command("check")
@handle_errors
def check(
    reference: Annotated[Path, typer.Option(help="Profile of the reference (production) model.")],
    current: Annotated[
        Path | None, typer.Option(help="Profile to check; or profile --model now instead.")
    ] = None,
    workspace: WorkspaceOption = Path("."),
    model: Annotated[
        str | None,
        typer.Option(help="Profile this model of the workspace now, as the reference was made."),
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Rules TOML (default rules without).")] = None,
    level: Annotated[
        str | None,
        typer.Option(
            help="What the rules look at: feature, group (the spec's feature groups) or both. "
            "Default: the rules file's `level`, else feature."
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a markdown summary here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Sample seed with --model (default: the reference's).")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(help="Rows to sample with --model (default: the reference's).")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    threads: ThreadsOption = 1,
    engine: EngineOption = "local",
    address: AddressOption = None,
    num_workers: WorkersOption = None,
    partitions: PartitionsOption = None,
    work_dir: WorkDirOption = None,
    device: Annotated[
        str, typer.Option(help="With --model: auto, cpu, cuda or mps, where it is explained.")
    ] = "cpu",
) -> None:
    """Check a profile against a reference profile: exit 0 no drift, 1 drift, 2 bad input."""
    from rankaudit.drift import (
        DEFAULT_RULES,
        check_drift,
        junit_xml,
        load_rules,
        markdown_summary,
        read_profile,
        write_text,
    )
    from rankaudit.drift._io import check_writable
    from rankaudit.drift.rules import CHECK_LEVELS
    from rankaudit.errors import ParameterError

    if (current is None) == (model is None):
        raise ParameterError(
            "give exactly one of --current PROFILE.json or --model NAME (with --workspace)"
        )
    check_device(device)  # before any work: a missing GPU is one line, exit 2
    if current is not None and (since or until or seed is not None or sample is not None):
        raise ParameterError("--since, --until, --seed and --sample apply to --model only")
    if current is not None and device != "cpu":
        raise ParameterError("--device applies to --model only")
    engine_given = (address, num_workers, partitions, work_dir) != (None,) * 4
    if current is not None and (engine != "local" or engine_given):
        raise ParameterError(
            "--engine, --address, --num-workers, --partitions and --work-dir apply to --model only"
        )
    batch = _engine_options(engine, address, num_workers, partitions, work_dir) if model else {}
    for path in (junit, markdown, json_out):
        if path is not None:
            check_writable(path)
    drift_rules = load_rules(rules) if rules is not None else DEFAULT_RULES
    if level is not None:
        if level not in CHECK_LEVELS:
            raise ParameterError(
                f"The '--level' option must be one of {', '.join(CHECK_LEVELS)}. "
                f"Got {level!r} instead."
            )
        drift_rules = replace(drift_rules, level=level)  # type: ignore[arg-type]
    before = read_profile(reference)
    if current is not None:
        after = read_profile(current)
    else:
        assert model is not None
        loaded = open_workspace(workspace, [model])
        options = _options_of(before)
        options["settings"] = with_device(cast("AttributionSettings", options["settings"]), device)
        if seed is not None:
            options["seed"] = seed
        if sample is not None:
            options["sample"] = sample
        after = _profile(loaded, model, threads, window=_window(since, until), **options, **batch)
    result = check_drift(before, after, rules=drift_rules)
    if junit is not None:
        write_text(junit, junit_xml(result))
    if markdown is not None:
        write_text(markdown, markdown_summary(result))
    if json_out is not None:
        write_text(json_out, result.to_json())
    _print_check(result)
    if not result.passed:
        raise typer.Exit(1)


def _options_of(profile: DriftProfile) -> dict[str, object]:
    """Profile options that make a new profile comparable with `profile`."""
    from rankaudit.attribution import AttributionSettings
    from rankaudit.errors import InputFileError

    try:
        settings = AttributionSettings(**profile.settings)
    except (TypeError, ValueError) as exc:
        raise InputFileError(
            f"{profile.label}: its 'settings' do not fit this rankaudit ({exc}); re-create it "
            "with `rankaudit drift profile`"
        ) from None
    sample = profile.metadata.get("sample", {})
    bootstrap = profile.metadata.get("bootstrap", {})
    options: dict[str, object] = {
        "method": profile.method,
        "reference": profile.reference,
        "heads": profile.heads,
        "settings": settings,
        "confidence": profile.confidence,
    }
    if isinstance(sample.get("rows_requested"), int):
        options["sample"] = sample["rows_requested"]
    if isinstance(sample.get("seed"), int):
        options["seed"] = sample["seed"]
    if isinstance(bootstrap.get("replicates"), int):
        options["replicates"] = bootstrap["replicates"]
    return options
