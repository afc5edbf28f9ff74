"""How long the app's Exposure page takes to render in headless Chromium on the demo workspace.

The app is served as `benchmarks/app_pages.py` serves it (the overview computed before the URL is
announced, the Features page's default view right after). The page is loaded three times for
each reference ordering (`--references`, default the session's reference then chronological):
`first`, in a fresh browser (every bundle downloaded) on an audit the server has not computed yet
(the exposure audit, read, score and bootstrap, runs in the page's callback), then `warm`,
reloaded in the same browser (bundles from the cache, the audit from the session's cache).
With `--prewarm` the server computes the default reference's audit before serving, as it does
the overview: `first` then measures a page whose audit is ready. Time: from navigation to the
amplification bars drawn.

Usage: python benchmarks/app_exposure_page.py [--workspace fixtures/demo] [--prewarm] [--json]

Target (issue 17): within 2 s, as every other page (`benchmarks/app_pages.py`). Needs chromium
and chromedriver (Debian: chromium chromium-driver); the headless helper is the tests'.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 2.0
SELECTORS = ("#exposure-bars .main-svg",)


def _rendered(driver: Any, selectors: tuple[str, ...]) -> bool:
    script = "return arguments[0].every(s => document.querySelector(s) !== null)"
    return bool(driver.execute_script(script, list(selectors)))


def _load(driver: Any, url: str, *, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    driver.get(url)
    while not _rendered(driver, SELECTORS):
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"{url} did not render {SELECTORS} within {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "fixtures" / "demo")
    parser.add_argument("--references", nargs="*", default=None)
    parser.add_argument(
        "--prewarm", action="store_true", help="compute the default audit before serving"
    )
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()

    from dash_app.server import BackgroundServer
    from rankaudit.views import FeaturesQuery, WorkspaceSession
    from rankaudit.views.exposure import ExposureQuery, exposure_audit
    from tests.browser import browser_paths, headless_chromium

    if browser_paths() is None:
        print("chromium and chromedriver are needed (Debian: chromium chromium-driver)")
        return 2
    session = WorkspaceSession.open(args.workspace)
    session.warm(overview=True)  # as `serve` does before announcing the URL
    references = args.references or list(dict.fromkeys([session.models[0], "chronological"]))
    prewarm_s = None
    if args.prewarm:
        start = time.perf_counter()
        exposure_audit(
            session, ExposureQuery(reference=session.models[0], audited=session.models[1])
        )
        prewarm_s = round(time.perf_counter() - start, 3)
    session.features(FeaturesQuery())  # `serve` computes it in the background right after
    results: dict[str, dict[str, float]] = {}
    with BackgroundServer(session) as server:
        for reference in references:
            url = f"{server.url}/exposure?reference={reference}"
            with headless_chromium("--window-size=1600,1000") as driver:
                first = _load(driver, url)
                warm = _load(driver, url)
            results[reference] = {"first_s": round(first, 3), "warm_s": round(warm, 3)}
    if args.json:
        print(json.dumps({"prewarm_s": prewarm_s, "pages": results}, indent=2))
    else:
        if prewarm_s is not None:
            print(f"default audit computed before serving: {prewarm_s:.2f} s")
        print(f"{'exposure, reference':<28}{'first s':>8}{'warm s':>8}  target {TARGET_S:g} s")
        for reference, times in results.items():
            worst = max(times.values())
            print(
                f"{reference:<28}{times['first_s']:>8.2f}{times['warm_s']:>8.2f}  "
                + ("ok" if worst <= TARGET_S else "SLOW")
            )
    return 0 if all(max(t.values()) <= TARGET_S for t in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
