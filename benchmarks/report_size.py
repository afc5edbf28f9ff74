"""Size and wall time of audit reports on the demo workspace.

Usage: python benchmarks/report_size.py [--workspace fixtures/demo] [--viewers 5 20] [--fast]
       [--pdf]

For each number of viewers, builds `rankaudit report --surprising N` in this process (default
attribution settings unless --fast), writes HTML and JSON (and a PDF with --pdf) to a temporary
folder and prints the file sizes, the figures, and the wall time of building and of writing.
The issue's limit: under 10 MB of HTML for 20 viewers. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("fixtures/demo"))
    parser.add_argument("--viewers", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--fast", action="store_true", help="the web app's attribution settings")
    parser.add_argument("--pdf", action="store_true", help="also print a PDF (needs chromium)")
    args = parser.parse_args(argv)

    from rankaudit.attribution import INTERACTIVE_SETTINGS, AttributionSettings
    from rankaudit.report import ReportSettings, build_report
    from rankaudit.workspace import load_workspace

    workspace = load_workspace(args.workspace)
    settings = ReportSettings(
        attribution=INTERACTIVE_SETTINGS if args.fast else AttributionSettings()
    )
    for name in settings.models:
        workspace.ranker(name)  # model loading is not part of the timings
    load = os.getloadavg()[0]
    results = []
    for viewers in args.viewers:
        started = time.perf_counter()
        report = build_report(workspace, surprising=viewers, settings=settings)
        built = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder)
            started = time.perf_counter()
            sizes = report.write(
                html=out / "r.html",
                json=out / "r.json",
                pdf=out / "r.pdf" if args.pdf else None,
            )
            written = time.perf_counter() - started
        results.append(
            {
                "viewers": report.viewers,
                "figures": len(report.figures),
                "html_bytes": sizes["html"],
                "json_bytes": sizes["json"],
                "pdf_bytes": sizes.get("pdf"),
                "build_s": round(built, 2),
                "write_s": round(written, 2),
            }
        )
    print(
        f"{'viewers':>7} {'figures':>7} {'HTML MB':>8} {'JSON MB':>8} {'PDF MB':>7} {'build s':>8} {'write s':>8}"
    )
    for r in results:
        pdf = "–" if r["pdf_bytes"] is None else f"{r['pdf_bytes'] / 1e6:.2f}"
        print(
            f"{r['viewers']:>7} {r['figures']:>7} {r['html_bytes'] / 1e6:>8.2f} "
            f"{r['json_bytes'] / 1e6:>8.2f} {pdf:>7} {r['build_s']:>8.1f} {r['write_s']:>8.1f}"
        )
    print(f"load average before {load:.1f}, after {os.getloadavg()[0]:.1f}")
    print(json.dumps({"settings": "fast" if args.fast else "default", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
