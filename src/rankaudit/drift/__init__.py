"""Feature-importance drift between model versions or data windows, as a CI gate.

Profile a model (`profile_model`: importance per feature and per feature group over a seeded
sample of requests, with bootstrap replicates), compare two profiles under rules (`check_drift`,
on features, groups or both), and report for CI (`junit_xml`, `markdown_summary`,
`DriftResult.to_json`). docs/drift.md has the details.
"""

from rankaudit.drift.check import (
    MOVE_COLUMNS,
    CheckCase,
    DriftResult,
    Finding,
    ProfileMismatch,
    check_drift,
)
from rankaudit.drift.pipeline import attribute_requests
from rankaudit.drift.profile import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_HEADS,
    DEFAULT_SAMPLE_ROWS,
    DRIFT_SETTINGS,
    DriftProfile,
    build_profile,
)
from rankaudit.drift.profile_json import read_profile
from rankaudit.drift.report import junit_xml, markdown_summary, write_text
from rankaudit.drift.rules import DEFAULT_RULES, RULE_NAMES, DriftRules, load_rules
from rankaudit.drift.run import profile_model
from rankaudit.drift.sums import RequestSums, request_sums

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_HEADS",
    "DEFAULT_RULES",
    "DEFAULT_SAMPLE_ROWS",
    "DRIFT_SETTINGS",
    "MOVE_COLUMNS",
    "RULE_NAMES",
    "CheckCase",
    "DriftProfile",
    "DriftResult",
    "DriftRules",
    "Finding",
    "ProfileMismatch",
    "RequestSums",
    "attribute_requests",
    "build_profile",
    "check_drift",
    "junit_xml",
    "load_rules",
    "markdown_summary",
    "profile_model",
    "read_profile",
    "request_sums",
    "write_text",
]
