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

The page skeleton and stylesheet are in `_template`, the embedding of scripts and figures in
`_embed`, number formats in `_format`, tables in `_tables` and sentences in `_text`; this
module assembles them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from rankaudit.compare.surprise import GRADED_COMPONENT_NAMES
from rankaudit.figures import metric_label
from rankaudit.report._embed import BOOT_JS, csp_hash, figure_blocks, script_json
from rankaudit.report._format import (
    fmt_ci,
    fmt_fixed,
    fmt_num,
    fmt_pct,
    fmt_pvalue,
    fmt_sci,
    fmt_signed,
    fmt_signed_pct,
)
from rankaudit.report._tables import (
    contributions,
    group_table,
    importance_table,
    metric_columns,
    rank_table,
)
from rankaudit.report._template import STYLE, TEMPLATE
from rankaudit.report._text import findings, limits, mover_text, selection_rule, selection_text
from rankaudit.report.plots import ReportFigure

__all__ = ["render_html", "script_json"]


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
    parts, blocks = figure_blocks(figures)
    by_section: dict[str, list[str]] = {}
    for entry in document["figures"]:
        by_section.setdefault(entry["section"], []).append(entry["id"])
    viewers = []
    for viewer in document["viewers"]:
        ids = by_section.get(f"viewer-{viewer['index']}", [])
        movers = []
        for number, mover in enumerate(viewer["movers"]):
            prefix = f"fig-v{viewer['index']}-m{number}-"
            group_columns, group_rows = group_table(mover, (b, a))
            movers.append(
                {
                    "text": mover_text(mover, a, b),
                    "figures": [i for i in ids if i.startswith(prefix)],
                    "group_columns": group_columns,
                    "group_rows": group_rows,
                    "rank": rank_table(mover),
                }
            )
        viewers.append(
            {
                **viewer,
                "slope": [i for i in ids if i.endswith("-slope")],
                "metric_columns": metric_columns(viewer["metrics"], a, b),
                "tweets": [
                    {**t, "contributions": contributions(t, order)} for t in viewer["tweets"]
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
    imp_columns, imp_rows = importance_table(document["importance"], (a, b))
    agreement_rows = [
        {"model": model, "reference": reference, **values}
        for reference in ("request", "global")
        for model, values in document["agreement"][reference].items()
    ]
    scripts = (get_plotlyjs(), BOOT_JS)
    csp = (
        "default-src 'none'; "
        f"script-src {' '.join(csp_hash(s) for s in scripts)}; "
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
        findings=findings(document),
        limits=limits(document),
        selection_text=selection_text(manifest),
        selection_rule=selection_rule(manifest),
        figures_by_section={
            section: ids for section, ids in by_section.items() if not section.startswith("viewer-")
        },
        figure=lambda fid: parts[fid],
        data_blocks=blocks,
    )
    return text.encode("utf-8")
