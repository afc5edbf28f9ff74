"""Render the report's JSON document and figures as one self-contained HTML file.

- Jinja2 with autoescaping: every string of the document (tweet text, ids, feature names,
  categories) is escaped where it is written.
- plotly.js is embedded once, inline; each figure is a JSON data block
  (`<script type="application/json">`) drawn by one small script. The figure JSON has every
  `<`, `>` and `&` written as a `\\u` escape, so no string in it can close the block or open a
  comment. Each figure's plotly template (the same few KB for every figure) is stored once.
- A Content-Security-Policy allows exactly those two inline scripts (by sha256), no network
  access and no other script: should a string ever slip through, the browser would not run it.
- Every number shown is read from the document (already rounded), so the JSON twin holds it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from rankaudit.attribution.grouping import other_label
from rankaudit.compare.surprise import GRADED_COMPONENT_NAMES
from rankaudit.figures import metric_label
from rankaudit.report._template import STYLE, TEMPLATE
from rankaudit.report.plots import ReportFigure

__all__ = ["render_html", "script_json"]

#: How the surprise components are named where relevance is graded (their JSON keys stay).
_BOOT = """(function () {
  "use strict";
  var templates = JSON.parse(document.getElementById("plotly-templates").textContent);
  var blocks = document.querySelectorAll('script[type="application/json"][data-figure]');
  var config = {displayModeBar: false, displaylogo: false, responsive: true};
  var drawn = [];
  for (var i = 0; i < blocks.length; i++) {
    var spec = JSON.parse(blocks[i].textContent);
    var layout = spec.layout || {};
    if (typeof spec.template === "number") { layout.template = templates[spec.template]; }
    var node = document.getElementById(blocks[i].getAttribute("data-figure"));
    drawn.push(Plotly.newPlot(node, spec.data, layout, config));
  }
  Promise.all(drawn).then(function () {
    document.body.setAttribute("data-figures-drawn", String(drawn.length));
  });
  function fit() {
    var plots = document.querySelectorAll(".js-plotly-plot");
    for (var j = 0; j < plots.length; j++) { Plotly.Plots.resize(plots[j]); }
  }
  window.addEventListener("beforeprint", fit);
  window.addEventListener("afterprint", fit);
})();"""


def script_json(value: Any) -> str:
    """JSON text safe inside a `<script>` element: `<`, `>`, `&` and the two JavaScript line
    separators as `\\u` escapes (valid JSON, and no `</script` or `<!--` can appear)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


# --- number formatting (every input is a value of the document) -----------------------------


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value: object, digits: int = 3) -> str:
    """Integers with thousands separators, other numbers to `digits` significant digits."""
    if _missing(value):
        return "—"
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 1e4:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def fmt_fixed(value: object, decimals: int = 3) -> str:
    return "—" if _missing(value) else f"{float(value):.{decimals}f}"  # type: ignore[arg-type]


def fmt_signed(value: object, digits: int = 3) -> str:
    return "—" if _missing(value) else f"{float(value):+.{digits}g}".replace("-", "−")  # type: ignore[arg-type]


def fmt_sci(value: object) -> str:
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    if number == 0:
        return "0"
    return f"{number:.2g}" if 1e-3 <= abs(number) < 1e4 else f"{number:.1e}"


def fmt_pct(value: object, decimals: int = 1) -> str:
    return "—" if _missing(value) else f"{100 * float(value):.{decimals}f}%"  # type: ignore[arg-type]


def fmt_signed_pct(value: object, decimals: int = 1) -> str:
    """A signed percentage (0.735 -> +73.5%), with a true minus sign."""
    if _missing(value):
        return "—"
    return f"{100 * float(value):+.{decimals}f}%".replace("-", "−")  # type: ignore[arg-type]


def fmt_pvalue(value: object) -> str:
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return "< 0.001" if number < 0.001 else f"{number:.3f}"


def fmt_ci(estimate: Mapping[str, Any] | None, signed: bool = False) -> str:
    """`mean [low, high]` to 3 decimals."""
    if not estimate or _missing(estimate.get("mean")):
        return "—"
    mean, low, high = (estimate.get(k) for k in ("mean", "ci_low", "ci_high"))
    first = f"{float(mean):+.3f}" if signed else fmt_fixed(mean)  # type: ignore[arg-type]
    return f"{first} [{fmt_fixed(low)}, {fmt_fixed(high)}]".replace("-", "−")


# --- figures --------------------------------------------------------------------------------


def _figure_blocks(
    figures: Sequence[ReportFigure],
) -> tuple[dict[str, Markup], list[Markup]]:
    """Each figure's HTML (placeholder, caption) by id, and the data blocks: one per figure
    plus the shared templates."""
    templates: list[Any] = []
    index: dict[str, int] = {}
    parts: dict[str, Markup] = {}
    blocks: list[Markup] = []
    for number, figure in enumerate(figures, start=1):
        spec = json.loads(pio.to_json(figure.figure, validate=False, remove_uids=True))
        layout = spec.get("layout", {})
        template = layout.pop("template", None)
        reference = None
        if template is not None:
            key = json.dumps(template, sort_keys=True)
            if key not in index:
                index[key] = len(templates)
                templates.append(template)
            reference = index[key]
        payload = {"data": spec.get("data", []), "layout": layout, "template": reference}
        blocks.append(
            Markup('<script type="application/json" data-figure="{}">{}</script>\n').format(
                figure.id, Markup(script_json(payload))
            )
        )
        parts[figure.id] = Markup(
            '<figure class="chart"><div class="plot" id="{}"></div>'
            "<figcaption>Figure {}. {}</figcaption></figure>\n"
        ).format(figure.id, number, figure.caption)
    blocks.insert(
        0,
        Markup('<script type="application/json" id="plotly-templates">{}</script>\n').format(
            Markup(script_json(templates))
        ),
    )
    return parts, blocks


