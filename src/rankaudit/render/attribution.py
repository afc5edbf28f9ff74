"""Rich tables for attribution runs."""

from __future__ import annotations

import pandas as pd
from rich.table import Table
from rich.text import Text

from rankaudit.attribution.grouping import DEFAULT_TOP, By
from rankaudit.explain import TweetExplanation
from rankaudit.render._text import log_text

__all__ = ["completeness_table", "contributions_table"]


def completeness_table(completeness: pd.DataFrame) -> Table:
    """Per (model, method, reference, head): rows, max |error|, max relative error, converged."""
    table = Table(title="completeness: |sum of attributions - (f(x) - f(reference))|")
    for name, justify in (("model", "left"), ("method", "left"), ("reference", "left"), ("head", "left"),
                          ("rows", "right"), ("max abs error", "right"), ("max rel error", "right"),
                          ("converged", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in completeness.itertuples(index=False):
        table.add_row(
            log_text(row.model), str(row.method), str(row.reference), log_text(row.head), str(row.rows),
            f"{row.max_abs_error:.2e}", f"{row.max_relative_error:.2e}", f"{row.converged:.1%}",
        )  # fmt: skip
    return table


def contributions_table(
    explanation: TweetExplanation, model: str, *, top: int = DEFAULT_TOP, by: By = "feature"
) -> Table:
    """The `top` largest contributions to one model's score of the explained tweet, per
    feature or per feature group (`by="group"`), then one line "all other features (K)" with
    the sum of the rest, so each method's column adds up to its Σ in the caption."""
    totals = explanation.totals(model)
    if explanation.vs_tweet is not None:
        what = f"why {explanation.tweet} vs {explanation.vs_tweet}"
    else:
        what = f"{explanation.tweet} vs the {explanation.reference} reference"
    gap = totals["score"] - totals["reference_score"]
    sums = ", ".join(
        f"Σ {k[4:].upper()} = {v:+.4f}" for k, v in totals.items() if k.startswith("sum_")
    )
    table = Table(
        title=log_text(f"{model}: {what}" + (" · by feature group" if by == "group" else "")),
        caption=Text(
            f"score {totals['score']:.4f} − reference {totals['reference_score']:.4f} = {gap:+.4f}; {sums}"
        ),
    )
    shown = explanation.top_contributions(model, top=top, by=by)
    methods = explanation.methods(model)
    table.add_column(by)
    table.add_column("value" if by == "feature" else "features", justify="right")
    for method in methods:
        table.add_column(method.upper(), justify="right")
    for row in shown.to_dict("records"):
        # Feature and group names and category values come from user files: log_text.
        if row["other"]:
            label, second = log_text(row[by], style="dim"), Text("")
        elif by == "group":
            label, second = log_text(row["group"]), Text(str(row["members"]))
        else:
            value = row["value"]
            label = log_text(row["feature"])
            second = log_text(f"{value:.4g}" if isinstance(value, float) else value)
        cells = []
        for method in methods:
            number = float(row[method])
            cells.append(
                Text(f"{number:+.4f}", style="green" if number > 0 else "red" if number < 0 else "")
            )
        table.add_row(label, second, *cells)
    return table
