"""Headless Chromium for the end-to-end tests (the app's pages, the report's HTML)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def browser_paths() -> tuple[str, str] | None:
    """(browser, driver) from PATH, or None when either is missing."""
    chrome = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    driver = shutil.which("chromedriver")
    return (chrome, driver) if chrome and driver else None


@contextmanager
def headless_chromium(*arguments: str) -> Iterator[Any]:
    """A selenium driver of headless Chromium that keeps the browser console; the test is
    skipped (with the Debian packages to install) when the browser or driver is missing."""
    paths = browser_paths()
    if paths is None:
        pytest.skip(
            "chromium and chromedriver are not installed (Debian: chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        *arguments,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
