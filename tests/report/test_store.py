"""Reports read the viewers' request-reference attributions from the workspace's attribution
stores when those were computed with the report's settings: the same numbers, not recomputed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import rankaudit.report.viewers as viewers
from rankaudit.attribution import plan_attribution, run_attribution
from rankaudit.report import build_report
from rankaudit.workspace import load_workspace
from tests.report.conftest import BUG_REQUEST, fast_settings
from tests.store.conftest import demo_workspace


def test_a_report_reads_matching_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = fast_settings(importance_rows=20, movers=1)
    plain = load_workspace(demo_workspace(tmp_path))
    for model in ("baseline", "deep"):
        plan = plan_attribution(
            plain, model, method="all", reference="request", request=BUG_REQUEST,
            heads=["score"], out=tmp_path / f"store-{model}", settings=settings.attribution,
        )  # fmt: skip
        run_attribution(plan)
    # A store computed with other settings is not read.
    other = plan_attribution(
        plain, "deep", method="all", reference="request", request=BUG_REQUEST,
        heads=["score"], out=tmp_path / "store-other",
    )  # fmt: skip
    run_attribution(other)
    stored = load_workspace(
        demo_workspace(tmp_path / "w", attributions=["../store-baseline", "../store-deep"])
    )
    mismatched = load_workspace(
        demo_workspace(tmp_path / "m", attributions=["../store-baseline", "../store-other"])
    )

    calls: list[tuple[str, int]] = []
    real = viewers.attribute_frame

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs["reference"], kwargs["settings"].seed))
        return real(*args, **kwargs)

    monkeypatch.setattr(viewers, "attribute_frame", spy)  # a viewer's request attributions
    documents = {}
    for name, workspace in (("plain", plain), ("stored", stored), ("mismatched", mismatched)):
        calls.clear()
        report = build_report(workspace, requests=[BUG_REQUEST], settings=settings)
        documents[name] = json.loads(report.json())
        computed = calls.count(("request", settings.seed))  # the seed check uses seed + 1
        assert computed == {"plain": 2, "stored": 0, "mismatched": 1}[name], name
    manifests = {n: d["manifest"]["attribution"].pop("stores") for n, d in documents.items()}
    assert manifests == {
        "plain": {},
        "stored": {"baseline": "store-baseline", "deep": "store-deep"},
        "mismatched": {"baseline": "store-baseline"},
    }
    assert _diff(documents["stored"]["viewers"], documents["plain"]["viewers"])[:8] == []
    assert _diff(documents["mismatched"]["viewers"], documents["plain"]["viewers"])[:8] == []


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ (floats: beyond float32 rounding)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _diff(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        # Float32 attributions of the same rows explained in another order (the store's
        # partition order) differ in the last bits; the JSON keeps 6 significant digits.
        # Completeness errors are float32 noise themselves: compared in absolute terms; the
        # relative one divides that noise (~1e-7) by a score gap that can be 0.01.
        absolute = {"completeness_error": 1e-6, "completeness_relative": 1e-4}.get(
            path.rsplit(".", 1)[-1], 1e-9
        )
        close = math.isclose(a, b, rel_tol=1e-4, abs_tol=absolute)
        return [] if close else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
