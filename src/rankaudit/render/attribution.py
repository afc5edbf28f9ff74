"""Rich tables for attribution runs."""

from __future__ import annotations

import pandas as pd
from rich.table import Table
from rich.text import Text

from rankaudit.attribution.grouping import DEFAULT_TOP, By
from rankaudit.explain import RankLevelExplanation, TweetExplanation
from rankaudit.render._text import log_text

__all__ = ["completeness_table", "contributions_table", "rank_level_table"]


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


#: The column titles of each rank-level quantity, and its number format.
_RANK_COLUMNS = {
    "rank": ("Δ rank", "{:+.2f}"),
    "topk": ("Δ top-k", "{:+.3f}"),
    "exposure": ("Δ exposure", "{:+.4f}"),
    "kendall": ("Δ Kendall τ", "{:+.4f}"),
    "ndcg": ("Δ NDCG@k", "{:+.4f}"),
    "rbo": ("Δ RBO", "{:+.4f}"),
}


def rank_level_table(
    explanation: RankLevelExplanation, model: str, *, top: int = DEFAULT_TOP
) -> Table:
    """One model's rank-level Shapley values: the `top` players by |first quantity| (the asked
    one first), one column per quantity; the caption gives each quantity at the tweet's (or the
    list's) own features, at the request reference, and their difference, which the full
    column sums to. Negative Δ rank moves the tweet up."""
    result = explanation.results[model]
    if explanation.quantity == "listwise":
        quantities = list(result.quantities)
        what = f"request {explanation.view.request_id}: the whole order"
    else:
        quantities = [
            explanation.quantity,
            *(q for q in ("rank", "topk", "exposure") if q != explanation.quantity),
        ]
        what = f"{explanation.tweet}: rank, top-{result.settings.k}, exposure"
    caption = "; ".join(
        f"{q} {result.at_x[q]:.4g} at x − {result.at_reference[q]:.4g} at reference"
        f" = {result.at_x[q] - result.at_reference[q]:+.4g}"
        for q in quantities
    )
    table = Table(
        title=log_text(
            f"{model}: {what}" + (" · by feature group" if explanation.by == "group" else "")
        ),
        caption=Text(caption),
    )
    table.add_column(explanation.by)
    for q in quantities:
        table.add_column(_RANK_COLUMNS[q][0], justify="right")
    frame = result.values.assign(_size=result.values[quantities[0]].abs()).sort_values(
        ["_size", "player"], ascending=[False, True], kind="stable"
    )
    shown, rest = frame.head(top), frame.iloc[top:]
    for row in shown.to_dict("records"):
        cells = []
        for q in quantities:
            number = float(row[q])
            # Up the list is good for the tweet: a negative Δ rank is green.
            good = -number if q == "rank" else number
            style = "green" if good > 0 else "red" if good < 0 else ""
            cells.append(Text(_RANK_COLUMNS[q][1].format(number), style=style))
        table.add_row(log_text(str(row["player"])), *cells)
    if len(rest):
        label = f"all other {'features' if explanation.by == 'feature' else 'groups'} ({len(rest)})"
        table.add_row(
            Text(label, style="dim"),
            *(Text(_RANK_COLUMNS[q][1].format(float(rest[q].sum()))) for q in quantities),
        )
    return table
