"""How the HTML report embeds its scripts and figures safely.

- Each figure is a JSON data block (`<script type="application/json">`) drawn by one small
  script (`BOOT_JS`); the figure JSON has every `<`, `>` and `&` written as a `\\u` escape
  (`script_json`), so no string in it can close the block or open a comment. Each figure's
  plotly template (the same few KB for every figure) is stored once.
- `csp_hash` gives the Content-Security-Policy source that allows exactly one inline script.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import plotly.io as pio
from markupsafe import Markup

from rankaudit.report.plots import ReportFigure

__all__ = ["BOOT_JS", "csp_hash", "figure_blocks", "script_json"]

#: Draws every figure data block with plotly.js, then marks the body once all are drawn.
BOOT_JS = """(function () {
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


def csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def figure_blocks(
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
