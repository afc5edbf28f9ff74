"""The report's machine-readable twin: every number the HTML shows, as one JSON document.

`build_document` turns `ReportData` into plain Python values (ids pseudonymized when asked);
`dumps_document` writes it reproducibly: keys sorted, floats rounded to 6 significant digits
and magnitudes below 1e-9 written as 0 (so the last bits of a sum cannot change the bytes),
NaN as null, lists in a
fixed order (tweets by the audited ranker's position, features by |attribution| then name).
Only `manifest.created_at` differs between two runs on the same inputs with the same seed.
The keys are documented in docs/report.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from rankaudit.attribution.grouping import feature_groups, group_contributions
from rankaudit.attribution.rank import QUANTITIES, RankExplanation
from rankaudit.compare.scoring import ENGAGEMENT, GRADE
from rankaudit.data import schema
from rankaudit.report.exposure import exposure_document
from rankaudit.report.gather import ImportanceSample, ReportData, ViewerAudit
from rankaudit.report.manifest import package_versions, thread_settings, workspace_manifest
from rankaudit.report.pseudonym import Pseudonymizer
from rankaudit.report.settings import REPORT_VERSION
from rankaudit.report.stats import (
    NOISE,
    agreement_summary,
    completeness_summary,
    feature_agreement,
)

__all__ = ["ID_FEATURES", "FigureEntry", "build_document", "dumps_document", "normalize"]

#: Features whose values are ids (pseudonymized with the ids).
ID_FEATURES = frozenset({schema.USER_ID, schema.AUTHOR_ID})
_DIGITS = 6
#: Magnitudes below `NOISE` are floating-point noise (completeness errors of exact methods,
#: the ~1e-11 attributions of features constant within a request): written as 0 so that they
#: do not change the bytes from one run to the next.
_NOISE = NOISE

FigureEntry = Mapping[str, str]


def normalize(value: Any) -> Any:
    """Plain JSON values: dict keys as strings, tuples as lists, numpy scalars unwrapped,
    floats rounded to 6 significant digits (NaN and infinities: None; magnitudes below 1e-9,
    and -0.0: 0.0), timestamps in ISO 8601. Raises TypeError for anything else."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        if abs(number) < _NOISE:
            return 0.0
        return float(f"{number:.{_DIGITS}g}")
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [normalize(v) for v in value]
    raise TypeError(f"cannot write {type(value).__name__} into the report document")


