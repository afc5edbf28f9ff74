"""The HTML report's tables, from the document: each tweet's contribution lines, a mover's
feature-group table, a viewer's metric columns and the global importance table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankaudit.attribution.grouping import other_label
from rankaudit.report._format import (
    fmt_fixed,
    fmt_num,
    fmt_pct,
    fmt_signed,
    fmt_signed_fixed,
)

__all__ = ["contributions", "group_table", "importance_table", "metric_columns", "rank_table"]

#: A rank table's quantities: document key, column label, decimals shown.
_RANK_COLUMNS = (
    ("rank", "Δ rank (positions)", 2),
    ("topk", "Δ top-k", 3),
    ("exposure", "Δ exposure", 4),
)


def contributions(
    tweet: Mapping[str, Any], order: Sequence[tuple[str, str]]
) -> list[dict[str, str]]:
    """Per (model, method): the document's `top_features` largest contributions, then "all
    other features (K)" with the sum of the rest, so each line adds up to the score gap."""
    lines = []
    for model, method in order:
        entry = tweet["attributions"].get(model, {}).get(method)
        if entry is None:
            continue
        parts = [f"{c['feature']} {fmt_signed(c['attribution'])}" for c in entry["top"]]
        others = int(entry["features"]) - len(entry["top"])
        if others > 0:
            parts.append(f"{other_label('feature', others)} {fmt_signed(entry['rest'])}")
        flag = ""
        if not entry["converged"]:
            flag = f"not converged ({fmt_pct(entry['completeness_relative'], 2)} error)"
        lines.append({"label": f"{model} {method.upper()}", "text": ", ".join(parts), "flag": flag})
    return lines


