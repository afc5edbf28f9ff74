"""Importance profiles: what drives a model's scores over a sample of requests, with bootstrap
replicates over requests, saved as a small deterministic JSON file.

A profile is built in three steps, each usable alone:

1. `attribute_requests` (`rankaudit.drift.pipeline`): explain a sample of whole requests in
   batches (bounded memory) and keep, per request, the sum of |attribution| and of attribution
   per (head, feature), and per (head, feature group), the rows, and each row's relative
   completeness error: `RequestSums` (`rankaudit.drift.sums`).
2. `build_profile` (here): from those sums, per head and feature (and group), the mean
   |attribution|, its share of the total, the rank, the signed mean, and `replicates` bootstrap
   resamples of the requests (drawn with replacement, seeded) giving percentile intervals and
   the replicate shares that `check_drift` subtracts to get intervals of differences between
   two profiles.
3. `DriftProfile.write` / `read_profile` (`rankaudit.drift.profile_json`): the JSON document
   (docs/drift.md, "Profile format").

`profile_model` (`rankaudit.drift.run`) runs all three from a workspace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.drift._io import write_text
from rankaudit.drift.sums import RequestSums
from rankaudit.errors import ParameterError

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_HEADS",
    "DEFAULT_SAMPLE_ROWS",
    "DRIFT_SETTINGS",
    "GROUP_ATTRIBUTIONS",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "DriftProfile",
    "GroupAttribution",
    "Level",
    "build_profile",
]

PROFILE_FORMAT = "rankaudit-drift-profile"
PROFILE_VERSION = 1
#: Rows sampled per profile (whole requests; see `rankaudit.importance.sample_requests`).
DEFAULT_SAMPLE_ROWS = 50_000
#: Bootstrap resamples of the requests.
DEFAULT_BOOTSTRAP = 200
#: Outputs profiled by default: the final score only. Each head adds one backward pass per IG
#: step; on the demo deep model all five heads took 3.4x the time of the score alone.
DEFAULT_HEADS: tuple[str, ...] = (FINAL,)
#: Attribution settings of drift profiles. Global importance averages |attribution| over tens
#: of thousands of rows, so per-row precision matters far less than for one explanation: 8
#: Gauss-Legendre points without refinement, and 8 sampled candidates as baselines of each
#: request (an unbiased estimate of the request reference). On 2,000 demo rows every score share
#: stayed within 0.006 of the default settings' (32+ points, every candidate), at 1/30 of the
#: time (benchmarks/drift_check_speed.py).
DRIFT_SETTINGS = AttributionSettings(
    ig_steps=8, ig_max_steps=8, max_baselines=8, shap_permutations=1, seed=0
)
#: What a profile's numbers are about: single features, or feature groups.
Level = Literal["feature", "group"]
#: How a group's importance was measured: `mean_abs_of_sum`, the mean over rows of |sum of the
#: members' attributions| (the group's own attribution: members that cancel in a row cancel
#: in it), or `sum_of_mean_abs`, the sum of the members' mean |attribution| (an upper bound,
#: used only when the per-row attributions were not at hand, e.g. an older request-sums store).
GroupAttribution = Literal["mean_abs_of_sum", "sum_of_mean_abs"]
GROUP_ATTRIBUTIONS: tuple[str, ...] = ("mean_abs_of_sum", "sum_of_mean_abs")
#: Significant digits of floats in the JSON document (attributions are float32 underneath);
#: replicate shares are stored as integers in parts per million.
_DIGITS = 7
_PPM = 1_000_000
#: Float columns of the importance table, in the order they are written.
_FLOAT_KEYS = ("share", "share_low", "share_high", "mean_abs", "mean_abs_low", "mean_abs_high",
               "signed_mean")  # fmt: skip


def _sig(value: float) -> float:
    return float(f"{value:.{_DIGITS}g}")


def _bootstrap_counts(n: int, replicates: int, seed: int) -> NDArray[np.float64]:
    """[replicates, n] draw counts of a resample of n requests with replacement."""
    rng = np.random.default_rng([seed, 0x0D41F7])
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)


@dataclass(frozen=True)
class DriftProfile:
    """The importance profile of one model over one sample of requests.

    `importance`: one row per (head, feature) with `mean_abs` (mean |attribution| per row, in the
    head's units), `share` (of the head's total), `rank` (1 = most important; ties by name),
    `signed_mean`, and the bootstrap percentile intervals `share_low`, `share_high`,
    `mean_abs_low`, `mean_abs_high` at `confidence`. `replicates[head]`: [B, features] share
    of each feature in each bootstrap resample, columns in `features` order.
    `metadata`: what the profile was made from (model and data fingerprints, sample, seed,
    settings, package version, creation time), as written to JSON.

    Feature groups (empty in profiles made without a feature spec, or before groups existed):
    `groups` (group -> member features), `group_attribution` (how a group's importance was
    measured, see `GroupAttribution`), `group_importance` (the table of `importance` with a
    `group` column instead of `feature`; shares of the head's total over groups) and
    `group_replicates[head]` ([B, groups], columns in `groups` order).
    """

    method: str
    reference: str
    heads: tuple[str, ...]
    features: tuple[str, ...]
    settings: Mapping[str, Any]
    confidence: float
    importance: pd.DataFrame
    replicates: Mapping[str, NDArray[np.float64]]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_attribution: str | None = None
    group_importance: pd.DataFrame | None = None
    group_replicates: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name the profile: its model and its source file, when known."""
        model = self.metadata.get("model", {}).get("name", "?")
        source = self.metadata.get("source")
        return f"{source} (model {model})" if source else f"profile of model {model}"

    @property
    def has_groups(self) -> bool:
        """Whether the profile holds per-group importance."""
        return bool(self.groups) and self.group_importance is not None

    def names(self, level: Level = "feature") -> tuple[str, ...]:
        """The profile's features, or its groups."""
        return self.features if level == "feature" else tuple(self.groups)

    def table(self, level: Level = "feature") -> pd.DataFrame:
        """The importance table of `level`, the subject (feature or group) in a `feature`
        column either way (so rules read both alike). Raises ParameterError for groups of a
        profile that has none."""
        if level == "feature":
            return self.importance
        if self.group_importance is None:
            raise ParameterError(f"{self.label} holds no feature groups")
        return self.group_importance.rename(columns={"group": "feature"})

    def replicate_shares(self, level: Level = "feature") -> Mapping[str, NDArray[np.float64]]:
        """[B, subjects] bootstrap shares per head, of features or of groups."""
        return self.replicates if level == "feature" else self.group_replicates

    def shares(self, head: str, features: Sequence[str] | None = None) -> NDArray[np.float64]:
        """Share of each feature for `head`, in the order of `features` (default: the
        profile's own `features` order)."""
        return self.level_shares(head, "feature", features)

    def level_shares(
        self, head: str, level: Level, names: Sequence[str] | None = None
    ) -> NDArray[np.float64]:
        """Share of each feature (or group) for `head`, in the order of `names` (default:
        the profile's own order)."""
        table = self.table(level)
        table = table.loc[table["head"] == head].set_index("feature")
        order = list(self.names(level) if names is None else names)
        return table.loc[order, "share"].to_numpy(dtype=np.float64)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the importance table."""
        return self.importance.copy()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (see docs/drift.md); floats rounded to 7 significant digits."""
        return profile_document(self)

    def to_json(self) -> str:
        """The JSON text: indented, with each replicate list on one line."""
        return profile_json(self)

    def write(self, path: Path) -> Path:
        """Write the JSON document atomically (a temporary file, then a rename); returns path."""
        return write_text(path, self.to_json())


def _head_table(
    head: str,
    names: Sequence[str],
    magnitude: NDArray[np.float64],
    signed: NDArray[np.float64],
    counts: NDArray[np.float64],
    rows_total: float,
    rows_b: NDArray[np.float64],
    alpha: float,
    column: str,
) -> tuple[pd.DataFrame, NDArray[np.float64]]:
    """The importance table of one head over `names` from [requests, names] sums, and its
    replicate shares [B, names], both rounded as the JSON file stores them."""
    total = magnitude.sum(axis=0)
    mean_abs = total / rows_total
    share = total / total.sum() if total.sum() > 0 else np.zeros_like(total)
    drawn = counts @ magnitude  # [B, names]
    drawn_total = drawn.sum(axis=1, keepdims=True)
    shares_b = np.divide(drawn, drawn_total, out=np.zeros_like(drawn), where=drawn_total > 0)
    mean_abs_b = drawn / rows_b[:, None]
    low, high = np.quantile(shares_b, [alpha, 1 - alpha], axis=0)
    mean_low, mean_high = np.quantile(mean_abs_b, [alpha, 1 - alpha], axis=0)
    table = pd.DataFrame(
        {
            "head": head,
            column: list(names),
            "mean_abs": mean_abs,
            "share": share,
            "signed_mean": signed.sum(axis=0) / rows_total,
            "share_low": low,
            "share_high": high,
            "mean_abs_low": mean_low,
            "mean_abs_high": mean_high,
        }
    )
    # Round as the JSON file does, so a profile in memory and one read back check alike.
    for key in _FLOAT_KEYS:
        table[key] = [_sig(v) for v in table[key].to_numpy(dtype=np.float64)]
    table = table.sort_values(["mean_abs", column], ascending=[False, True], kind="stable")
    table.insert(2, "rank", np.arange(1, len(table) + 1))
    # Stored in parts per million: round here too, so a profile read back from JSON and the
    # one in memory give the same check.
    return table, np.rint(shares_b * _PPM) / _PPM


def build_profile(
    sums: RequestSums,
    *,
    method: str,
    reference: str,
    settings: AttributionSettings | Mapping[str, Any],
    replicates: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
    metadata: Mapping[str, Any] | None = None,
) -> DriftProfile:
    """The profile of per-request sums: point estimates over all requests, and `replicates`
    bootstrap resamples of the requests (seeded with `seed`) for intervals at `confidence`.

    A share is a ratio of sums over requests (sum |a_f| / sum over features), so each resample
    recomputes the ratio from its drawn requests rather than averaging per-request shares.
    With feature groups in `sums`, groups get the same table from the same resamples: a
    group's magnitude is the mean |sum of its members' attributions| when `sums` holds it, the
    sum of its members' mean |attribution| otherwise (`DriftProfile.group_attribution` says
    which); group shares are of the total over groups.
    """
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 20:
        raise ParameterError(
            "The 'replicates' parameter of build_profile must be an int >= 20. "
            f"Got {replicates!r} instead."
        )
    if not 0.5 <= confidence < 1:
        raise ParameterError(
            "The 'confidence' parameter of build_profile must be in [0.5, 1). "
            f"Got {confidence!r} instead."
        )
    n = len(sums.requests)
    if n < 2:
        raise ParameterError(f"a profile needs at least 2 requests; the sample has {n}")
    counts = _bootstrap_counts(n, replicates, seed)
    rows_total = float(sums.rows.sum())
    rows_b = counts @ sums.rows.astype(np.float64)
    alpha = (1.0 - confidence) / 2.0
    tables, group_tables = [], []
    replicate_shares: dict[str, NDArray[np.float64]] = {}
    group_shares: dict[str, NDArray[np.float64]] = {}
    if sums.groups:
        group_magnitude, group_signed = sums.group_sums()
    for h, head in enumerate(sums.heads):
        table, replicate_shares[head] = _head_table(
            head, sums.features, sums.magnitude[h], sums.signed[h], counts, rows_total, rows_b,
            alpha, "feature",
        )  # fmt: skip
        tables.append(table)
        if sums.groups:
            table, group_shares[head] = _head_table(
                head, list(sums.groups), group_magnitude[h], group_signed[h], counts,
                rows_total, rows_b, alpha, "group",
            )  # fmt: skip
            group_tables.append(table)
    importance = pd.concat(tables, ignore_index=True)
    settings_dict = asdict(settings) if isinstance(settings, AttributionSettings) else settings
    # Where the run happened is no property of the profile (devices agree within 1e-5), so a
    # GPU-made profile checks against a CPU-made one, and older profiles keep matching.
    settings_dict = {k: v for k, v in settings_dict.items() if k != "device"}
    meta = dict(metadata or {})
    meta.setdefault("sample", {})
    meta["sample"] = {
        **meta["sample"],
        "rows": int(rows_total),
        "requests": n,
    }
    meta["bootstrap"] = {"unit": "request", "replicates": replicates, "seed": seed}
    meta["completeness"] = {
        head: _completeness_summary(sums.completeness.get(head)) for head in sums.heads
    }
    return DriftProfile(
        method=method,
        reference=reference,
        heads=sums.heads,
        features=sums.features,
        settings=dict(settings_dict),
        confidence=confidence,
        importance=importance,
        replicates=replicate_shares,
        metadata=meta,
        groups={g: tuple(m) for g, m in sums.groups.items()},
        group_attribution=(
            None
            if not sums.groups
            else "sum_of_mean_abs"
            if sums.group_magnitude is None
            else "mean_abs_of_sum"
        ),
        group_importance=pd.concat(group_tables, ignore_index=True) if group_tables else None,
        group_replicates=group_shares,
    )


def _completeness_summary(errors: NDArray[np.float64] | None) -> dict[str, float | None]:
    if errors is None or not len(errors):
        return {"median_relative_error": None, "p90_relative_error": None}
    finite = errors[np.isfinite(errors)]
    if not len(finite):
        return {"median_relative_error": None, "p90_relative_error": None}
    return {
        "median_relative_error": _sig(float(np.median(finite))),
        "p90_relative_error": _sig(float(np.quantile(finite, 0.9))),
    }


# --- the JSON document (read back by rankaudit.drift.profile_json) ----------------------


def _tables(
    table: pd.DataFrame, heads: tuple[str, ...], names: tuple[str, ...],
    replicates: Any, column: str,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, list[int]]]]:  # fmt: skip
    """Per head: the entries of the importance table by rank, and the replicate shares of
    each name in parts per million."""
    importance: dict[str, list[dict[str, Any]]] = {}
    for head in heads:
        rows = table.loc[table["head"] == head].sort_values("rank")
        labels = rows[column].astype(str).tolist()
        ranks = rows["rank"].to_numpy(dtype=np.int64).tolist()
        columns = {k: rows[k].to_numpy(dtype=np.float64).tolist() for k in _FLOAT_KEYS}
        importance[head] = [
            {column: label, "rank": rank, **{k: _sig(columns[k][i]) for k in _FLOAT_KEYS}}
            for i, (label, rank) in enumerate(zip(labels, ranks, strict=True))
        ]
    ppm = {
        head: {
            name: np.rint(replicates[head][:, j] * _PPM).astype(np.int64).tolist()
            for j, name in enumerate(names)
        }
        for head in heads
    }
    return importance, ppm


