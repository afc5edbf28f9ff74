"""Attributions of ranked tweets: SHAP and Integrated Gradients against a global, request or
pair reference, per head and for the final score, with completeness measured for every row."""

from rankaudit.attribution.api import attribute_frame, background_sample, resolve_methods
from rankaudit.attribution.batch import (
    AttributeTask,
    AttributionPlan,
    AttributionRun,
    plan_attribution,
    run_attribution,
)
from rankaudit.attribution.cache import AttributionCache
from rankaudit.attribution.result import COLUMNS, AttributionResult
from rankaudit.attribution.settings import (
    FINAL,
    INTERACTIVE_SETTINGS,
    METHODS,
    REFERENCES,
    AttributionSettings,
)

__all__ = [
    "COLUMNS",
    "FINAL",
    "INTERACTIVE_SETTINGS",
    "METHODS",
    "REFERENCES",
    "AttributeTask",
    "AttributionCache",
    "AttributionPlan",
    "AttributionResult",
    "AttributionRun",
    "AttributionSettings",
    "attribute_frame",
    "background_sample",
    "plan_attribution",
    "resolve_methods",
    "run_attribution",
]
