"""The report's exposure section: which groups of tweets the audited ranker amplifies against
the reference ranker (`rankaudit.exposure`), over the same held-out rows the summary scores.

The groups are `ReportSettings.exposure_groups` (group specs of `rankaudit.exposure.groups`);
by default they are derived from the workspace: `in_network` when the spec has it, and the
author-size buckets of a follower-count feature. When none applies the section is skipped
with a one-line note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from rankaudit.compare.scoring import ScoredRequests
from rankaudit.data import schema
from rankaudit.data.spec import FeatureSpec
from rankaudit.exposure import MEASURES, ExposureAudit, audit_scored, group_rows
from rankaudit.report.pseudonym import Pseudonymizer
from rankaudit.report.settings import ReportSettings

__all__ = [
    "FOLLOWER_BUCKETS",
    "IN_NETWORK",
    "ExposureSection",
    "default_exposure_groups",
    "exposure_document",
    "gather_exposure",
    "pseudonymized_audit",
]

IN_NETWORK = "in_network"
#: Author-size buckets of a follower-count feature (< 1k, 1k–10k, >= 10k followers), as the
#: README's exposure table reads.
FOLLOWER_BUCKETS = "1000,10000"
_ID_GROUPINGS = frozenset({schema.USER_ID, schema.AUTHOR_ID})


def default_exposure_groups(spec: FeatureSpec) -> tuple[str, ...]:
    """The group specs a report audits by default: `in_network` when the spec has it, and
    FOLLOWER_BUCKETS of the first continuous feature whose name mentions followers."""
    names = {feature.name for feature in spec}
    groups = [IN_NETWORK] if IN_NETWORK in names else []
    followers = [f.name for f in spec if f.kind == "continuous" and "follower" in f.name.lower()]
    if followers:
        groups.append(f"{followers[0]}:{FOLLOWER_BUCKETS}")
    return tuple(groups)


@dataclass(frozen=True, eq=False)
class ExposureSection:
    """The exposure audit of the report (`audit`, None when skipped, then `note` says why) and
    the group specs it was asked for."""

    groups: tuple[str, ...]
    audit: ExposureAudit | None
    note: str | None = None


def gather_exposure(
    scored: Callable[[], tuple[ScoredRequests, str]], spec: FeatureSpec, settings: ReportSettings
) -> ExposureSection:
    """The exposure audit of the held-out rows that `scored()` returns already scored by both
    rankers, with its effective scope (called only when a group applies; `settings`
    validated). Explicit groups that name no log column raise ParameterError; without
    explicit groups and without a default one, the section is skipped with a note."""
    groups = settings.exposure_groups
    if groups is None:
        groups = default_exposure_groups(spec)
        if not groups:
            return ExposureSection(
                groups=(),
                audit=None,
                note="No exposure section: the workspace has no in_network column and no "
                "follower-count feature; set the report's exposure_groups to audit other groups.",
            )
    elif not groups:
        return ExposureSection(
            groups=(),
            audit=None,
            note="No exposure section: the report's exposure_groups is empty.",
        )
    rows, scope = scored()
    groupings = group_rows(rows.rows, groups, source="the log")
    audit = audit_scored(rows, groupings, settings=settings.exposure, scope=scope)
    return ExposureSection(groups=tuple(groups), audit=audit)


def _pseudonymized_frame(frame: pd.DataFrame, pseudonym: Pseudonymizer) -> pd.DataFrame:
    """Group labels of id-valued groupings (viewer or author ids) pseudonymized."""
    if frame.empty or not pseudonym.enabled:
        return frame
    out = frame.copy()
    for column in ("group", "other"):
        if column in out:
            out[column] = [
                pseudonym(label) if grouping in _ID_GROUPINGS else label
                for grouping, label in zip(out["grouping"], out[column], strict=True)
            ]
    return out


def pseudonymized_audit(audit: ExposureAudit, pseudonym: Pseudonymizer) -> ExposureAudit:
    """The audit with the groups of id-valued groupings pseudonymized (itself when off)."""
    if not pseudonym.enabled:
        return audit
    return replace(
        audit,
        groups=_pseudonymized_frame(audit.groups, pseudonym),
        tests=_pseudonymized_frame(audit.tests, pseudonym),
        cells=audit.cells.iloc[0:0],
    )


def exposure_document(section: ExposureSection, pseudonym: Pseudonymizer) -> dict[str, Any]:
    """The JSON twin's `exposure` key: the group specs, `note` (null unless skipped) and the
    audit's `to_dict()` (models, measures, attention, scope, viewers, requests, confidence,
    groups, disparity, tests), or nulls when skipped."""
    out: dict[str, Any] = {"groups": list(section.groups), "note": section.note}
    if section.audit is None:
        return {**out, "measures": MEASURES, "audit": None}
    audit = pseudonymized_audit(section.audit, pseudonym)
    return {**out, "measures": MEASURES, "audit": audit.to_dict()}
