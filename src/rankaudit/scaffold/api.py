"""`rankaudit init`: scaffold a workspace from a log (or an svmlight file) and model files, then
validate it.

Everything that can be wrong with the input is found before anything is written; a workspace
that then fails validation is still written (so that the user can fix it) and the report holds
the problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rankaudit.data import schema
from rankaudit.data.readers import LogSource
from rankaudit.data.relevance import GradedRelevance
from rankaudit.data.spec import FeatureSpec
from rankaudit.data.validate import validate_logs
from rankaudit.errors import ParameterError, RankauditError, ValidationFailed
from rankaudit.scaffold.infer import DEFAULT_SAMPLE_ROWS, ModelGuess, guess_model, infer_log
from rankaudit.scaffold.svmlight import RELEVANCE_COLUMN, read_svmlight
from rankaudit.scaffold.write import check_out_dir, relative_to, write_config, write_parquet_log
from rankaudit.validation import WorkspaceSummary, validate_workspace
from rankaudit.workspace import load_workspace

#: The name `init` gives the order as served (the log's `position` column).
SERVED = "served"

__all__ = ["InitReport", "init_from_logs", "init_from_svmlight"]


@dataclass(frozen=True)
class InitReport:
    """What `init` wrote and guessed, and how the written workspace validated.

    `logs` is the log as rankaudit.toml names it (relative to `out`). `source` says where the
    guesses came from; `checks` are the guesses worth a second look and `notes` what the import
    made up. `summary` is set when validation passed, `problems` (one line each) when not.
    """

    out: Path
    config: Path
    logs: str
    source: str
    spec: FeatureSpec
    heads: dict[str, float]
    relevance: GradedRelevance | None
    models: tuple[ModelGuess, ...]
    checks: tuple[str, ...]
    notes: tuple[str, ...]
    summary: WorkspaceSummary | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _guess_models(
    models: Sequence[tuple[str, Path]], *, logged_order: bool
) -> tuple[ModelGuess, ...]:
    """The given models, plus (when the log has positions and no model is called so) the order
    as served, `served`: the baseline a team's one model file is first compared with."""
    seen: set[str] = set()
    for name, _ in models:
        if name in seen:
            raise ParameterError(f"--model {name}=...: the name {name!r} is given twice")
        seen.add(name)
    guesses = [guess_model(name, path) for name, path in models]
    if logged_order and SERVED not in seen:
        guesses.append(
            ModelGuess(SERVED, "logged", None, "the order the log lists (its position column)")
        )
    return tuple(guesses)


def _validate(
    out: Path,
    config: Path,
    *,
    logs: Path,
    spec: FeatureSpec,
    heads: dict[str, float],
    relevance: GradedRelevance | None,
    models: tuple[ModelGuess, ...],
) -> tuple[WorkspaceSummary | None, tuple[str, ...]]:
    if not models:
        # A workspace without models does not load; check the log alone, as validate would.
        no_model = (
            f"{config}: no model configured; rerun init with --model NAME=PATH or add a "
            "[models.<name>] table (kind, path)"
        )
        try:
            problems, _ = validate_logs(LogSource.from_path(logs), spec, heads, relevance=relevance)
        except RankauditError as exc:
            problems = [str(exc)]
        return None, (*problems, no_model)
    try:
        return validate_workspace(load_workspace(out)), ()
    except ValidationFailed as exc:
        return None, tuple(exc.problems)
    except RankauditError as exc:
        return None, (str(exc),)


def _common_checks(heads: dict[str, float], models: tuple[ModelGuess, ...]) -> list[str]:
    checks = ["features.yaml: replace each TODO description and unit with what the feature means"]
    if heads:
        checks.append(
            "rankaudit.toml [heads]: every head was given weight 1.0; set the weights your "
            "ranker's final score uses"
        )
    if not models:
        checks.append(
            "rankaudit.toml: no --model given; add a [models.<name>] table (kind, path) per model"
        )
    return checks


