"""Plotly figure builders: pure functions from rankaudit results to `plotly.graph_objects.Figure`.

Shared by the web app and the audit reports; nothing here imports a web framework. Colours and
fonts are in `theme`.
"""

from rankaudit.figures._format import number
from rankaudit.figures.attribution import (
    METHOD_LABELS,
    ExplainedDifference,
    attribution_bars,
    attribution_waterfall,
    explained_difference,
    rank_bars,
)
from rankaudit.figures.importance import (
    attribution_beeswarm,
    dependence_plot,
    importance_comparison,
    method_agreement,
)
from rankaudit.figures.metrics import (
    agreement_intervals,
    head_quality,
    metric_intervals,
    metric_label,
    segment_differences,
)
from rankaudit.figures.timeline import head_breakdown, position_slopegraph

__all__ = [
    "METHOD_LABELS",
    "ExplainedDifference",
    "agreement_intervals",
    "attribution_bars",
    "attribution_beeswarm",
    "attribution_waterfall",
    "dependence_plot",
    "explained_difference",
    "head_breakdown",
    "head_quality",
    "importance_comparison",
    "method_agreement",
    "metric_intervals",
    "metric_label",
    "number",
    "position_slopegraph",
    "rank_bars",
    "segment_differences",
]
