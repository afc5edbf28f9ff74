"""Fixtures of the report tests: fast report settings, one demo report built once per worker,
and a headless Chromium (skipped, with the reason, when it is not installed)."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from rankaudit.attribution import INTERACTIVE_SETTINGS
from rankaudit.compare import CompareSettings
from rankaudit.report import Report, ReportSettings, build_report
from rankaudit.workspace import Workspace, load_workspace
from tests.browser import headless_chromium

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
#: The walkthrough's request of the planted bug and its viewer.
BUG_REQUEST = "r000000819"
BUG_USER = "u000406"


def fast_settings(**changes: Any) -> ReportSettings:
    """Report settings that keep a test build to a few seconds: the web app's attribution
    settings, fewer bootstrap resamples and sign flips, a small importance sample."""
    values: dict[str, Any] = {
        "attribution": INTERACTIVE_SETTINGS,
        "compare": CompareSettings(n_bootstrap=200, n_permutations=1000),
        "importance_rows": 40,
        "movers": 2,
    }
    values.update(changes)
    return ReportSettings(**values)


@pytest.fixture(scope="session")
def demo() -> Workspace:
    return load_workspace(DEMO)


@pytest.fixture(scope="session")
def demo_report(
    demo: Workspace, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Report:
    """The report of the demo's two most surprising held-out requests, built once for all
    test workers of a run (the first builds and stores it; the others wait and load it)."""
    if worker_id == "master":  # not distributed
        return build_report(demo, surprising=2, settings=fast_settings())
    shared = tmp_path_factory.getbasetemp().parent / "demo-report.pickle"
    with FileLock(str(shared) + ".lock"):
        if shared.is_file():
            stored: Report = pickle.loads(shared.read_bytes())
            return stored
        built = build_report(demo, surprising=2, settings=fast_settings())
        shared.write_bytes(pickle.dumps(built))
        return built


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by selenium, collecting console messages."""
    with headless_chromium("--window-size=1280,1000") as driver:
        yield driver


def open_report(driver: Any, path: Path, timeout: float = 60) -> list[dict[str, Any]]:
    """Open `path`, wait until every figure is drawn, and return the console messages."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(path.resolve().as_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return document.body.getAttribute('data-figures-drawn')"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the figures of {path.name} were not drawn within {timeout} s")
    logs: list[dict[str, Any]] = driver.get_log("browser")
    return logs
