"""The report's exposure section: its numbers are `audit_exposure`'s on the demo, its strings are
escaped once, and a workspace without the default group columns gets a one-line note."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import markupsafe
import numpy as np
import pytest
import yaml

from rankaudit.exposure import MEASURES, ExposureSettings, audit_exposure
from rankaudit.report import Report, build_report
from rankaudit.report.document import normalize
from rankaudit.report.exposure import default_exposure_groups
from rankaudit.synth.features import DEMO_SPEC
from rankaudit.text import plotly_text
from rankaudit.workspace import Workspace, load_workspace
from tests.conftest import small_log, write_workspace
from tests.report.conftest import fast_settings

DROPPED = ("in_network", "author_follower_count", "mutual_follow")


def test_default_groups_of_the_demo(demo: Workspace) -> None:
    assert default_exposure_groups(demo.spec) == (
        "in_network",
        "author_follower_count:1000,10000",
    )


def test_section_equals_audit_exposure_on_the_demo(demo: Workspace, demo_report: Report) -> None:
    section = json.loads(demo_report.json())["exposure"]
    assert section["note"] is None
    assert section["groups"] == ["in_network", "author_follower_count:1000,10000"]
    expected = audit_exposure(
        demo,
        groups=section["groups"],
        models=("baseline", "deep"),
        settings=ExposureSettings(seed=0),
        scope="holdout",
    )
    # The reference: the exposure library run on its own, written as the document writes.
    assert section["audit"] == normalize(expected.to_dict())
    assert section["measures"] == MEASURES
    groups = {(g["grouping"], g["group"]): g for g in section["audit"]["groups"]}
    assert set(groups) == {
        ("in_network", "0"),
        ("in_network", "1"),
        ("author_follower_count", "< 1000"),
        ("author_follower_count", "1000–10000"),
        ("author_follower_count", ">= 10000"),
    }
    # Amplification is reach under the audited ranker over the reference, minus 1.
    for g in groups.values():
        assert g["amplification"] == pytest.approx(g["reach_b"] / g["reach_a"] - 1, rel=1e-4)
        assert g["amplification_low"] <= g["amplification"] <= g["amplification_high"]
    # The HTML shows the table row, the caption and the figure.
    text = demo_report.html().decode("utf-8")
    out = groups[("in_network", "0")]
    assert f"+{100 * out['amplification']:.1f}%" in text
    assert f"{out['reach_a']:.3f}" in text
    assert f"{out['reach_b']:.3f}" in text
    assert "author_follower_count: &gt;= 10000" in text
    assert "&amp;gt;" not in text
    assert str(markupsafe.escape(MEASURES)) in text  # escaped once, by the template
    assert 'data-figure="fig-exposure"' in text
    figure = next(f for f in demo_report.figures if f.id == "fig-exposure")
    # Labels escaped once, by the figure builder.
    assert list(figure.figure.data[0].y) == [f"{g}: {plotly_text(v)}" for g, v in groups]
    assert _values(figure.figure.data[0].x) == pytest.approx(
        [100 * g["amplification"] for g in groups.values()], rel=1e-4
    )


def _values(array: object) -> list[float]:
    """A trace's numbers, whether plotly holds them as a list or (once the figure has been
    written) as its base64 typed-array form {"dtype", "bdata"}."""
    if isinstance(array, dict):
        raw = base64.b64decode(array["bdata"])
        return np.frombuffer(raw, dtype=np.dtype(array["dtype"])).astype(float).tolist()
    return [float(v) for v in array]  # type: ignore[attr-defined]


def _without_groups(root: Path) -> Workspace:
    frame = small_log(users=12, seed=5).drop(columns=list(DROPPED))
    write_workspace(root, frame)
    spec = DEMO_SPEC.to_dict()
    spec["features"] = [f for f in spec["features"] if f["name"] not in DROPPED]
    (root / "features.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_workspace(root)


def test_workspace_without_group_columns_gets_the_note(tmp_path: Path) -> None:
    workspace = _without_groups(tmp_path / "ws")
    assert default_exposure_groups(workspace.spec) == ()
    report = build_report(workspace, sample=1, settings=fast_settings(importance_rows=20))
    section = json.loads(report.json())["exposure"]
    assert section["audit"] is None
    assert section["note"].startswith("No exposure section: the workspace has no in_network")
    assert "\n" not in section["note"]
    assert str(markupsafe.escape(section["note"])) in report.html().decode("utf-8")
    assert not any(f.section == "exposure" for f in report.figures)
