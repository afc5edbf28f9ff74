"""End to end in headless Chromium: the demo app served by waitress, driven like a user.

Saves screenshots of the pages under test-artifacts/ (git-ignored)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from rankaudit.attribution import INTERACTIVE_SETTINGS, AttributionCache
from rankaudit.explain import explain_tweet
from rankaudit.views import WorkspaceSession
from tests.app.conftest import ARTIFACTS, BUG_REQUEST, BUG_TWEET, BUG_USER

pytestmark = pytest.mark.slow
WAIT = 60


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)


def _visible(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def _text_is(driver: Any, css: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    _wait(driver, ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def _screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))


def _path(driver: Any) -> str:
    return unquote(driver.current_url.split("://", 1)[1].split("/", 1)[1])


def test_search_explain_pair_surprise_and_errors(
    browser: Any, live_url: str, session: WorkspaceSession, library_cache: AttributionCache
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    # Search a viewer: both orderings appear.
    browser.get(live_url + "/")
    search = _visible(browser, "#search-input")
    search.send_keys(BUG_USER + Keys.ENTER)
    _wait(browser, lambda d: _path(d).startswith(f"timeline/{BUG_USER}"))
    _visible(browser, "#timeline-table")
    _visible(browser, "#timeline-slope .main-svg")
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#timeline-table th")]
    assert headers[:2] == ["deep #", "baseline #"]

    # Open the bug request by its id, then click its biggest mover.
    search = browser.find_element(By.ID, "search-input")
    _wait(browser, lambda d: search.get_attribute("value") == "")  # emptied by the search
    search.send_keys(BUG_REQUEST + Keys.ENTER)
    _wait(browser, lambda d: _path(d) == f"timeline/{BUG_USER}?request={BUG_REQUEST}")
    view = session.timeline(BUG_USER, BUG_REQUEST)
    _wait(
        browser,
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "#timeline-table tbody tr"))
            == len(view.comparison.rows)
        ),
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline-table tbody tr")
    shown = [r.find_element(By.CSS_SELECTOR, ".tweet-link").text for r in rows]
    assert shown == view.comparison.rows["tweet_id"].tolist()
    browser.find_element(By.LINK_TEXT, BUG_TWEET).click()
    expected = explain_tweet(
        session.workspace,
        request=BUG_REQUEST,
        tweet=BUG_TWEET,
        settings=INTERACTIVE_SETTINGS,
        cache=library_cache,
    )
    top = expected.contributions("deep")["feature"].iat[0]
    _text_is(browser, "#explain-top-feature", top)
    assert top == "real_graph_weight"
    assert _path(browser) == f"timeline/{BUG_USER}?request={BUG_REQUEST}&tweet={BUG_TWEET}"
    _visible(browser, "#explain-figure .main-svg")
    _visible(browser, "#explain-heads .main-svg")
    selected = browser.find_element(By.CSS_SELECTOR, "#timeline-table tr.selected .tweet-link")
    assert selected.text == BUG_TWEET
    _screenshot(browser, "timeline.png")

    # Switch to the pair reference: why above the next tweet.
    browser.find_element(By.CSS_SELECTOR, "#explain-reference input[value='pair']").click()
    _wait(browser, lambda d: "reference=pair" in _path(d))
    neighbour = view.neighbour(BUG_TWEET, "deep")
    pair = explain_tweet(
        session.workspace, request=BUG_REQUEST, tweet=BUG_TWEET, vs_tweet=neighbour,
        settings=INTERACTIVE_SETTINGS, cache=library_cache,
    )  # fmt: skip
    _text_is(browser, "#explain-top-feature", pair.contributions("deep")["feature"].iat[0])
    title = _wait(
        browser,
        lambda d: d.execute_script(
            "const t = document.querySelector('#explain-figure .gtitle'); return t && t.textContent"
        ),
    )
    assert title.startswith(f"Why {BUG_TWEET} is above {neighbour} · deep")
    _screenshot(browser, "timeline-pair.png")

    # Follow a surprise link from the overview.
    browser.find_element(By.ID, "nav-overview").click()
    link = _visible(browser, "#surprise-table a")
    top_row = session.overview().surprises.top(1).iloc[0]
    assert link.text == top_row["request_id"]
    _screenshot(browser, "overview.png")
    link.click()
    _wait(
        browser,
        lambda d: _path(d) == f"timeline/{top_row['user_id']}?request={top_row['request_id']}",
    )
    _visible(browser, "#timeline-table")
    _text_is(browser, ".page-title", str(top_row["user_id"]))

    # Bad URLs: a friendly message, no trace, and the app keeps serving.
    browser.get(live_url + "/timeline/u_nobody?request=r1")
    _text_is(browser, ".error-card", "unknown viewer 'u_nobody'")
    assert "Traceback" not in browser.page_source
    browser.get(live_url + f"/timeline/{BUG_USER}?request={BUG_REQUEST}&tweet=t_missing")
    _text_is(
        browser, "#explain-body .error-card", "tweet 't_missing' is not among the 33 candidates"
    )
    _visible(browser, "#timeline-table")  # the rest of the page still works
    browser.get(live_url + "/no/such/page")
    _text_is(browser, ".error-card", "Nothing lives at this address.")
    browser.get(live_url + f"/timeline/{BUG_USER}?reference=sideways")
    _text_is(browser, ".error-card", "The 'reference' parameter in the URL must be one of")
    browser.get(live_url + "/")
    _visible(browser, "#surprise-table")
    # No callback failed and no script error happened on the way.
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