def profile_document(profile: DriftProfile) -> dict[str, Any]:
    """The JSON document of `profile` (see docs/drift.md); floats rounded to 7 significant
    digits."""
    importance, replicates = _tables(
        profile.importance, profile.heads, profile.features, profile.replicates, "feature"
    )
    meta = {k: v for k, v in profile.metadata.items() if k != "source"}
    document = {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        **meta,
        "method": profile.method,
        "reference": profile.reference,
        "heads": list(profile.heads),
        "features": list(profile.features),
        "settings": dict(profile.settings),
        "confidence": profile.confidence,
        "importance": importance,
        "share_replicates_ppm": replicates,
    }
    if profile.groups and profile.group_importance is not None:
        group_importance, group_replicates = _tables(
            profile.group_importance, profile.heads, tuple(profile.groups),
            profile.group_replicates, "group",
        )  # fmt: skip
        document["groups"] = {g: list(m) for g, m in profile.groups.items()}
        document["group_attribution"] = profile.group_attribution
        document["group_importance"] = group_importance
        document["group_share_replicates_ppm"] = group_replicates
    return document


def profile_json(profile: DriftProfile) -> str:
    """The JSON text of `profile`: indented, with each replicate list on one line."""
    document = profile_document(profile)
    compact: dict[str, str] = {}
    for key in ("share_replicates_ppm", "group_share_replicates_ppm"):
        for per_name in document.get(key, {}).values():
            for name, values in per_name.items():
                token = f"@@{len(compact)}@@"
                compact[token] = json.dumps(values, separators=(",", ":"))
                per_name[name] = token
    text = json.dumps(document, indent=2, allow_nan=False)
    for token, values in compact.items():
        text = text.replace(f'"{token}"', values, 1)
    return text + "\n"
