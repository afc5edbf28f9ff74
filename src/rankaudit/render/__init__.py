"""Terminal renderables: pure functions from result values to rich objects, one module per view."""

from rankaudit.render.attribution import completeness_table, contributions_table
from rankaudit.render.compare import population_tables, request_tables, surprises_table
from rankaudit.render.tables import evaluation_table, timeline_table

__all__ = [
    "completeness_table",
    "contributions_table",
    "evaluation_table",
    "population_tables",
    "request_tables",
    "surprises_table",
    "timeline_table",
]
