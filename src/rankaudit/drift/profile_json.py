"""Reading a drift profile's JSON document back (`read_profile`), with one clear error per
malformed file; `DriftProfile` writes it (`rankaudit.drift.profile`).

Feature groups are optional keys after the feature tables (`groups`, `group_attribution`,
`group_importance`, `group_share_replicates_ppm`), so a profile without groups is written as
before groups existed, and older profiles read as profiles without groups.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from rankaudit.drift.profile import (
    _PPM,
    GROUP_ATTRIBUTIONS,
    PROFILE_FORMAT,
    PROFILE_VERSION,
    DriftProfile,
)
from rankaudit.drift.sums import check_groups
from rankaudit.errors import InputFileError, ParameterError

__all__ = ["read_profile"]

_GROUP_KEYS = ("groups", "group_attribution", "group_importance", "group_share_replicates_ppm")


# --- reading --------------------------------------------------------------------------------

#: Per feature (or group) of slack when shares are checked to add up to one: the written values
#: are rounded to 7 digits (point estimates) and to parts per million (replicates).
_SHARE_SUM_TOLERANCE = 1e-6
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


def _read_level(
    raw: dict[str, Any], path: Path, heads: tuple[str, ...], names: tuple[str, ...], *,
    column: str, importance_key: str, replicates_key: str,
) -> tuple[pd.DataFrame, dict[str, NDArray[np.float64]]]:  # fmt: skip
    """The importance table and replicate shares of one level (features or groups)."""
    keys = (column, *_IMPORTANCE_KEYS[1:])
    plural = f"{column}s"
    tables = []
    replicates: dict[str, NDArray[np.float64]] = {}
    for head in heads:
        table_of = raw[importance_key]
        entries = table_of.get(head) if isinstance(table_of, dict) else None
        if not isinstance(entries, list):
            raise _bad(path, f"{importance_key!r} has no list for head {head!r}")
        records = []
        for i, entry in enumerate(entries):
            where = f"{importance_key}.{head}[{i}]"
            if not isinstance(entry, dict) or set(entry) != set(keys):
                raise _bad(path, f"{where} must hold exactly the keys {', '.join(keys)}")
            record: dict[str, Any] = {"head": head, column: entry[column]}
            for key in keys[1:]:
                record[key] = _number(entry[key], path, f"{where}.{key}")
            records.append(record)
        listed = sorted(str(r[column]) for r in records)
        if listed != sorted(names):
            raise _bad(
                path, f"{importance_key}.{head} does not list exactly the profile's {plural}"
            )
        table = pd.DataFrame.from_records(records)
        table["rank"] = table["rank"].astype(np.int64)
        tables.append(table.sort_values("rank", kind="stable"))
        per_name = raw[replicates_key]
        per_name = per_name.get(head) if isinstance(per_name, dict) else None
        if not isinstance(per_name, dict) or set(per_name) != set(names):
            raise _bad(path, f"{replicates_key}.{head} must list every {column}")
        columns = [per_name[f] for f in names]
        lengths = {len(c) if isinstance(c, list) else -1 for c in columns}
        if len(lengths) != 1 or min(lengths) < 2:
            raise _bad(path, f"{replicates_key}.{head}: lists of one length >= 2 expected")
        try:
            matrix = np.array(columns, dtype=np.float64).T / _PPM
        except (TypeError, ValueError):
            raise _bad(path, f"{replicates_key}.{head} must hold integers") from None
        if not np.isfinite(matrix).all():
            raise _bad(path, f"{replicates_key}.{head} must hold finite numbers")
        _check_shares(path, f"{importance_key}.{head}", table, matrix)
        replicates[head] = matrix
    return pd.concat(tables, ignore_index=True), replicates


def _check_shares(path: Path, where: str, table: pd.DataFrame, matrix: NDArray[np.float64]) -> None:
    """Shares are fractions that add up to one, per bootstrap replicate and for the point
    estimate: a profile edited by hand (or corrupted)
    must not pass for one that silences the drift gate (replicates of +-1e12 once turned a
    15-point shift into "no drift")."""
    tolerance = _SHARE_SUM_TOLERANCE * max(matrix.shape[1], 1)
    if ((matrix < 0) | (matrix > 1)).any():
        raise _bad(path, f"{where}: bootstrap shares must lie in [0, 1]")
    sums = matrix.sum(axis=1)
    if (np.abs(sums - 1.0) > tolerance).any():
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        raise _bad(path, f"{where}: a bootstrap replicate's shares add up to {worst:.6g}, not 1")
    share = table["share"].to_numpy(np.float64)
    if ((share < 0) | (share > 1)).any() or abs(float(share.sum()) - 1.0) > tolerance:
        raise _bad(path, f"{where}: shares must lie in [0, 1] and add up to 1")


def _read_groups(
    raw: dict[str, Any], path: Path, heads: tuple[str, ...], features: tuple[str, ...]
) -> dict[str, Any]:
    """The group fields of DriftProfile, empty for a profile without groups."""
    if "groups" not in raw:
        return {}
    for key in _GROUP_KEYS:
        if key not in raw:
            raise _bad(path, f"it has 'groups' but no {key!r}")
    if not isinstance(raw["groups"], dict) or not raw["groups"]:
        raise _bad(path, "'groups' must be an object of group -> list of features")
    groups = {str(g): _str_list(m, path, f"groups.{g}") for g, m in raw["groups"].items()}
    try:
        check_groups(groups, features)
    except ParameterError as exc:
        raise _bad(path, f"'groups': {exc}") from None
    if raw["group_attribution"] not in GROUP_ATTRIBUTIONS:
        raise _bad(
            path, f"'group_attribution' must be one of {', '.join(GROUP_ATTRIBUTIONS)}; "
            f"got {raw['group_attribution']!r}",
        )  # fmt: skip
    table, replicates = _read_level(
        raw, path, heads, tuple(groups), column="group", importance_key="group_importance",
        replicates_key="group_share_replicates_ppm",
    )  # fmt: skip
    return {
        "groups": groups,
        "group_attribution": raw["group_attribution"],
        "group_importance": table,
        "group_replicates": replicates,
    }


def read_profile(path: Path | str) -> DriftProfile:
    """Read a profile written by `DriftProfile.write`; raises InputFileError naming the file and
    what is wrong (missing, not JSON, not a profile, a missing or malformed key). A profile
    written before feature groups existed reads as one without groups."""
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
    importance, replicates = _read_level(
        raw, path, heads, features, column="feature", importance_key="importance",
        replicates_key="share_replicates_ppm",
    )  # fmt: skip
    lengths = {m.shape[0] for m in replicates.values()}
    if len(lengths) != 1:
        raise _bad(path, "every head must have the same number of bootstrap replicates")
    groups = _read_groups(raw, path, heads, features)
    known = {f.name for f in fields(DriftProfile)}
    metadata = {
        k: v
        for k, v in raw.items()
        if k not in known and k not in ("format", "version", "share_replicates_ppm", *_GROUP_KEYS)
    }
    metadata["source"] = str(path)
    return DriftProfile(
        method=raw["method"],
        reference=raw["reference"],
        heads=heads,
        features=features,
        settings=dict(raw["settings"]),
        confidence=confidence,
        importance=importance,
        replicates=replicates,
        metadata=metadata,
        **groups,
    )
