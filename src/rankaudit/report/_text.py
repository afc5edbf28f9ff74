"""The HTML report's sentences, from the document: how the viewers were chosen, what a mover
did, the key findings and the limits of the explanations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rankaudit.attribution.grouping import other_label
from rankaudit.figures import metric_label
from rankaudit.report._format import (
    fmt_ci,
    fmt_fixed,
    fmt_num,
    fmt_pct,
    fmt_pvalue,
    fmt_sci,
    fmt_signed,
    fmt_signed_fixed,
)

__all__ = [
    "findings",
    "limits",
    "mover_text",
    "rank_sentence",
    "selection_rule",
    "selection_text",
]

#: Players named in a mover's rank sentence (the table under it lists `top_features`).
_RANK_SENTENCE_PLAYERS = 3


def selection_text(manifest: Mapping[str, Any]) -> str:
    selection = manifest["selection"]
    count = selection["viewers"]
    viewers = f"{count} viewer{'s' if count != 1 else ''}"
    mode = selection["mode"]
    if mode == "users":
        return f"{viewers} chosen by id"
    if mode == "requests":
        return f"{viewers} chosen by request"
    if mode == "sample":
        return f"{viewers} sampled at random (seed {manifest['seed']})"
    return f"{viewers}: the most surprising held-out requests (one per viewer)"


def selection_rule(manifest: Mapping[str, Any]) -> str:
    mode = manifest["selection"]["mode"]
    if mode == "surprising":
        return "their most surprising request"
    if mode == "requests":
        return "the request asked for"
    return "the request the two rankers dispute most"


def _value(value: object) -> str:
    return fmt_num(value)


def mover_text(mover: Mapping[str, Any], a: str, b: str) -> str:
    move = mover["displacement"]
    direction = "up" if move > 0 else "down"
    parts = [
        f"{mover['tweet_id']} moved {direction} {abs(move)} place{'s' if abs(move) != 1 else ''} "
        f"({a} #{mover['position_a']} → {b} #{mover['position_b']}). Against "
        f"{mover['vs_tweet_id']}, the nearest tweet the two rankers order the other way round "
        f"({a} #{mover['vs_position_a']} → {b} #{mover['vs_position_b']}):"
    ]
    for model in (b, a):
        explained = mover["explanations"].get(model)
        if explained is None or not explained["contributions"]:
            continue
        top = explained["contributions"][0]
        methods = [m for m in ("ig", "shap") if m in top]
        values = ", ".join(f"{fmt_signed(top[m])} {m.upper()}" for m in methods)
        parts.append(
            f"under {model} the score gap is {fmt_signed(explained['gap'])} and the largest "
            f"contribution is {top['feature']} = {_value(top['value'])} ({values});"
        )
    text = " ".join(parts).rstrip(";") + "."
    ranked = rank_sentence(mover)
    return f"{text} {ranked}" if ranked else text


def rank_sentence(mover: Mapping[str, Any]) -> str:
    """Why the mover sits where the audited ranker put it: its rank with its own features and
    with every feature at the request reference, the largest rank Shapley values and the sum
    of the others, which add up to the difference. Empty without a rank explanation."""
    explained = mover.get("rank_explanation")
    if not explained or not explained["players"]:
        return ""
    at_x, at_reference = explained["at_x"]["rank"], explained["at_reference"]["rank"]
    players = explained["players"]
    named = players[:_RANK_SENTENCE_PLAYERS]
    parts = [f"{p['player']} {fmt_signed_fixed(p['rank'])}" for p in named]
    rest = players[_RANK_SENTENCE_PLAYERS:]
    if rest:
        others = math.fsum(p["rank"] for p in rest)
        parts.append(f"{other_label('feature', len(rest))} {fmt_signed_fixed(others)}")
    change = explained["change"]["rank"]
    return (
        f"Why {mover['tweet_id']} sits at #{fmt_num(at_x)} under {explained['model']} (#"
        f"{fmt_num(at_reference)} with every feature at the request reference, the other "
        f"candidates fixed): {', '.join(parts)} positions, together "
        f"{fmt_signed_fixed(change)} (rank Shapley values; negative moves it up)."
    )


def findings(document: Mapping[str, Any]) -> list[str]:
    manifest = document["manifest"]
    a, b = manifest["models"]["a"], manifest["models"]["b"]
    summary = document["summary"]
    lines = []
    metrics = summary["overall"]["ranker_metrics"]
    ndcg = sorted((k for k in metrics if k.startswith("ndcg@")), key=lambda k: int(k[5:]))
    if ndcg:
        key = ndcg[-1]
        r = metrics[key]
        lines.append(
            f"Over {summary['requests']:,} {'held-out' if summary['scope'] == 'holdout' else 'logged'} "
            f"requests, {b}'s mean {metric_label(key)} is {fmt_fixed(r['b']['mean'])} against "
            f"{fmt_fixed(r['a']['mean'])} for {a}: a difference of {fmt_ci(r['diff'], signed=True)} "
            f"(95% CI), p {fmt_pvalue(r['p_value']) if fmt_pvalue(r['p_value']).startswith('<') else '= ' + fmt_pvalue(r['p_value'])}."
        )
    agreement = summary["overall"]["agreement"]
    if "kendall_tau_b" in agreement:
        moved = agreement.get("mean_abs_displacement", {})
        lines.append(
            f"The two orderings of a request agree with a mean Kendall τ-b of "
            f"{fmt_fixed(agreement['kendall_tau_b']['mean'])} (RBO "
            f"{fmt_fixed(agreement.get('rbo', {}).get('mean'))}); a tweet moves "
            f"{fmt_num(moved.get('mean'))} places on average."
        )
    table = document["importance"]["table"]
    tops = []
    for model in (b, a):
        rows = [
            r for r in table if r["model"] == model and r["method"] == "shap" and r["rank"] == 1
        ]
        if rows:
            tops.append(f"{model}'s to {rows[0]['feature']} ({fmt_pct(rows[0]['share'])})")
    if tops:
        lines.append(f"Largest share of global |SHAP|: {' and '.join(tops)}.")
    outside: dict[str, int] = {}
    viewers = document["viewers"]
    for viewer in viewers:
        feature = (viewer.get("surprise") or {}).get("feature")
        if feature:
            outside[feature] = outside.get(feature, 0) + 1
    if outside:
        listed = ", ".join(
            f"{f} ({n})" for f, n in sorted(outside.items(), key=lambda i: (-i[1], i[0]))
        )
        count = sum(outside.values())
        lines.append(
            f"In {count} of the {len(viewers)} reported requests a feature of {b}'s top "
            f"{manifest['surprise']['k']} lies outside the range seen in training: {listed}."
        )
    for row in document["completeness"]:
        if row["model"] == b and row["method"] == "ig" and row["reference"] == "request":
            lines.append(
                f"Integrated Gradients of {b} converged to {fmt_pct(manifest['attribution']['settings']['tolerance'])} "
                f"on {fmt_pct(row['converged'])} of {row['rows']:,} explained tweets (largest relative error "
                f"{fmt_sci(row['max_relative_error'])}); SHAP adds up exactly by construction."
            )
    return lines


def _listed(names: Sequence[str], limit: int = 6) -> str:
    """'a, b and c', or the first `limit` names and how many more."""
    if len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"
    if len(names) > 1:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return names[0] if names else ""


def limits(document: Mapping[str, Any]) -> list[dict[str, str]]:
    manifest = document["manifest"]
    a, b = manifest["models"]["a"], manifest["models"]["b"]
    settings = manifest["attribution"]["settings"]
    notes = document.get("notes", {})
    constant = notes.get("constant_within_request", [])
    only_b = notes.get("features_only_b", [])
    checks = {c["model"]: c for c in document["seed_sensitivity"]}
    items = [
        {
            "title": "They explain scores, not positions or outcomes.",
            "text": (
                "Each attribution splits one tweet's score minus a reference score among the features. "
                "An order is decided by score differences, so the pairwise explanations (one tweet against "
                "the nearest tweet the rankers order the other way round) are the ones that say why a tweet is above another."
            ),
        },
        {
            "title": "The request reference hides viewer features.",
            "text": (
                "Against the mean of the request's own candidates, a feature that is the same for every "
                "candidate of a request gets an attribution of about zero: it cannot reorder that timeline. "
                + (
                    f"In the reported requests that holds for {_listed(constant, 10)}. "
                    if constant
                    else ""
                )
                + "Zero there does not mean unimportant: such features shift every score of the viewer "
                "alike, and the global reference (section 4) shows how much they weigh."
            ),
        },
        {
            "title": "Attribution is not causation.",
            "text": (
                "An attribution describes the model's function: how its score moves with an input, relative "
                "to a reference. It does not say that the feature causes engagement, nor what would happen "
                "if the feature changed in production. Features are correlated, and SHAP and IG both "
                "evaluate the model on mixtures of real rows and reference rows that may never occur."
            ),
        },
        {
            "title": "Check completeness and convergence before trusting a number.",
            "text": (
                f"IG is a numerical integral ({settings['ig_steps']} to {settings['ig_max_steps']} "
                f"Gauss-Legendre points); rows whose attributions miss the score gap by more than "
                f"{fmt_pct(settings['tolerance'])} are marked ⚠ not converged, and their split among "
                "features is approximate. Section 5 gives the errors of every method and reference."
            ),
        },
        {
            "title": "SHAP values of a neural ranker are a sampled estimate.",
            "text": (
                f"Permutation sampling with {settings['shap_permutations']} antithetic permutation pairs "
                "adds up exactly, but how the total is split among features varies with the seed"
                + (
                    f": recomputed with another seed, {b}'s values on the first request changed by "
                    f"{fmt_pct(checks[b]['relative_change'])} of their mean size and the largest feature "
                    f"changed for {fmt_pct(checks[b]['top_feature_changed'])} of its tweets"
                    if b in checks
                    else ""
                )
                + ". Small differences between features are within that noise; TreeSHAP for tree "
                "models is exact and has no such noise."
            ),
        },
        {
            "title": "Models can rely on proxies.",
            "text": (
                "An attribution names the input the model reads, not the fact behind it: an id embedding "
                "can stand for an author's hidden qualities, a relationship weight for in-network status, "
                "an engagement count for topic popularity. A ranker that lacks a feature puts its weight on "
                "whatever correlates with it"
                + (f"; here {b} reads {_listed(only_b)} and {a} does not" if only_b else "")
                + ". Values outside the training range (flagged per viewer) are explained as the model "
                "extrapolates, which is where explanations and models are least reliable."
            ),
        },
        {
            "title": "Pseudonyms protect ids, not content.",
            "text": (
                "With pseudonymization, viewer and author ids (and id-valued features) are replaced by "
                "keyed hashes; tweet texts, tweet and request ids and feature values are shown as logged."
            ),
        },
    ]
    return items
