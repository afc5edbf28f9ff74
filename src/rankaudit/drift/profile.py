"""Importance profiles: what drives a model's scores over a sample of requests, with bootstrap
replicates over requests, saved as a small deterministic JSON file.

A profile is built in three steps, each usable alone:

1. `attribute_requests`: explain a sample of whole requests in batches (bounded memory) and
   keep, per request, the sum of |attribution| and of attribution per (head, feature), the
   rows, and each row's relative completeness error: `RequestSums`.
2. `build_profile`: from those sums, per head and feature, the mean |attribution|, its share
   of the total, the rank, the signed mean, and `replicates` bootstrap resamples of the
   requests (drawn with replacement, seeded) giving percentile intervals and the replicate
   shares that `check_drift` subtracts to get intervals of differences between two profiles.
3. `DriftProfile.write` / `read_profile`: the JSON document (docs/drift.md, "Profile format").

`profile_model` runs all three from a workspace.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.settings import FINAL, AttributionSettings
from rankaudit.data import schema
from rankaudit.drift._io import write_text
from rankaudit.errors import InputFileError, ParameterError
from rankaudit.importance import Window

if TYPE_CHECKING:
    from rankaudit.engine import Engine
    from rankaudit.models.base import Ranker
    from rankaudit.workspace import Workspace

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_HEADS",
    "DEFAULT_SAMPLE_ROWS",
    "DRIFT_SETTINGS",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "DriftProfile",
    "RequestSums",
    "attribute_requests",
    "build_profile",
    "explain_requests",
    "profile_background",
    "profile_model",
    "read_profile",
    "request_sums",
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
#: Requests explained per batch: bounds memory (the long frame of one batch) and progress steps.
_BATCH_REQUESTS = 256
#: Significant digits of floats in the JSON document (attributions are float32 underneath);
#: replicate shares are stored as integers in parts per million.
_DIGITS = 7
_PPM = 1_000_000
#: Float columns of the importance table, in the order they are written.
_FLOAT_KEYS = ("share", "share_low", "share_high", "mean_abs", "mean_abs_low", "mean_abs_high",
               "signed_mean")  # fmt: skip


@dataclass(frozen=True)
class RequestSums:
    """Per-request sums for one (model, method, reference): the resampling unit of the bootstrap.

    `magnitude[h, r, f]` and `signed[h, r, f]`: sum over request r's rows of |attribution| and of
    attribution of feature f for head h; `rows[r]`: rows of request r; `completeness[h]`: every
    explained row's relative completeness error for head h, request after request (`rows[r]`
    values each). Requests are sorted by id.
    """

    heads: tuple[str, ...]
    features: tuple[str, ...]
    requests: tuple[str, ...]
    rows: NDArray[np.int64]
    magnitude: NDArray[np.float64]
    signed: NDArray[np.float64]
    completeness: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    def select(self, requests: Sequence[str]) -> RequestSums:
        """The sums of the given requests only (e.g. one half of a split)."""
        position = {r: i for i, r in enumerate(self.requests)}
        try:
            index = np.sort(np.array([position[str(r)] for r in requests], dtype=np.int64))
        except KeyError as exc:
            raise ParameterError(f"request {exc.args[0]!r} is not in these sums") from None
        return RequestSums(
            heads=self.heads,
            features=self.features,
            requests=tuple(self.requests[i] for i in index),
            rows=self.rows[index],
            magnitude=self.magnitude[:, index],
            signed=self.signed[:, index],
            completeness={},
        )

    def _completeness_by_request(self, head: str) -> list[NDArray[np.float64]] | None:
        """`completeness[head]` split by request, or None when it does not hold one value per
        row (sums without completeness, e.g. `select`ed ones)."""
        values = self.completeness.get(head)
        if values is None or len(values) != int(self.rows.sum()):
            return None
        if not len(self.rows):
            return []
        return np.split(np.asarray(values, dtype=np.float64), np.cumsum(self.rows)[:-1])

    @staticmethod
    def concat(parts: Sequence[RequestSums]) -> RequestSums:
        """Sums of disjoint batches of requests, as one."""
        if not parts:
            raise ParameterError("no request sums to combine")
        first = parts[0]
        requests = [r for p in parts for r in p.requests]
        order = np.argsort(np.array(requests, dtype=object), kind="stable")
        completeness: dict[str, NDArray[np.float64]] = {}
        for h in first.heads:
            split = [p._completeness_by_request(h) for p in parts]
            blocks = [b for per_part in split for b in (per_part or [])]
            completeness[h] = (
                np.concatenate([blocks[i] for i in order] or [np.empty(0)])
                if all(per_part is not None for per_part in split)
                else np.concatenate([p.completeness.get(h, np.empty(0)) for p in parts])
            )
        return RequestSums(
            heads=first.heads,
            features=first.features,
            requests=tuple(requests[i] for i in order),
            rows=np.concatenate([p.rows for p in parts])[order],
            magnitude=np.concatenate([p.magnitude for p in parts], axis=1)[:, order],
            signed=np.concatenate([p.signed for p in parts], axis=1)[:, order],
            completeness=completeness,
        )

    def to_frame(self) -> pd.DataFrame:
        """The sums as a long table, one row per (request, head, feature) in that order:
        `request_id`, `head`, `feature`, `magnitude`, `signed`, `rows` (the request's rows),
        and `completeness`: the relative completeness error of each of the request's rows for
        the head, as a list on the request's first feature row (None on the others, so each
        list is stored once). `from_frame` reads it back."""
        n_heads, n_requests, n_features = self.magnitude.shape
        heads = np.repeat(np.arange(n_heads), n_requests * n_features)
        requests = np.tile(np.repeat(np.arange(n_requests), n_features), n_heads)
        first = np.tile(np.arange(n_features) == 0, n_heads * n_requests)
        completeness = np.full(len(heads), None, dtype=object)
        for h, head in enumerate(self.heads):
            split = self._completeness_by_request(head)
            if split is None:
                continue
            cells = np.flatnonzero(first & (heads == h))
            for cell, values in zip(cells, split, strict=True):
                completeness[cell] = values.tolist()
        return pd.DataFrame(
            {
                schema.REQUEST_ID: np.asarray(self.requests, dtype=object)[requests],
                "head": np.asarray(self.heads, dtype=object)[heads],
                "feature": np.tile(np.asarray(self.features, dtype=object), n_heads * n_requests),
                "magnitude": self.magnitude.reshape(-1),
                "signed": self.signed.reshape(-1),
                "rows": self.rows[requests],
                "completeness": completeness,
            }
        )

    @staticmethod
    def from_frame(frame: pd.DataFrame, *, heads: Sequence[str]) -> RequestSums:
        """The sums of a `to_frame` table (or several concatenated, for disjoint requests);
        features keep their first-appearance order, requests are sorted by id."""
        features = tuple(pd.unique(frame["feature"]))
        requests = np.sort(frame[schema.REQUEST_ID].astype(str).unique().astype(object))
        head_codes = pd.Categorical(frame["head"], categories=list(heads)).codes
        request_codes = pd.Categorical(
            frame[schema.REQUEST_ID].astype(str), categories=requests
        ).codes
        feature_codes = pd.Categorical(frame["feature"], categories=list(features)).codes
        if (head_codes < 0).any():
            extra = sorted(set(frame["head"]) - set(heads))
            raise ParameterError(f"request sums hold heads {extra} beyond {list(heads)}")
        shape = (len(heads), len(requests), len(features))
        magnitude = np.zeros(shape, dtype=np.float64)
        signed = np.zeros(shape, dtype=np.float64)
        magnitude[head_codes, request_codes, feature_codes] = frame["magnitude"].to_numpy()
        signed[head_codes, request_codes, feature_codes] = frame["signed"].to_numpy()
        rows = np.zeros(len(requests), dtype=np.int64)
        rows[request_codes] = frame["rows"].to_numpy(dtype=np.int64)
        completeness: dict[str, NDArray[np.float64]] = {}
        listed = frame["completeness"].notna().to_numpy()
        for h, head in enumerate(heads):
            at = np.flatnonzero(listed & (head_codes == h))
            at = at[np.argsort(request_codes[at], kind="stable")]
            values = [np.asarray(frame["completeness"].iloc[i], dtype=np.float64) for i in at]
            completeness[head] = np.concatenate(values) if values else np.empty(0)
        return RequestSums(
            heads=tuple(heads),
            features=features,
            requests=tuple(str(r) for r in requests),
            rows=rows,
            magnitude=magnitude,
            signed=signed,
            completeness=completeness,
        )


def request_sums(frame_long: pd.DataFrame, *, heads: Sequence[str]) -> RequestSums:
    """Reduce a long attribution frame (one model, method and reference) to per-request sums.

    Features keep their first-appearance order; requests are sorted by id.
    """
    features = tuple(pd.unique(frame_long["feature"]))
    requests = np.sort(frame_long[schema.REQUEST_ID].astype(str).unique().astype(object))
    extra = sorted(set(frame_long["head"].unique()) - set(heads))
    if extra:
        raise ParameterError(f"attributions hold heads {extra} beyond the profiled {list(heads)}")
    head_codes = pd.Categorical(frame_long["head"], categories=list(heads))
    request_codes = pd.Categorical(frame_long[schema.REQUEST_ID].astype(str), categories=requests)
    feature_codes = pd.Categorical(frame_long["feature"], categories=list(features))
    shape = (len(heads), len(requests), len(features))
    flat = np.ravel_multi_index((head_codes.codes, request_codes.codes, feature_codes.codes), shape)
    values = frame_long["attribution"].to_numpy(dtype=np.float64)
    size = int(np.prod(shape))
    magnitude = np.bincount(flat, weights=np.abs(values), minlength=size).astype(np.float64)
    signed = np.bincount(flat, weights=values, minlength=size).astype(np.float64)
    first_feature = frame_long["feature"] == features[0]
    per_row = frame_long.loc[first_feature]
    rows_of = per_row.loc[per_row["head"] == heads[0], schema.REQUEST_ID].astype(str)
    rows = (
        rows_of.value_counts().reindex(requests, fill_value=0).to_numpy(dtype=np.int64)
        if len(requests)
        else np.zeros(0, dtype=np.int64)
    )
    completeness = {}
    for h in heads:
        of_head = per_row.loc[per_row["head"] == h]
        codes = pd.Categorical(of_head[schema.REQUEST_ID].astype(str), categories=requests).codes
        order = np.argsort(codes, kind="stable")  # request after request, as `rows` counts
        values = of_head["completeness_relative"].to_numpy(dtype=np.float64)
        completeness[h] = values[order]
    return RequestSums(
        heads=tuple(heads),
        features=features,
        requests=tuple(str(r) for r in requests),
        rows=rows,
        magnitude=magnitude.reshape(shape),
        signed=signed.reshape(shape),
        completeness=completeness,
    )


def _request_batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    ids = rows[schema.REQUEST_ID].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    for i in range(0, len(starts), size):
        stop = starts[i + size] if i + size < len(starts) else len(rows)
        yield rows.iloc[starts[i] : stop]


def explain_requests(
    ranker: Ranker,
    rows: pd.DataFrame,
    *,
    method: str,
    reference: str,
    heads: Sequence[str],
    settings: AttributionSettings,
    background: pd.DataFrame | None,
    progress: Callable[[int], None] = lambda rows: None,
) -> RequestSums:
    """Explain `rows` (whole requests) with `ranker` in batches of requests and return their
    per-request sums: the one computation behind `attribute_requests` and the partitioned
    `rankaudit.drift.batch.RequestSumsTask`. Each request is explained on its own, so its sums
    do not depend on the other rows. `progress` is called with the rows done per batch."""
    from rankaudit.attribution import attribute_frame

    # Requests must be contiguous for batching; a stable sort keeps the stored row order.
    rows = rows.sort_values(schema.REQUEST_ID, kind="stable").reset_index(drop=True)
    parts = []
    for batch in _request_batches(rows, _BATCH_REQUESTS):
        result = attribute_frame(
            ranker, batch, methods=[method], reference=reference, heads=heads, settings=settings,
            background=background if reference == "global" else None,
        )  # fmt: skip
        parts.append(request_sums(result.frame, heads=heads))
        progress(len(batch))
    return RequestSums.concat(parts)


def attribute_requests(
    workspace: Workspace,
    model: str,
    rows: pd.DataFrame,
    *,
    method: str = "ig",
    reference: str = "request",
    heads: Sequence[str] = DEFAULT_HEADS,
    settings: AttributionSettings = DRIFT_SETTINGS,
    progress: Callable[[int], None] = lambda rows: None,
) -> RequestSums:
    """Explain `rows` (whole requests, e.g. from `sample_requests`) in batches of requests and
    return their per-request sums. `progress` is called with the rows done per batch."""
    from rankaudit.errors import AttributionError

    if rows.empty:
        raise ParameterError("no rows to profile: the sample is empty")
    if reference not in ("request", "global"):
        raise AttributionError(
            f"global importance needs the 'request' or 'global' reference; got {reference!r}"
        )
    return explain_requests(
        workspace.ranker(model), rows, method=method, reference=reference, heads=heads,
        settings=settings, background=profile_background(workspace, reference, settings),
        progress=progress,
    )  # fmt: skip


def profile_background(
    workspace: Workspace, reference: str, settings: AttributionSettings
) -> pd.DataFrame | None:
    """The background sample of the global reference (None for the request reference)."""
    from rankaudit.attribution import background_sample

    if reference != "global":
        return None
    return background_sample(workspace, settings.background_size, settings.seed)


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

    @property
    def label(self) -> str:
        """How messages name the profile: its model and its source file, when known."""
        model = self.metadata.get("model", {}).get("name", "?")
        source = self.metadata.get("source")
        return f"{source} (model {model})" if source else f"profile of model {model}"

    def shares(self, head: str, features: Sequence[str] | None = None) -> NDArray[np.float64]:
        """Share of each feature for `head`, in the order of `features` (default: the
        profile's own `features` order)."""
        table = self.importance.loc[self.importance["head"] == head].set_index("feature")
        order = list(self.features if features is None else features)
        return table.loc[order, "share"].to_numpy(dtype=np.float64)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the importance table."""
        return self.importance.copy()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (see docs/drift.md); floats rounded to 7 significant digits."""
        importance: dict[str, list[dict[str, Any]]] = {}
        for head in self.heads:
            table = self.importance.loc[self.importance["head"] == head].sort_values("rank")
            names = table["feature"].astype(str).tolist()
            ranks = table["rank"].to_numpy(dtype=np.int64).tolist()
            columns = {k: table[k].to_numpy(dtype=np.float64).tolist() for k in _FLOAT_KEYS}
            importance[head] = [
                {
                    "feature": name,
                    "rank": rank,
                    **{k: _sig(columns[k][i]) for k in _FLOAT_KEYS},
                }
                for i, (name, rank) in enumerate(zip(names, ranks, strict=True))
            ]
        replicates = {
            head: {
                feature: np.rint(self.replicates[head][:, j] * _PPM).astype(np.int64).tolist()
                for j, feature in enumerate(self.features)
            }
            for head in self.heads
        }
        meta = {k: v for k, v in self.metadata.items() if k != "source"}
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            **meta,
            "method": self.method,
            "reference": self.reference,
            "heads": list(self.heads),
            "features": list(self.features),
            "settings": dict(self.settings),
            "confidence": self.confidence,
            "importance": importance,
            "share_replicates_ppm": replicates,
        }

    def to_json(self) -> str:
        """The JSON text: indented, with each replicate list on one line."""
        document = self.to_dict()
        compact: dict[str, str] = {}
        for per_feature in document["share_replicates_ppm"].values():
            for feature, values in per_feature.items():
                token = f"@@{len(compact)}@@"
                compact[token] = json.dumps(values, separators=(",", ":"))
                per_feature[feature] = token
        text = json.dumps(document, indent=2, allow_nan=False)
        for token, values in compact.items():
            text = text.replace(f'"{token}"', values, 1)
        return text + "\n"

    def write(self, path: Path) -> Path:
        """Write the JSON document atomically (a temporary file, then a rename); returns path."""
        return write_text(path, self.to_json())


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
    tables = []
    replicate_shares: dict[str, NDArray[np.float64]] = {}
    for h, head in enumerate(sums.heads):
        magnitude = sums.magnitude[h]
        total = magnitude.sum(axis=0)
        mean_abs = total / rows_total
        share = total / total.sum() if total.sum() > 0 else np.zeros_like(total)
        drawn = counts @ magnitude  # [B, F]
        drawn_total = drawn.sum(axis=1, keepdims=True)
        shares_b = np.divide(drawn, drawn_total, out=np.zeros_like(drawn), where=drawn_total > 0)
        mean_abs_b = drawn / rows_b[:, None]
        low, high = np.quantile(shares_b, [alpha, 1 - alpha], axis=0)
        mean_low, mean_high = np.quantile(mean_abs_b, [alpha, 1 - alpha], axis=0)
        table = pd.DataFrame(
            {
                "head": head,
                "feature": list(sums.features),
                "mean_abs": mean_abs,
                "share": share,
                "signed_mean": sums.signed[h].sum(axis=0) / rows_total,
                "share_low": low,
                "share_high": high,
                "mean_abs_low": mean_low,
                "mean_abs_high": mean_high,
            }
        )
        # Round as the JSON file does, so a profile in memory and one read back check alike.
        for column in _FLOAT_KEYS:
            table[column] = [_sig(v) for v in table[column].to_numpy(dtype=np.float64)]
        table = table.sort_values(["mean_abs", "feature"], ascending=[False, True], kind="stable")
        table.insert(2, "rank", np.arange(1, len(table) + 1))
        tables.append(table)
        # Stored in parts per million: round here too, so a profile read back from JSON and
        # the one in memory give the same check.
        replicate_shares[head] = np.rint(shares_b * _PPM) / _PPM
    importance = pd.concat(tables, ignore_index=True)
    settings_dict = asdict(settings) if isinstance(settings, AttributionSettings) else settings
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


