"""The Exposure page and its figure: bars equal the audit's numbers, drill-down rows link to
their timelines, and the page sits in the app's navigation. Uses chronological vs served (no
model to load)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dash_app.pages import exposure as page
from rankaudit.figures.exposure import amplification_bars
from rankaudit.views import SessionSettings, WorkspaceSession
from rankaudit.views.exposure import ExposureQuery, contributing_requests, exposure_audit

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture(scope="module")
def session() -> WorkspaceSession:
    return WorkspaceSession.open(DEMO, SessionSettings(models=("chronological", "served")))


def test_bars_carry_the_audit_numbers_and_are_cached(session: WorkspaceSession) -> None:
    query = ExposureQuery(reference="chronological", audited="served")
    audit = exposure_audit(session, query)
    assert exposure_audit(session, query) is audit
    assert set(audit.groups["grouping"]) == {"in_network", "author_follower_count"}
    figure = amplification_bars(audit)
    np.testing.assert_allclose(figure.data[0].x, 100 * audit.groups["amplification"])
    np.testing.assert_allclose(
        np.asarray(figure.data[0].error_x.arrayminus),
        100 * (audit.groups["amplification"] - audit.groups["amplification_low"]),
    )


def test_drill_down_links_to_timelines(session: WorkspaceSession) -> None:
    audit = exposure_audit(session, ExposureQuery(reference="chronological", audited="served"))
    rows = contributing_requests(audit, "in_network", "0", n=5)
    assert len(rows) == 5
    changes = rows["change"].abs().to_numpy()
    assert (np.diff(changes) <= 0).all()
    first = rows.iloc[0]
    assert first["link"].startswith("/timeline/")
    assert str(first["request_id"]) in first["link"]
    table = page.request_table(session, "chronological", "in_network\t0")
    assert first["request_id"] in str(table)


def test_page_layout_and_navigation(session: WorkspaceSession) -> None:
    layout = page.layout(session, reference="served")
    assert "Exposure" in str(layout)
    assert "fixed candidate pool" in str(layout)
    from dash_app.app import create_app

    app = create_app(session)
    assert "nav-exposure" in str(app.layout)