def group_table(
    mover: Mapping[str, Any], models: Sequence[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The mover's contributions per feature group of the spec (sums over the members, per
    model and method): column labels, and rows ordered as under the first model that has
    them, then a last row with each method's total (the score gap up to its completeness
    error). No rows when the document holds no groups."""
    columns: list[str] = []
    keys: list[tuple[str, str | None]] = []
    groups: dict[str, dict[tuple[str, str | None], str]] = {}
    totals: dict[tuple[str, str | None], str] = {}
    for model in models:
        explained = mover["explanations"].get(model)
        if explained is None or not explained.get("groups"):
            continue
        methods = [m for m in ("shap", "ig") if m in explained["methods"]]
        columns.append(f"{model} features")
        keys.append((model, None))
        for method in methods:
            columns.append(f"{model} {method.upper()}")
            keys.append((model, method))
            totals[(model, method)] = fmt_signed(explained["methods"][method]["sum"])
        totals[(model, None)] = fmt_num(sum(g["members"] for g in explained["groups"]))
        for group in explained["groups"]:
            cells = groups.setdefault(str(group["group"]), {})
            cells[(model, None)] = fmt_num(group["members"])
            for method in methods:
                cells[(model, method)] = fmt_signed(group[method])
    if not groups:
        return [], []
    rows = [
        {"group": name, "cells": [cells.get(k, "—") for k in keys], "total": False}
        for name, cells in groups.items()
    ]
    rows.append(
        {"group": "Σ all groups", "cells": [totals.get(k, "—") for k in keys], "total": True}
    )
    return columns, rows


def rank_table(mover: Mapping[str, Any]) -> dict[str, Any] | None:
    """The mover's rank explanation as a table: `columns`, then `rows` of the `shown` players,
    "all other features (K)" with the document's `rest`, and a total row (each quantity's
    value with the tweet's features minus at the request reference, which the column sums
    to). None without a rank explanation."""
    explained = mover.get("rank_explanation")
    if not explained:
        return None
    shown = explained["players"][: explained["shown"]]
    others = len(explained["players"]) - len(shown)
    rows = [
        {
            "player": p["player"],
            "cells": [fmt_signed_fixed(p[q], d) for q, _, d in _RANK_COLUMNS],
            "kind": "",
        }
        for p in shown
    ]
    if others > 0:
        rest = explained["rest"]
        rows.append(
            {
                "player": other_label("feature", others),
                "cells": [fmt_signed_fixed(rest[q], d) for q, _, d in _RANK_COLUMNS],
                "kind": "other",
            }
        )
    at_x, at_reference = explained["at_x"], explained["at_reference"]
    rows.append(
        {
            "player": "Σ = change",
            "cells": [fmt_signed_fixed(explained["change"][q], d) for q, _, d in _RANK_COLUMNS],
            "kind": "total",
        }
    )
    k = explained["k"]
    return {
        "model": explained["model"],
        "tweet_id": explained["tweet_id"],
        "columns": [label.replace("top-k", f"top-{k}") for _, label, _ in _RANK_COLUMNS],
        "rows": rows,
        "at_x": fmt_num(at_x["rank"]),
        "at_reference": fmt_num(at_reference["rank"]),
        "summary": (
            f"top-{k}: {fmt_num(at_x['topk'])} (at reference {fmt_num(at_reference['topk'])}); "
            f"exposure ({explained['position_model']}): {fmt_fixed(at_x['exposure'])} "
            f"(at reference {fmt_fixed(at_reference['exposure'])}); "
            + (
                "exact enumeration"
                if explained["exact"]
                else f"{explained['permutations']} sampled permutations"
            )
        ),
    }


def metric_columns(metrics: Mapping[str, Any], a: str, b: str) -> list[dict[str, str]]:
    columns = [
        ("Kendall τ-b", fmt_fixed(metrics.get("kendall_tau_b"))),
        ("Spearman ρ", fmt_fixed(metrics.get("spearman"))),
        ("RBO", fmt_fixed(metrics.get("rbo"))),
        ("mean |move|", fmt_num(metrics.get("mean_abs_displacement"))),
    ]
    ks = sorted(int(k.split("@", 1)[1]) for k in metrics if k.startswith("overlap@"))
    for k in ks:
        columns.append((f"top-{k} overlap", fmt_fixed(metrics.get(f"overlap@{k}"))))
    for k in ks:
        columns.append((f"NDCG@{k} {a}", fmt_fixed(metrics.get(f"ndcg@{k}_a"))))
        columns.append((f"NDCG@{k} {b}", fmt_fixed(metrics.get(f"ndcg@{k}_b"))))
    return [{"label": label, "value": value} for label, value in columns]


def importance_table(
    importance: Mapping[str, Any], models: Sequence[str], top: int = 15
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    rows = importance["table"]
    groups = []
    for model in (models[1], models[0]):
        for method in ("shap", "ig"):
            mine = [r for r in rows if r["model"] == model and r["method"] == method]
            if mine:
                groups.append((model, method, {r["feature"]: r for r in mine}))
    audited = groups[0][2] if groups else {}
    chosen = [f for f, _ in sorted(audited.items(), key=lambda item: item[1]["rank"])][:top]
    for _, _, table in groups[1:]:
        for feature, _ in sorted(table.items(), key=lambda item: item[1]["rank"])[:5]:
            if feature not in chosen:
                chosen.append(feature)
    columns = []
    for model, method, _ in groups:
        columns.append({"label": f"{model} {method.upper()} share"})
        columns.append({"label": "rank"})
    columns.append(
        {"label": f"{groups[0][0]} {groups[0][1].upper()} signed mean" if groups else ""}
    )
    body = []
    for feature in chosen:
        cells = []
        for _, _, table in groups:
            row = table.get(feature)
            cells.append("—" if row is None else fmt_pct(row["share"]))
            cells.append("—" if row is None else fmt_num(row["rank"]))
        signed = audited.get(feature)
        cells.append("—" if signed is None else fmt_signed(signed["signed_mean"]))
        body.append({"feature": feature, "cells": cells})
    return columns, body
