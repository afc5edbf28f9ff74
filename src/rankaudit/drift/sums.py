"""Per-request sums of attributions: the resampling unit of a drift profile's bootstrap.

`request_sums` reduces a long attribution frame to `RequestSums`: per request, the sum of
|attribution| and of attribution per (head, feature), the request's rows and its rows'
completeness errors; with feature groups, also the sum over rows of |sum of the members'
attributions| per (head, group), the group's own attribution (see
`rankaudit.attribution.grouping.group_members`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.attribution.grouping import GroupMembers
from rankaudit.data import schema
from rankaudit.errors import ParameterError

__all__ = ["GroupMembers", "RequestSums", "check_groups", "request_sums"]


def check_groups(groups: GroupMembers, features: Sequence[str]) -> None:
    """Raise ParameterError unless `groups` splits `features` into non-empty groups, each
    feature in exactly one."""
    seen: dict[str, str] = {}
    for group, members in groups.items():
        if not members:
            raise ParameterError(f"feature group {group!r} has no members")
        for name in members:
            if name in seen:
                raise ParameterError(
                    f"feature {name!r} is in two groups ({seen[name]!r} and {group!r})"
                )
            seen[name] = group
    unknown = sorted(set(seen) - set(features))
    missing = [f for f in features if f not in seen]
    if unknown or missing:
        raise ParameterError(
            "feature groups must cover the attributed features exactly: "
            f"unknown {unknown or '-'}, in no group {missing or '-'}"
        )


def _group_index(groups: GroupMembers, features: Sequence[str]) -> NDArray[np.int64]:
    """The group position of each feature, in `features` order."""
    position = {f: g for g, members in enumerate(groups.values()) for f in members}
    return np.array([position[f] for f in features], dtype=np.int64)


@dataclass(frozen=True)
class RequestSums:
    """Per-request sums for one (model, method, reference): the resampling unit of the bootstrap.

    `magnitude[h, r, f]` and `signed[h, r, f]`: sum over request r's rows of |attribution| and of
    attribution of feature f for head h; `rows[r]`: rows of request r; `completeness[h]`: every
    explained row's relative completeness error for head h, request after request (`rows[r]`
    values each). Requests are sorted by id.

    `groups`: feature groups (empty: none); `group_magnitude[h, r, g]`: sum over request r's
    rows of |sum of group g's member attributions| for head h, or None when the per-row
    attributions were not at hand (a group's importance then falls back to the sum of its
    members' magnitudes).
    """

    heads: tuple[str, ...]
    features: tuple[str, ...]
    requests: tuple[str, ...]
    rows: NDArray[np.int64]
    magnitude: NDArray[np.float64]
    signed: NDArray[np.float64]
    completeness: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    groups: GroupMembers = field(default_factory=dict)
    group_magnitude: NDArray[np.float64] | None = None

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
            groups=self.groups,
            group_magnitude=(
                None if self.group_magnitude is None else self.group_magnitude[:, index]
            ),
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

    def group_sums(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per (head, request, group): the magnitude (`group_magnitude`, or the members'
        summed magnitudes without it) and the signed sum (the members' signed sums)."""
        index = _group_index(self.groups, self.features)
        shape = (*self.signed.shape[:2], len(self.groups))

        def members(values: NDArray[np.float64]) -> NDArray[np.float64]:
            out = np.zeros(shape, dtype=np.float64)
            for j, g in enumerate(index):
                out[:, :, g] += values[:, :, j]
            return out

        magnitude = (
            members(self.magnitude) if self.group_magnitude is None else self.group_magnitude
        )
        return magnitude, members(self.signed)

    @staticmethod
    def concat(parts: Sequence[RequestSums]) -> RequestSums:
        """Sums of disjoint batches of requests, as one."""
        if not parts:
            raise ParameterError("no request sums to combine")
        first = parts[0]
        if any(dict(p.groups) != dict(first.groups) for p in parts):
            raise ParameterError("request sums with different feature groups cannot be combined")
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
        group_parts = [p.group_magnitude for p in parts]
        group_magnitude: NDArray[np.float64] | None = None
        if first.groups and all(g is not None for g in group_parts):
            stacked = [g for g in group_parts if g is not None]
            group_magnitude = np.concatenate(stacked, axis=1)[:, order]
        return RequestSums(
            heads=first.heads,
            features=first.features,
            requests=tuple(requests[i] for i in order),
            rows=np.concatenate([p.rows for p in parts])[order],
            magnitude=np.concatenate([p.magnitude for p in parts], axis=1)[:, order],
            signed=np.concatenate([p.signed for p in parts], axis=1)[:, order],
            completeness=completeness,
            groups=first.groups,
            group_magnitude=group_magnitude,
        )

    def to_frame(self) -> pd.DataFrame:
        """The sums as a long table, one row per (request, head, feature) in that order:
        `request_id`, `head`, `feature`, `magnitude`, `signed`, `rows` (the request's rows),
        and `completeness`: the relative completeness error of each of the request's rows for
        the head, as a list on the request's first feature row (None on the others, so each
        list is stored once). With `group_magnitude`, a `level` column says `feature` for those
        rows, and rows of level `group` follow, one per (request, head, group) with the group
        in `feature`. `from_frame` reads it back."""
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
        frame = pd.DataFrame(
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
        if self.group_magnitude is None or not self.groups:
            return frame
        magnitude, signed = self.group_sums()
        n_groups = len(self.groups)
        heads = np.repeat(np.arange(n_heads), n_requests * n_groups)
        requests = np.tile(np.repeat(np.arange(n_requests), n_groups), n_heads)
        groups = pd.DataFrame(
            {
                schema.REQUEST_ID: np.asarray(self.requests, dtype=object)[requests],
                "head": np.asarray(self.heads, dtype=object)[heads],
                "feature": np.tile(
                    np.asarray(list(self.groups), dtype=object), n_heads * n_requests
                ),
                "magnitude": magnitude.reshape(-1),
                "signed": signed.reshape(-1),
                "rows": self.rows[requests],
                "completeness": np.full(len(heads), None, dtype=object),
            }
        )
        return pd.concat(
            [frame.assign(level="feature"), groups.assign(level="group")], ignore_index=True
        )

    @staticmethod
    def from_frame(
        frame: pd.DataFrame, *, heads: Sequence[str], groups: GroupMembers | None = None
    ) -> RequestSums:
        """The sums of a `to_frame` table (or several concatenated, for disjoint requests);
        features keep their first-appearance order, requests are sorted by id. `groups` (as
        the run recorded them) attaches the table's group rows; without such rows the groups'
        magnitudes fall back to their members' sums."""
        group_rows = None
        if "level" in frame.columns:
            is_group = (frame["level"] == "group").to_numpy()
            group_rows, frame = frame.loc[is_group], frame.loc[~is_group]
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
        members = {str(g): tuple(str(f) for f in m) for g, m in (groups or {}).items()}
        group_magnitude = None
        if members:
            check_groups(members, features)
            if group_rows is not None and len(group_rows):
                group_magnitude = np.zeros((len(heads), len(requests), len(members)))
                group_magnitude[
                    pd.Categorical(group_rows["head"], categories=list(heads)).codes,
                    pd.Categorical(
                        group_rows[schema.REQUEST_ID].astype(str), categories=requests
                    ).codes,
                    pd.Categorical(group_rows["feature"], categories=list(members)).codes,
                ] = group_rows["magnitude"].to_numpy()
        return RequestSums(
            heads=tuple(heads),
            features=features,
            requests=tuple(str(r) for r in requests),
            rows=rows,
            magnitude=magnitude,
            signed=signed,
            completeness=completeness,
            groups=members,
            group_magnitude=group_magnitude,
        )


def _group_magnitude(
    frame_long: pd.DataFrame,
    groups: GroupMembers,
    features: tuple[str, ...],
    heads: Sequence[str],
    head_codes: NDArray[np.int8],
    request_codes: NDArray[np.int64],
    n_requests: int,
) -> NDArray[np.float64]:
    """[H, R, G]: per request, the sum over its rows of |sum of a group's attributions|."""
    check_groups(groups, features)
    index = _group_index(groups, features)
    feature_codes = pd.Categorical(frame_long["feature"], categories=list(features)).codes
    row_codes = (
        frame_long.assign(_request=frame_long[schema.REQUEST_ID].astype(str))
        .groupby(["_request", schema.TWEET_ID], sort=False)
        .ngroup()
        .to_numpy()
    )
    n_rows, n_groups = int(row_codes.max()) + 1 if len(row_codes) else 0, len(groups)
    shape = (len(heads), n_rows, n_groups)
    flat = np.ravel_multi_index((head_codes, row_codes, index[feature_codes]), shape)
    values = frame_long["attribution"].to_numpy(dtype=np.float64)
    per_row = np.abs(np.bincount(flat, weights=values, minlength=int(np.prod(shape))))
    row_request = np.zeros(n_rows, dtype=np.int64)
    row_request[row_codes] = request_codes
    out = np.zeros((n_requests, len(heads), n_groups), dtype=np.float64)
    np.add.at(out, row_request, per_row.reshape(shape).transpose(1, 0, 2))
    return out.transpose(1, 0, 2).copy()


def request_sums(
    frame_long: pd.DataFrame, *, heads: Sequence[str], groups: GroupMembers | None = None
) -> RequestSums:
    """Reduce a long attribution frame (one model, method and reference) to per-request sums.

    Features keep their first-appearance order; requests are sorted by id. With `groups`
    (which must split the frame's features), each row's members are summed before taking
    |.|, so a group's magnitude is its own attribution's, not the sum of its members'.
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
    members = {str(g): tuple(m) for g, m in (groups or {}).items()}
    group_magnitude = None
    if members:
        group_magnitude = _group_magnitude(
            frame_long, members, features, heads, head_codes.codes,
            request_codes.codes.astype(np.int64), len(requests),
        )  # fmt: skip
    return RequestSums(
        heads=tuple(heads),
        features=features,
        requests=tuple(str(r) for r in requests),
        rows=rows,
        magnitude=magnitude.reshape(shape),
        signed=signed.reshape(shape),
        completeness=completeness,
        groups=members,
        group_magnitude=group_magnitude,
    )
