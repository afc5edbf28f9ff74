"""The HTML report in headless Chromium: offline, no console message of any kind, every
figure of the JSON drawn; and the PDF printed from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rankaudit.report import Report, find_browser
from tests.report.conftest import ROOT, open_report

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "test-artifacts"


def test_every_figure_renders_without_console_messages(
    browser: Any, demo_report: Report, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "report.html"
    demo_report.write(html=page, json=tmp_path / "report.json")
    figures = json.loads((tmp_path / "report.json").read_text())["figures"]
    assert len(figures) >= 10

    messages = open_report(browser, page)

    assert [m for m in messages if m["level"] in ("SEVERE", "WARNING")] == []
    assert int(
        browser.execute_script("return document.body.getAttribute('data-figures-drawn')")
    ) == len(figures)
    plots = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
    assert sorted(p.get_attribute("id") for p in plots) == sorted(f["id"] for f in figures)
    for figure in figures:
        drawn = browser.find_elements(By.CSS_SELECTOR, f"#{figure['id']} .main-svg")
        assert drawn, f"figure {figure['id']} has no SVG"
        box = browser.find_element(By.ID, figure["id"]).size
        assert box["height"] > 100, figure["id"]
        assert box["width"] > 300, figure["id"]
    # The page asked for nothing over the network (it is one file; the CSP forbids fetches).
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources == []
    # Table of contents: every viewer section is linked and exists.
    links = [
        a.get_attribute("href").split("#", 1)[1]
        for a in browser.find_elements(By.CSS_SELECTOR, "nav.toc a")
    ]
    for target in links:
        assert browser.find_elements(By.ID, target), target
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report.png"))


@pytest.mark.skipif(find_browser() is None, reason="no chromium to print a PDF with")
def test_the_pdf_is_printed_with_the_figures(demo_report: Report, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    sizes = demo_report.write(pdf=pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert sizes == {"pdf": len(data)}
    # Several A4 pages, and no temporary file left next to it.
    assert data.count(b"/Type /Page") + data.count(b"/Type/Page") >= 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]