def profile_model(
    workspace: Workspace,
    model: str,
    *,
    method: str = "ig",
    reference: str = "request",
    heads: Sequence[str] = DEFAULT_HEADS,
    sample: int = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    window: Window | None = None,
    settings: AttributionSettings = DRIFT_SETTINGS,
    replicates: int = DEFAULT_BOOTSTRAP,
    confidence: float = 0.95,
    progress: Callable[[int], None] = lambda rows: None,
    on_sample: Callable[[int], None] = lambda rows: None,
    engine: Engine | None = None,
    work_dir: Path | None = None,
    partitions: int | None = None,
) -> DriftProfile:
    """Sample whole requests from the workspace's logs, explain them and build the profile.

    Records the model (name, kind, sha256 fingerprint), the data (workspace name, log file
    names, window, the sample's fingerprint over ids and the model's columns), the method,
    reference, heads, settings, sample size and seed, and the rankaudit version.
    `on_sample` is called with the sampled row count before attribution starts.

    Explained in this process by default. With a `work_dir` or an `engine`, explained as a
    partitioned, resumable run into `work_dir` (kept; a temporary folder, removed, when None)
    in `partitions` viewer partitions (`rankaudit.drift.batch.run_request_sums`): the profile
    is the in-memory one, number for number (`created_at` aside).
    """
    from rankaudit import __version__
    from rankaudit.attribution.cache import frame_fingerprint
    from rankaudit.attribution.registry import make_attributor
    from rankaudit.errors import AttributionError
    from rankaudit.importance import sample_requests

    if reference not in ("request", "global"):
        raise AttributionError(
            f"drift profiles use the 'request' or 'global' reference; got {reference!r}"
        )
    if partitions is not None and (isinstance(partitions, bool) or partitions < 1):
        raise ParameterError(
            f"The 'partitions' parameter of profile_model must be an int >= 1. "
            f"Got {partitions!r} instead."
        )
    if partitions is not None and engine is None and work_dir is None:
        raise ParameterError("partitions apply to a partitioned run: give a work_dir or an engine")
    ranker = workspace.ranker(model)
    make_attributor(ranker, method, heads=heads, settings=settings)  # checks method and heads
    rows = sample_requests(workspace, sample, seed=seed, window=window)
    on_sample(len(rows))
    options: dict[str, Any] = {
        "method": method, "reference": reference, "heads": heads, "settings": settings,
        "progress": progress,
    }  # fmt: skip
    if engine is None and work_dir is None:
        sums = attribute_requests(workspace, model, rows, **options)
    else:
        from rankaudit.drift.batch import read_request_sums, run_request_sums

        root = work_dir if work_dir is not None else Path(tempfile.mkdtemp(prefix="rankaudit-"))
        try:
            run = run_request_sums(
                workspace, model, rows, out=root, engine=engine, partitions=partitions, **options
            )
            sums = read_request_sums(run.root)
        finally:
            if work_dir is None:
                shutil.rmtree(root, ignore_errors=True)
    since, until = window if window is not None else (None, None)
    metadata = {
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rankaudit_version": __version__,
        "model": {"name": ranker.name, "kind": ranker.kind, "fingerprint": ranker.fingerprint},
        "data": {
            "workspace": workspace.name,
            "logs": [p.name for p in workspace.logs.files],
            "window": {
                "since": None if since is None else pd.Timestamp(since).isoformat(),
                "until": None if until is None else pd.Timestamp(until).isoformat(),
            },
            "fingerprint": frame_fingerprint(rows, list(ranker.required_columns)),
        },
        "sample": {"rows_requested": sample, "seed": seed},
        "source": f"workspace {workspace.name}",
    }
    return build_profile(
        sums, method=method, reference=reference, settings=settings, replicates=replicates,
        seed=seed, confidence=confidence, metadata=metadata,
    )  # fmt: skip


