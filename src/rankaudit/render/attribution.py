"""Rich tables for attribution runs."""

from __future__ import annotations

import pandas as pd
from rich.table import Table
from rich.text import Text

__all__ = ["completeness_table"]


def completeness_table(completeness: pd.DataFrame) -> Table:
    """Per (model, method, reference, head): rows, max |error|, max relative error, converged."""
    table = Table(title="completeness: |sum of attributions - (f(x) - f(reference))|")
    for name, justify in (("model", "left"), ("method", "left"), ("reference", "left"), ("head", "left"),
                          ("rows", "right"), ("max abs error", "right"), ("max rel error", "right"),
                          ("converged", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in completeness.itertuples(index=False):
        table.add_row(
            Text(str(row.model)), str(row.method), str(row.reference), Text(str(row.head)), str(row.rows),
            f"{row.max_abs_error:.2e}", f"{row.max_relative_error:.2e}", f"{row.converged:.1%}",
        )  # fmt: skip
    return table
