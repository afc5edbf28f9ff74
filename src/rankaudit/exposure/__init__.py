"""Amplification and exposure audit: which groups of tweets the audited ranker amplifies
against a reference ordering, at the ranking stage on a fixed candidate pool."""

from rankaudit.exposure.attention import Attention, estimate_survival, parse_attention
from rankaudit.exposure.audit import (
    MEASURES,
    ExposureAudit,
    ExposureSettings,
    audit_exposure,
    audit_scored,
)
from rankaudit.exposure.groups import Grouping, group_rows, read_author_attributes

__all__ = [
    "MEASURES",
    "Attention",
    "ExposureAudit",
    "ExposureSettings",
    "Grouping",
    "audit_exposure",
    "audit_scored",
    "estimate_survival",
    "group_rows",
    "parse_attention",
    "read_author_attributes",
]
