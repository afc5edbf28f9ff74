"""The pair reference survives in the URL, from a link and from the vs dropdown (headless
Chromium on the demo app): the page used to drop `vs=` within a second and explain against
the next tweet below instead."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import pytest

from rankaudit.views import WorkspaceSession
from tests.app.conftest import BUG_REQUEST, BUG_TWEET, BUG_USER, BUG_VS

pytestmark = pytest.mark.slow
WAIT = 60


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)


def _path(driver: Any) -> str:
    return unquote(driver.current_url.split("://", 1)[1].split("/", 1)[1])


def _figure_title(driver: Any) -> str:
    return str(
        _wait(
            driver,
            lambda d: d.execute_script(
                "const t = document.querySelector('#explain-figure .gtitle');"
                "return t && t.textContent"
            ),
        )
    )


def test_pair_reference_from_the_url_and_from_the_dropdown(
    browser: Any, live_url: str, session: WorkspaceSession
) -> None:
    from selenium.webdriver.common.by import By

    base = f"timeline/{BUG_USER}?request={BUG_REQUEST}&tweet={BUG_TWEET}&reference=pair"
    view = session.timeline(BUG_USER, BUG_REQUEST)
    positions = view.positions("deep")
    assert view.neighbour(BUG_TWEET, "deep") != BUG_VS  # else the fallback would pass too

    # From the URL: vs stays, and the explanation is against it.
    browser.get(f"{live_url}/{base}&vs={BUG_VS}")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#explain-figure .main-svg"))
    time.sleep(1.5)  # the defect dropped vs= within a second of the first render
    assert _path(browser) == f"{base}&vs={BUG_VS}"
    relation = "above" if positions[BUG_TWEET] < positions[BUG_VS] else "below"
    assert _figure_title(browser).startswith(f"Why {BUG_TWEET} is {relation} {BUG_VS} · deep")
    shown = browser.find_element(By.ID, "explain-vs-value").text
    assert BUG_VS in shown

    # From the dropdown: choose another tweet, the URL and the explanation follow it.
    other = str(positions.drop([BUG_TWEET, BUG_VS]).sort_values().index[0])
    browser.find_element(By.ID, "explain-vs").click()
    option = _wait(
        browser,
        lambda d: next(
            (o for o in d.find_elements(By.CSS_SELECTOR, "[role=option]") if other in o.text),
            None,
        ),
    )
    option.click()
    _wait(browser, lambda d: _path(d) == f"{base}&vs={other}")
    relation = "above" if positions[BUG_TWEET] < positions[other] else "below"
    _wait(
        browser,
        lambda d: _figure_title(d).startswith(f"Why {BUG_TWEET} is {relation} {other} · deep"),
    )
    time.sleep(1.5)
    assert _path(browser) == f"{base}&vs={other}"
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_the_rank_view_from_the_url_and_from_the_switch(browser: Any, live_url: str) -> None:
    from selenium.webdriver.common.by import By

    base = f"timeline/{BUG_USER}?request={BUG_REQUEST}&tweet={BUG_TWEET}"
    # From the URL: the rank view is the one shown, and it stays.
    browser.get(f"{live_url}/{base}&explain=rank")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#explain-rank-figure .main-svg"))
    time.sleep(1.5)
    assert _path(browser) == f"{base}&explain=rank"
    # From the switch: the score tab's URL drops it, the rank tab's adds it back.
    tabs = browser.find_elements(By.CSS_SELECTOR, "#explain-quantity .tab")
    next(t for t in tabs if t.text.strip() == "score").click()
    _wait(browser, lambda d: _path(d) == base)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#explain-figure .main-svg"))
    tabs = browser.find_elements(By.CSS_SELECTOR, "#explain-quantity .tab")
    next(t for t in tabs if t.text.strip() == "rank").click()
    _wait(browser, lambda d: _path(d) == f"{base}&explain=rank")