# --- what the template shows, from the document ---------------------------------------------


def _selection_text(manifest: Mapping[str, Any]) -> str:
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


def _selection_rule(manifest: Mapping[str, Any]) -> str:
    mode = manifest["selection"]["mode"]
    if mode == "surprising":
        return "their most surprising request"
    if mode == "requests":
        return "the request asked for"
    return "the request the two rankers dispute most"


def _contributions(
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


def _group_table(
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


def _value(value: object) -> str:
    return fmt_num(value)


def _mover_text(mover: Mapping[str, Any], a: str, b: str) -> str:
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
    return " ".join(parts).rstrip(";") + "."


def _metric_columns(metrics: Mapping[str, Any], a: str, b: str) -> list[dict[str, str]]:
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


def _importance_table(
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


def _findings(document: Mapping[str, Any]) -> list[str]:
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


def _limits(document: Mapping[str, Any]) -> list[dict[str, str]]:
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


def render_html(document: Mapping[str, Any], figures: Sequence[ReportFigure]) -> bytes:
    """The report as one HTML file (UTF-8 bytes)."""
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    environment.filters.update(
        num=fmt_num,
        fixed=fmt_fixed,
        signed=fmt_signed,
        sci=fmt_sci,
        pct=fmt_pct,
        spct=fmt_signed_pct,
        pvalue=fmt_pvalue,
        ci=fmt_ci,
        metric=metric_label,
    )
    template = environment.from_string(TEMPLATE)
    manifest = document["manifest"]
    a, b = manifest["models"]["a"], manifest["models"]["b"]
    methods = manifest["attribution"]["methods"]
    order = [(b, m) for m in ("shap", "ig") if m in methods.get(b, [])] + [
        (a, m) for m in ("shap", "ig") if m in methods.get(a, [])
    ]
    parts, blocks = _figure_blocks(figures)
    by_section: dict[str, list[str]] = {}
    for entry in document["figures"]:
        by_section.setdefault(entry["section"], []).append(entry["id"])
    viewers = []
    for viewer in document["viewers"]:
        ids = by_section.get(f"viewer-{viewer['index']}", [])
        movers = []
        for number, mover in enumerate(viewer["movers"]):
            prefix = f"fig-v{viewer['index']}-m{number}-"
            group_columns, group_rows = _group_table(mover, (b, a))
            movers.append(
                {
                    "text": _mover_text(mover, a, b),
                    "figures": [i for i in ids if i.startswith(prefix)],
                    "group_columns": group_columns,
                    "group_rows": group_rows,
                }
            )
        viewers.append(
            {
                **viewer,
                "slope": [i for i in ids if i.endswith("-slope")],
                "metric_columns": _metric_columns(viewer["metrics"], a, b),
                "tweets": [
                    {**t, "contributions": _contributions(t, order)} for t in viewer["tweets"]
                ],
                "movers": movers,
            }
        )
    summary = document["summary"]
    # Documents written before graded relevance carry no `relevance`: engagement.
    graded = (summary.get("relevance") or {}).get("kind") == "graded"
    ks = summary["settings"]["k"]
    seg_metric = f"ndcg@{max(ks)}" if ks else ""
    segments = [
        {**seg, "metric": seg["ranker_metrics"][seg_metric]}
        for seg in summary["segments"]
        if seg_metric in seg["ranker_metrics"]
    ]
    head_names = list(summary["heads"].get("b", {}) or summary["heads"].get("a", {}))
    imp_columns, imp_rows = _importance_table(document["importance"], (a, b))
    agreement_rows = [
        {"model": model, "reference": reference, **values}
        for reference in ("request", "global")
        for model, values in document["agreement"][reference].items()
    ]
    scripts = (get_plotlyjs(), _BOOT)
    csp = (
        "default-src 'none'; "
        f"script-src {' '.join(_csp_hash(s) for s in scripts)}; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    text = template.render(
        title=f"Ranking audit: {b} against {a}",
        csp=csp,
        style=Markup(STYLE),
        plotly_js=Markup(scripts[0]),
        boot_js=Markup(scripts[1]),
        d=document,
        m=manifest,
        s=summary,
        a=a,
        b=b,
        imp=document["importance"],
        # Reports written before the exposure section carry no `exposure`.
        ex=document.get("exposure"),
        imp_columns=imp_columns,
        imp_rows=imp_rows,
        agreement_rows=agreement_rows,
        head_names=head_names,
        graded=graded,
        # With graded relevance the surprise components are named as the terminal names them.
        component_names=GRADED_COMPONENT_NAMES if graded else {},
        segments=segments,
        seg_metric=seg_metric,
        viewers=viewers,
        findings=_findings(document),
        limits=_limits(document),
        selection_text=_selection_text(manifest),
        selection_rule=_selection_rule(manifest),
        figures_by_section={
            section: ids for section, ids in by_section.items() if not section.startswith("viewer-")
        },
        figure=lambda fid: parts[fid],
        data_blocks=blocks,
    )
    return text.encode("utf-8")