def init_from_logs(
    logs: Path,
    *,
    out: Path,
    models: Sequence[tuple[str, Path]] = (),
    force: bool = False,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> InitReport:
    """Guess a workspace from the first `sample_rows` rows of the log at `logs` (a Parquet, CSV
    or JSONL file or folder) and the `(name, path)` models, write it to `out` (the log is
    referenced, not copied) and validate it.

    Raises rankaudit errors, before writing anything, on bad input; a workspace that fails
    validation is written and returned with its `problems`.
    """
    check_out_dir(out, force=force)
    source = LogSource.from_path(logs)
    guess = infer_log(source, sample_rows=sample_rows)
    has_positions = all(schema.POSITION in c for c in source.columns().values())
    guessed_models = _guess_models(models, logged_order=has_positions)
    out.mkdir(parents=True, exist_ok=True)
    config = write_config(
        out,
        logs=logs,
        spec=guess.spec,
        heads=guess.heads,
        relevance=guess.relevance,
        models=guessed_models,
    )
    sample = (
        f"all {guess.sample_rows} rows" if guess.complete else f"the first {guess.sample_rows} rows"
    )
    summary, problems = _validate(
        out,
        config,
        logs=logs,
        spec=guess.spec,
        heads=guess.heads,
        relevance=guess.relevance,
        models=guessed_models,
    )
    return InitReport(
        out=out,
        config=config,
        logs=relative_to(logs, out),
        source=f"guessed from {sample} of {guess.files} log file(s)",
        spec=guess.spec,
        heads=guess.heads,
        relevance=guess.relevance,
        models=guessed_models,
        checks=(*_common_checks(guess.heads, guessed_models), *guess.checks),
        notes=(),
        summary=summary,
        problems=problems,
    )


def init_from_svmlight(
    file: Path,
    *,
    out: Path,
    query: Path | None = None,
    models: Sequence[tuple[str, Path]] = (),
    force: bool = False,
    drop_single: bool = False,
) -> InitReport:
    """Import an svmlight/LETOR `file` (group sizes in `query` when its lines carry no qid) as
    `out/logs/<stem>.parquet`, write a workspace judged by its grades ([relevance], exponential
    gain) around it, and validate it.

    Raises rankaudit errors naming file and line, before writing anything, on malformed input.
    """
    check_out_dir(out, force=force)
    log = read_svmlight(file, query=query, drop_single=drop_single)
    guessed_models = _guess_models(models, logged_order=True)
    stem = file.name.removesuffix(".gz").removesuffix(".bz2")
    log_path = out / "logs" / f"{Path(stem).stem or 'svmlight'}.parquet"
    write_parquet_log(log_path, log)
    relevance = GradedRelevance(RELEVANCE_COLUMN, "exponential")
    spec = log.spec()
    config = write_config(
        out, logs=log_path, spec=spec, heads={}, relevance=relevance, models=guessed_models
    )
    checks = _common_checks({}, guessed_models)
    if log.absent_ids:
        shown = ", ".join(f"f{i}" for i in log.absent_ids[:8])
        more = f" and {len(log.absent_ids) - 8} more" if len(log.absent_ids) > 8 else ""
        checks.append(
            f"{shown}{more}: no line of {file.name} lists this id, so it is 0.0 everywhere; "
            "remove it from features.yaml and the log if no model reads it"
        )
    if log.single_requests and not log.dropped_requests:
        shown = ", ".join(log.single_requests[:3])
        checks.append(
            f"{len(log.single_requests)} request(s) hold a single document (e.g. {shown}); "
            "validate rejects them: rerun with --drop-single to leave them out"
        )
    notes = [
        f"{log.rows} documents in {len(set(log.query_index.tolist()))} requests, "
        f"{len(log.feature_ids)} features (f{log.feature_ids[0]}..f{log.feature_ids[-1]}; "
        "an id a line does not list is 0.0)",
        "svmlight has no viewer: user_id is the request id; author_id is 'unknown'",
        "served_at is 1970-01-01T00:00:00Z plus the query's index in seconds: a stable file "
        "order, not a real time",
        "position is each document's place among its query's lines; model 'served' ranks by it",
        f"grades are the [relevance] column {RELEVANCE_COLUMN!r} (gain 2^grade - 1)",
    ]
    if log.dropped_requests:
        notes.append(f"left out {log.dropped_requests} request(s) with a single document")
    summary, problems = _validate(
        out,
        config,
        logs=log_path,
        spec=spec,
        heads={},
        relevance=relevance,
        models=guessed_models,
    )
    return InitReport(
        out=out,
        config=config,
        logs=relative_to(log_path, out),
        source=f"imported from {file.name}"
        + (f" with group sizes from {query.name}" if query else ""),
        spec=spec,
        heads={},
        relevance=relevance,
        models=guessed_models,
        checks=tuple(checks),
        notes=tuple(notes),
        summary=summary,
        problems=problems,
    )
