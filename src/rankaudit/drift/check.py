"""Compare two importance profiles under drift rules: `check_drift` -> `DriftResult`.

Every interval comes from the profiles' bootstrap replicates (resamples of requests). The two
profiles come from independent samples, so replicate b of the difference is replicate b of the
current profile minus replicate b of the reference; its percentiles bound the difference. A rule
fires only when that interval excludes zero (or the threshold, for caps, floors and the rank
correlation) and the point estimate is past the rule's tolerance.

The rules look at features, at feature groups (the profiles' per-group shares), or at both
(`DriftRules.level`); a group is tested exactly as a feature is, with its own thresholds.

The result types are in `drift.result`, the checks that the profiles and rules fit in
`drift.compat`, each rule's evaluation in `drift.evaluate`; this module re-exports them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rankaudit.drift.compat import ProfileMismatch, check_compatible, check_rules
from rankaudit.drift.evaluate import align, check_head
from rankaudit.drift.profile import DriftProfile
from rankaudit.drift.result import MOVE_COLUMNS, CheckCase, DriftResult, Finding
from rankaudit.drift.rules import DEFAULT_RULES, RULE_NAMES, DriftRules

__all__ = ["MOVE_COLUMNS", "CheckCase", "DriftResult", "Finding", "ProfileMismatch", "check_drift"]


def check_drift(
    reference: DriftProfile,
    current: DriftProfile,
    *,
    rules: DriftRules = DEFAULT_RULES,
) -> DriftResult:
    """Compare `current` with `reference` under `rules`; returns the DriftResult.

    `rules.level` says whether the rules look at features, feature groups or both (features
    first, per head). Raises ProfileMismatch when the profiles were made with different
    methods, references, heads, feature sets or attribution settings (or, for groups, when
    either has none or they group features differently), and ParameterError when the rules
    name a head, feature or group the profiles lack.
    """
    check_compatible(reference, current, rules)
    heads = check_rules(rules, reference)
    alpha = (1.0 - rules.confidence) / 2.0
    cases: list[CheckCase] = []
    moves = []
    for head in heads:
        for level in rules.levels:
            h = align(reference, current, head, alpha, level)  # type: ignore[arg-type]
            head_cases, head_moves = check_head(h, rules)
            cases.extend(head_cases)
            moves.append(head_moves)
    findings = [c.finding for c in cases if c.finding is not None]
    order = {name: i for i, name in enumerate(RULE_NAMES)}
    findings.sort(
        key=lambda f: (f.feature is None, -f.magnitude, order[f.rule], heads.index(f.head))
    )
    table = pd.concat(moves, ignore_index=True)
    larger = np.maximum(
        table["share_before"].to_numpy(dtype=np.float64),
        table["share_after"].to_numpy(dtype=np.float64),
    )
    relative = np.divide(np.abs(table["change"].to_numpy()), larger, out=np.zeros(len(table)),
                         where=larger > 0)  # fmt: skip
    # Drifted features first, in the order of the findings; then the largest absolute moves.
    drifted = table["drifted"].to_numpy(dtype=bool)
    key = np.where(drifted, -relative, -np.abs(table["change"].to_numpy()))
    table = table.iloc[np.lexsort((key, ~drifted))]
    columns = list(MOVE_COLUMNS) if rules.level == "feature" else ["level", *MOVE_COLUMNS]
    return DriftResult(
        reference=reference.label,
        current=current.label,
        rules=rules,
        heads=heads,
        findings=tuple(findings),
        cases=tuple(cases),
        moves=table[columns].reset_index(drop=True),
        metadata={
            "method": reference.method,
            "attribution_reference": reference.reference,
            "models": {
                "reference": reference.metadata.get("model"),
                "current": current.metadata.get("model"),
            },
        },
    )