def dumps_document(document: Mapping[str, Any]) -> bytes:
    """The document as UTF-8 JSON bytes: normalized, keys sorted, one space of indent."""
    text = json.dumps(
        normalize(document), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def _feature_value(feature: str, value: object, category: object, pseudonym: Pseudonymizer) -> Any:
    if category is not None and not (isinstance(category, float) and math.isnan(category)):
        return pseudonym(category) if feature in ID_FEATURES else str(category)
    return value


def _ordered(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows by |column| descending, ties by feature name."""
    return frame.assign(_abs=frame[column].abs()).sort_values(
        ["_abs", "feature"], ascending=[False, True], kind="stable"
    )


def _tweet_attributions(
    rows: pd.DataFrame, top: int, pseudonym: Pseudonymizer
) -> dict[str, dict[str, Any]]:
    """model -> method -> score, reference score, completeness and the `top` contributions."""
    out: dict[str, dict[str, Any]] = {}
    for (model, method), group in rows.groupby(["model", "method"], sort=True):
        ordered = _ordered(group, "attribution")
        shown = ordered.head(top)
        first = group.iloc[0]
        out.setdefault(str(model), {})[str(method)] = {
            "score": first["score"],
            "reference_score": first["reference_score"],
            "completeness_error": first["completeness_error"],
            "completeness_relative": first["completeness_relative"],
            "converged": bool(first["converged"]),
            "top": [
                {
                    "feature": str(r["feature"]),
                    "value": _feature_value(
                        str(r["feature"]), r["feature_value"], r["feature_category"], pseudonym
                    ),
                    "attribution": r["attribution"],
                }
                for r in shown.to_dict("records")
            ],
            "rest": float(ordered["attribution"].iloc[top:].sum()),
            "features": len(group),
        }
    return out


def rank_explanation(explanation: RankExplanation, model: str, top: int) -> dict[str, Any]:
    """A mover's rank explanation under `model`: `RankExplanation.to_dict()` (every player,
    largest |rank| value first) with `model`, `reference` ("request"), `shown` (the `top`
    players the HTML lists) and `rest` (per quantity, the exactly rounded sum of the other
    players), so the shown players plus `rest` add up to `change`."""
    entry = explanation.to_dict()
    others = entry["players"][top:]
    return {
        **entry,
        "model": model,
        "reference": "request",
        "shown": min(top, len(entry["players"])),
        "rest": {q: math.fsum(p[q] for p in others) for q in QUANTITIES},
    }


def _engaged(record: Mapping[Any, Any], heads: Sequence[str]) -> list[str]:
    return [h for h in heads if int(record.get(schema.label_column(h), 0) or 0) > 0]


def _judged(record: Mapping[Any, Any], graded: bool) -> dict[str, Any]:
    """With graded relevance, the tweet's `grade` (the judgement; `relevance` is its gain) and,
    where there are heads, its `engagement` (engagement-weighted relevance); nothing
    otherwise, so an engagement workspace's document keeps its keys."""
    if not graded:
        return {}
    judged: dict[str, Any] = {"grade": record[GRADE]}
    if ENGAGEMENT in record:
        judged["engagement"] = record[ENGAGEMENT]
    return judged


def _viewer(
    viewer: ViewerAudit,
    index: int,
    top: int,
    pseudonym: Pseudonymizer,
    groups: Mapping[str, str] | None = None,
    audited: str = "",
) -> dict[str, Any]:
    comparison = viewer.comparison
    heads = list(comparison.heads)
    rows = comparison.rows
    texts = (
        rows[schema.TWEET_TEXT].fillna("").astype(str).tolist()
        if schema.TWEET_TEXT in rows
        else [""] * len(rows)
    )
    by_tweet = {str(t): g for t, g in viewer.attributions.groupby(schema.TWEET_ID, sort=False)}
    tweets = []
    for record, text in zip(comparison.to_frame().to_dict("records"), texts, strict=True):
        tweet = str(record[schema.TWEET_ID])
        tweets.append(
            {
                "tweet_id": tweet,
                "author_id": pseudonym(record[schema.AUTHOR_ID]),
                "text": text,
                "position_a": int(record["position_a"]),
                "position_b": int(record["position_b"]),
                "displacement": int(record["displacement"]),
                "score_a": record["score_a"],
                "score_b": record["score_b"],
                "relevance": record["relevance"],
                "negative": bool(record["negative"]),
                "engaged": _engaged(record, heads),
                **_judged(record, comparison.graded is not None),
                "attributions": _tweet_attributions(
                    by_tweet.get(tweet, viewer.attributions.iloc[0:0]), top, pseudonym
                ),
            }
        )
    movers = []
    for mover in viewer.movers:
        mine = comparison.tweet(mover.tweet)
        other = comparison.tweet(mover.vs_tweet)
        explanations: dict[str, Any] = {}
        for model, rows_m in mover.explanation.attributions.groupby("model", sort=False):
            contributions = (
                rows_m.pivot_table(
                    index="feature", columns="method", values="attribution", aggfunc="first"
                )
                .reset_index()
                .rename_axis(columns=None)
            )
            methods = [m for m in ("shap", "ig") if m in contributions]
            size = contributions[methods].abs().max(axis=1)
            contributions = contributions.assign(_abs=size).sort_values(
                ["_abs", "feature"], ascending=[False, True], kind="stable"
            )
            values = rows_m.drop_duplicates("feature").set_index("feature")
            first = rows_m.iloc[0]
            explanations[str(model)] = {
                "score": first["score"],
                "reference_score": first["reference_score"],
                "gap": float(first["score"]) - float(first["reference_score"]),
                "methods": {
                    str(m): {
                        "sum": float(g["attribution"].sum()),
                        "completeness_error": g["completeness_error"].iat[0],
                        "completeness_relative": g["completeness_relative"].iat[0],
                        "converged": bool(g["converged"].iat[0]),
                    }
                    for m, g in rows_m.groupby("method", sort=True)
                },
                "contributions": [
                    {
                        "feature": str(r["feature"]),
                        "value": _feature_value(
                            str(r["feature"]),
                            values.at[r["feature"], "feature_value"],
                            values.at[r["feature"], "feature_category"],
                            pseudonym,
                        ),
                        **{m: r[m] for m in methods},
                    }
                    for r in contributions.to_dict("records")
                ],
                # Feature groups of the spec: sums over their members, largest first.
                "groups": [
                    {"group": g["group"], "members": g["members"], **{m: g[m] for m in methods}}
                    for g in group_contributions(contributions, groups or {}, methods).to_dict(
                        "records"
                    )
                ],
            }
        movers.append(
            {
                "tweet_id": mover.tweet,
                "vs_tweet_id": mover.vs_tweet,
                "displacement": int(mine["displacement"]),
                "position_a": int(mine["position_a"]),
                "position_b": int(mine["position_b"]),
                "vs_position_a": int(other["position_a"]),
                "vs_position_b": int(other["position_b"]),
                "explanations": explanations,
                "rank_explanation": (
                    None if mover.rank is None else rank_explanation(mover.rank, audited, top)
                ),
            }
        )
    surprise = None
    if viewer.selected.surprise:
        s = viewer.selected.surprise
        surprise = {
            key: (s.get(key) or None) if key == "feature" else s.get(key)
            for key in (
                "rank",
                "surprise",
                "disagreement",
                "demoted_engagement",
                "promoted_unengaged",
                "out_of_range",
                "feature",
                "feature_value",
                "train_min",
                "train_max",
            )
        }
    return {
        "index": index,
        "user_id": pseudonym(comparison.user_id),
        "request_id": comparison.request_id,
        "served_at": comparison.served_at.isoformat(),
        "candidates": len(rows),
        "surprise": surprise,
        "metrics": {
            k: int(v) if k in ("candidates", "engaged") else v
            for k, v in comparison.metrics.items()
        },
        "top_k": [change.to_dict() for change in comparison.top_k],
        "tweets": tweets,
        "movers": movers,
        "why_surprising": None if viewer.disagreement is None else viewer.disagreement.line(2),
        "disagreement": None if viewer.disagreement is None else viewer.disagreement.to_dict(),
    }


def _importance(importance: ImportanceSample) -> dict[str, Any]:
    return {
        "requests": importance.requests,
        "rows": importance.rows,
        "window": {"since": importance.window[0], "until": importance.window[1]},
        "reference": "global",
        "table": importance.table.to_dict("records"),
    }


def _agreement(
    long: pd.DataFrame, models: Sequence[str], methods: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        if not {"shap", "ig"} <= set(methods[model]):
            continue
        features, _, _ = feature_agreement(long, model)
        out[model] = {**agreement_summary(long, model), "features": features.to_dict("records")}
    return out


def viewer_rows(data: ReportData) -> pd.DataFrame:
    """The request-reference attribution rows of every reported viewer, in one frame."""
    frames = [v.attributions for v in data.viewers]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pair_rows(data: ReportData) -> pd.DataFrame:
    """The pair-reference attribution rows of every explained mover, in one frame."""
    frames = [m.explanation.attributions for v in data.viewers for m in v.movers]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _notes(data: ReportData) -> dict[str, list[str]]:
    """Facts the limitations section quotes: features constant within every reported request
    (their request-reference attributions are ~0), and features only the audited ranker reads."""
    a, b = data.settings.models
    explained = viewer_rows(data)
    features = [f.name for f in data.workspace.spec if f.name in set(explained["feature"])]
    constant = [
        name
        for name in features
        if all(v.comparison.rows[name].nunique(dropna=False) <= 1 for v in data.viewers)
    ]
    table = data.importance.table
    read_by_a = set(table.loc[table["model"] == a, "feature"])
    only_b = table.loc[(table["model"] == b) & ~table["feature"].isin(list(read_by_a))]
    return {
        "constant_within_request": constant,
        "features_only_b": list(dict.fromkeys(only_b.sort_values("rank")["feature"].astype(str))),
    }


def build_document(
    data: ReportData,
    *,
    pseudonym: Pseudonymizer,
    figures: Sequence[FigureEntry],
    command: str,
    versions: Callable[[], Mapping[str, str | None]] = package_versions,
) -> dict[str, Any]:
    """The report as plain values (keys in docs/report.md); ids pseudonymized by `pseudonym`."""
    settings = data.settings
    models = settings.models
    viewers = viewer_rows(data)
    pairs = pair_rows(data)
    completeness = pd.concat(
        [
            completeness_summary(viewers),
            completeness_summary(pairs),
            completeness_summary(data.importance.attributions),
        ],
        ignore_index=True,
    )
    surprises = data.surprises
    manifest = {
        "created_at": data.created_at,
        "command": command,
        "workspace": workspace_manifest(data.workspace, models),
        "packages": dict(versions()),
        "threads": thread_settings(),
        "models": {"a": models[0], "b": models[1]},
        "selection": {**data.selection.to_dict(pseudonym), "viewers": len(data.viewers)},
        "seed": settings.seed,
        "attribution": {
            "methods": {m: list(data.methods[m]) for m in models},
            "output": "final score (sum of weight x probability over heads)",
            "references": {
                "tweets": "request",
                "movers": "pair",
                "mover_ranks": "request",
                "importance": "global",
            },
            "settings": asdict(settings.attribution),
            "stores": dict(data.stores),
            "top_features": settings.top_features,
            "movers": settings.movers,
            # Movers' rank explanations (audited ranker, request reference) and the viewers'
            # "why surprising" lines (both rankers' disagreement): `RankSettings`.
            "rank": asdict(settings.rank),
        },
        "compare": settings.compare.to_dict(),
        "surprise": {
            "k": settings.surprise.k,
            "p": settings.surprise.p,
            "weights": None if surprises is None else dict(surprises.weights),
            "scope": None if surprises is None else surprises.scope,
            "requests": None if surprises is None else surprises.requests,
        },
        "importance": {"rows": settings.importance_rows, "seed": settings.seed},
        "pseudonymization": pseudonym.describe(),
    }
    return {
        "kind": "audit_report",
        "version": REPORT_VERSION,
        "manifest": manifest,
        "summary": data.population.to_dict(),
        "viewers": [
            _viewer(
                v,
                i,
                settings.top_features,
                pseudonym,
                feature_groups(data.workspace.spec),
                audited=models[1],
            )
            for i, v in enumerate(data.viewers)
        ],
        "importance": _importance(data.importance),
        "agreement": {
            "request": _agreement(viewers, models, data.methods),
            "global": _agreement(data.importance.attributions, models, data.methods),
        },
        "completeness": completeness.to_dict("records"),
        "seed_sensitivity": [
            {**asdict(check), "relative_change": check.relative_change}
            for check in data.seed_checks
        ],
        "notes": _notes(data),
        "exposure": None if data.exposure is None else exposure_document(data.exposure, pseudonym),
        "figures": [dict(f) for f in figures],
    }
