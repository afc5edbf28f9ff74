"""How long each page of the app takes to render in headless Chromium on the demo workspace.

The app is the real `rankaudit serve` (started here as a subprocess on a free loopback port,
with its default worker processes, or given with `--url`): the overview, the Features and
Exposure views are computed and the app is primed before the URL answers. Each page is loaded
twice: `cold` in a fresh browser (empty cache: every bundle is downloaded) on a page the
server has not rendered yet (the timeline's explanation is computed then), and `warm` reloaded
in the same browser (bundles from the cache, views from the session's caches). Time: from
navigation to the page's last figure drawn.

Usage: python benchmarks/app_pages.py [--workspace fixtures/demo] [--json] [--url URL]

Target (issue 15): every page within 2 s. Needs chromium and chromedriver
(Debian: chromium chromium-driver). The headless helper is the tests' (tests/browser.py).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 2.0
#: Page -> (path, the CSS selectors that must all be present once it is rendered).
PAGES = {
    "overview": ("/", ("#surprise-table", "#overview-metrics .main-svg")),
    "timeline": (
        "/timeline/u000406?request=r000000819&tweet=t0000020562",
        ("#timeline-table", "#timeline-slope .main-svg", "#explain-figure .main-svg"),
    ),
    "timeline (pair)": (
        "/timeline/u000406?request=r000000819&tweet=t0000020562&reference=pair&vs=t0000020548",
        ("#timeline-table", "#explain-figure .main-svg"),
    ),
    "features": ("/features", ("#features-importance .main-svg", "#features-agreement .main-svg")),
    "exposure": ("/exposure", ("#exposure-bars .main-svg",)),
}


def _rendered(driver: Any, selectors: tuple[str, ...]) -> bool:
    script = "return arguments[0].every(s => document.querySelector(s) !== null)"
    return bool(driver.execute_script(script, list(selectors)))


def _load(driver: Any, url: str, selectors: tuple[str, ...], *, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    driver.get(url)
    while not _rendered(driver, selectors):
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"{url} did not render {selectors} within {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - start


def _wait_until_up(url: str, server: subprocess.Popen[bytes], *, timeout: float) -> float:
    """When `url` first answers 200 (perf_counter); raises when the server exits or is late."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"rankaudit serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "fixtures" / "demo")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument(
        "--url",
        help="measure a server already running (`rankaudit serve`, fresh: no page opened yet) "
        "instead of starting one",
    )
    args = parser.parse_args()

    from cli_start import rankaudit_command  # benchmarks/ is the script's folder

    from tests.browser import browser_paths, headless_chromium

    if browser_paths() is None:
        print("chromium and chromedriver are needed (Debian: chromium chromium-driver)")
        return 2
    results: dict[str, dict[str, float]] = {}

    def measure(url: str) -> None:
        for name, (path, selectors) in PAGES.items():
            with headless_chromium("--window-size=1600,1000") as driver:
                cold = _load(driver, url + path, selectors)
                warm = _load(driver, url + path, selectors)
            results[name] = {"cold_s": round(cold, 3), "warm_s": round(warm, 3)}

    ready = float("nan")
    if args.url:
        measure(args.url.rstrip("/"))
    else:
        with socket.socket() as probe:  # a free loopback port
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        start = time.perf_counter()
        server = subprocess.Popen(
            [*rankaudit_command(), "serve", "--workspace", str(args.workspace), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        try:
            ready = _wait_until_up(url, server, timeout=180.0) - start
            measure(url)
        finally:
            server.terminate()  # SIGTERM: serve stops its workers
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    if args.json:
        print(json.dumps({"until_url_s": round(ready, 3), "pages": results}, indent=2))
    else:
        print(
            f"serve started to its URL answering (models, index, overview, Features and Exposure views): {ready:.2f} s"
        )
        print(f"{'page':<18}{'cold s':>8}{'warm s':>8}  target {TARGET_S:g} s")
        for name, times in results.items():
            worst = max(times.values())
            print(
                f"{name:<18}{times['cold_s']:>8.2f}{times['warm_s']:>8.2f}  "
                + ("ok" if worst <= TARGET_S else "SLOW")
            )
    return 0 if all(max(t.values()) <= TARGET_S for t in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
