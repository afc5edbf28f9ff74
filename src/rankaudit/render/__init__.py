"""Terminal renderables: pure functions from result values to rich objects, one module per view."""

from rankaudit.render.tables import evaluation_table, timeline_table

__all__ = ["evaluation_table", "timeline_table"]