# --- reading --------------------------------------------------------------------------------

_IMPORTANCE_KEYS = (
    "feature", "rank", "share", "share_low", "share_high", "mean_abs", "mean_abs_low",
    "mean_abs_high", "signed_mean",
)  # fmt: skip
_REQUIRED = ("method", "reference", "heads", "features", "settings", "confidence", "importance",
             "share_replicates_ppm")  # fmt: skip


def _bad(path: Path, message: str) -> InputFileError:
    return InputFileError(f"{path}: not a drift profile: {message}")


def _str_list(value: object, path: Path, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _bad(path, f"{key!r} must be a non-empty list of strings")
    if len(set(value)) != len(value):
        raise _bad(path, f"{key!r} lists a name twice")
    return tuple(value)


def _number(value: object, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise _bad(path, f"{where} must be a finite number; got {value!r}")
    return float(value)


def read_profile(path: Path | str) -> DriftProfile:
    """Read a profile written by `DriftProfile.write`; raises InputFileError naming the file and
    what is wrong (missing, not JSON, not a profile, a missing or malformed key)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{path}: profile file not found") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a folder, not a profile file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputFileError(f"{path}: cannot read profile ({reason})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != PROFILE_FORMAT:
        raise _bad(path, f'expected "format": "{PROFILE_FORMAT}"')
    if raw.get("version") != PROFILE_VERSION:
        raise _bad(
            path,
            f"version {raw.get('version')!r} is not supported (this rankaudit reads version "
            f"{PROFILE_VERSION}); re-create it with `rankaudit drift profile`",
        )
    for key in _REQUIRED:
        if key not in raw:
            raise _bad(path, f"missing key {key!r}")
    heads = _str_list(raw["heads"], path, "heads")
    features = _str_list(raw["features"], path, "features")
    for key in ("method", "reference"):
        if not isinstance(raw[key], str):
            raise _bad(path, f"{key!r} must be a string")
    if not isinstance(raw["settings"], dict):
        raise _bad(path, "'settings' must be an object")
    confidence = _number(raw["confidence"], path, "'confidence'")
    if not 0.5 <= confidence < 1:
        raise _bad(path, f"'confidence' must be in [0.5, 1); got {confidence}")
    tables = []
    replicates: dict[str, NDArray[np.float64]] = {}
    for head in heads:
        entries = raw["importance"].get(head) if isinstance(raw["importance"], dict) else None
        if not isinstance(entries, list):
            raise _bad(path, f"'importance' has no list for head {head!r}")
        records = []
        for i, entry in enumerate(entries):
            where = f"importance.{head}[{i}]"
            if not isinstance(entry, dict) or set(entry) != set(_IMPORTANCE_KEYS):
                raise _bad(
                    path, f"{where} must hold exactly the keys {', '.join(_IMPORTANCE_KEYS)}"
                )
            record: dict[str, Any] = {"head": head, "feature": entry["feature"]}
            for key in _IMPORTANCE_KEYS[1:]:
                record[key] = _number(entry[key], path, f"{where}.{key}")
            records.append(record)
        listed = sorted(str(r["feature"]) for r in records)
        if listed != sorted(features):
            raise _bad(path, f"importance.{head} does not list exactly the profile's features")
        table = pd.DataFrame.from_records(records)
        table["rank"] = table["rank"].astype(np.int64)
        tables.append(table.sort_values("rank", kind="stable"))
        per_feature = raw["share_replicates_ppm"]
        per_feature = per_feature.get(head) if isinstance(per_feature, dict) else None
        if not isinstance(per_feature, dict) or set(per_feature) != set(features):
            raise _bad(path, f"share_replicates_ppm.{head} must list every feature")
        columns = [per_feature[f] for f in features]
        lengths = {len(c) if isinstance(c, list) else -1 for c in columns}
        if len(lengths) != 1 or min(lengths) < 2:
            raise _bad(path, f"share_replicates_ppm.{head}: lists of one length >= 2 expected")
        try:
            matrix = np.array(columns, dtype=np.float64).T / _PPM
        except (TypeError, ValueError):
            raise _bad(path, f"share_replicates_ppm.{head} must hold integers") from None
        if not np.isfinite(matrix).all():
            raise _bad(path, f"share_replicates_ppm.{head} must hold finite numbers")
        replicates[head] = matrix
    lengths = {m.shape[0] for m in replicates.values()}
    if len(lengths) != 1:
        raise _bad(path, "every head must have the same number of bootstrap replicates")
    known = {f.name for f in fields(DriftProfile)}
    metadata = {
        k: v
        for k, v in raw.items()
        if k not in known and k not in ("format", "version", "share_replicates_ppm")
    }
    metadata["source"] = str(path)
    return DriftProfile(
        method=raw["method"],
        reference=raw["reference"],
        heads=heads,
        features=features,
        settings=dict(raw["settings"]),
        confidence=confidence,
        importance=pd.concat(tables, ignore_index=True),
        replicates=replicates,
        metadata=metadata,
    )
