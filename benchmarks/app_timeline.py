"""Server time of the web app's timeline page, cold (a viewer never opened) and warm (cached),
the on-the-fly explanation of a clicked tweet, and memory after many distinct viewers.

Usage: python benchmarks/app_timeline.py [--workspace bench-out/w20k] [--viewers 200]
                                         [--warm 50] [--explain 30] [--seed 0]

Requests go through the real Dash app (its Flask server's test client, no network): one
request renders the page's layout from the URL (the pages router callback), one fills the
timeline (both orderings, slopegraph, tweet table), as a browser opening
/timeline/<viewer> does. Cold: `--viewers` distinct viewers, drawn with `--seed`. Warm: the
first `--warm` of them again. Explain: the biggest mover of `--explain` cold viewers
(both SHAP and IG of the audited ranker's final score, request reference). Memory: resident
set size after startup and after every 50 viewers, with the session's cache sizes.
Build the ~1M-row workspace first: rankaudit fixtures build --users 20000 --out bench-out/w20k
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # dash_app from the checkout


def rss_mib() -> float:
    """Resident set size of this process now (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    """Posts Dash callback requests the way the browser's renderer does."""

    def __init__(self, app: Any) -> None:
        self.client = app.server.test_client()
        assert self.client.get("/").status_code == 200  # registers the pages router
        self.keys = list(app.callback_map)

    def _key(self, output: str) -> str:
        return next(k for k in self.keys if output in k)

    def post(self, output: str, inputs: list[dict[str, Any]], changed: list[str]) -> Any:
        key = self._key(output)
        outputs = [
            {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
            for part in key.strip(".").split("...")
        ]
        body = {
            "output": key,
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs,
            "changedPropIds": changed,
            "state": [],
        }
        response = self.client.post("/_dash-update-component", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{output}: HTTP {response.status_code}")
        return response.get_json()

    def page(self, path: str, search: str = "") -> Any:
        return self.post(
            "_pages_content.children",
            [
                {"id": "_pages_location", "property": "pathname", "value": path},
                {"id": "_pages_location", "property": "search", "value": search},
            ],
            ["_pages_location.pathname"],
        )

    def timeline(self, data: dict[str, Any]) -> Any:
        return self.post(
            "timeline-body.children",
            [{"id": "timeline-query", "property": "data", "value": data}],
            ["timeline-query.data"],
        )

    def explanation(self, data: dict[str, Any]) -> Any:
        return self.post(
            "explain-body.children",
            [{"id": "timeline-query", "property": "data", "value": data}],
            ["timeline-query.data"],
        )


#: CPU milliseconds of every timed call, next to its wall time: on a shared machine the wall
#: time includes waiting for a core, the CPU time of this (single) thread does not.
CPU: dict[str, list[float]] = {}


def open_timeline(client: Client, user: str, label: str = "") -> tuple[float, float]:
    """Wall milliseconds of the two requests that open /timeline/<user>: layout, then
    timeline (their CPU milliseconds are appended to CPU[label])."""
    from rankaudit.views import TimelineQuery

    cpu = time.thread_time()
    started = time.perf_counter()
    client.page(f"/timeline/{user}")
    laid_out = time.perf_counter()
    answer = client.timeline(asdict(TimelineQuery(user=user)))
    done = time.perf_counter()
    CPU.setdefault(label, []).append(1000 * (time.thread_time() - cpu))
    if "timeline-table" not in json.dumps(answer):
        raise RuntimeError(f"the timeline of {user} did not render: {json.dumps(answer)[:300]}")
    return 1000 * (laid_out - started), 1000 * (done - laid_out)


def summary(values: list[float]) -> str:
    array = np.asarray(values)
    return (
        f"median {np.median(array):.1f} ms, p95 {np.percentile(array, 95):.1f} ms, "
        f"max {array.max():.1f} ms (n={len(array)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("bench-out/w20k"))
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--explain", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import logging

    logging.getLogger("rankaudit.app").setLevel(logging.ERROR)
    from dash_app.app import create_app
    from rankaudit.views import TimelineQuery, WorkspaceSession

    started = time.perf_counter()
    session = WorkspaceSession.open(args.workspace)
    session.warm(overview=False)
    app = create_app(session)
    client = Client(app)
    startup = time.perf_counter() - started
    print(
        f"workspace {session.workspace.name}: {session.index.rows:,} rows, "
        f"{session.index.n_requests:,} requests, {session.index.n_users:,} viewers; startup "
        f"(models, request index, app) {startup:.1f} s, RSS {rss_mib():.0f} MiB"
    )
    rng = np.random.default_rng(args.seed)
    users = [
        str(u) for u in rng.choice(session.index.users, args.viewers + args.explain, replace=False)
    ]
    cold_users, explain_users = users[: args.viewers], users[args.viewers :]
    open_timeline(client, cold_users[0])  # first request pays one-off imports: not counted
    cold: list[float] = []
    layout: list[float] = []
    memory = [(0, rss_mib())]
    for count, user in enumerate(cold_users[1:], start=2):
        page, body = open_timeline(client, user, "cold")
        layout.append(page)
        cold.append(page + body)
        if count % 50 == 0:
            memory.append((count, rss_mib()))
    # The most recently opened viewers are the ones still in the session's LRU.
    warm = [sum(open_timeline(client, user, "warm")) for user in cold_users[-args.warm :]]
    library: list[float] = []
    explain: list[float] = []
    for user in explain_users:
        t = time.perf_counter()
        view = session.timeline(user)
        library.append(1000 * (time.perf_counter() - t))
        rows = view.comparison.rows
        mover = str(rows.loc[rows["displacement"].abs().idxmax(), "tweet_id"])
        data = asdict(TimelineQuery(user=user, tweet=mover))
        t, cpu = time.perf_counter(), time.thread_time()
        answer = client.explanation(data)
        explain.append(1000 * (time.perf_counter() - t))
        CPU.setdefault("explain", []).append(1000 * (time.thread_time() - cpu))
        if "explain-top-feature" not in json.dumps(answer):
            raise RuntimeError(f"the explanation of {mover} did not render")
    info = session.cache_info()
    print(f"timeline page, cold viewer (layout + timeline): {summary(cold)}")
    print(f"  CPU time: {summary(CPU['cold'])}")
    print(f"  of which the layout request: {summary(layout)}")
    print(f"  the library's timeline alone (load_side_by_side, cold): {summary(library)}")
    print(f"timeline page, warm (cached viewer): {summary(warm)}")
    print(f"  CPU time: {summary(CPU['warm'])}")
    print(
        f"explanation of a clicked tweet (cold, SHAP + IG, request reference): {summary(explain)}"
    )
    print(f"  CPU time: {summary(CPU['explain'])}")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    print(
        "memory (RSS MiB) after n viewers: "
        + ", ".join(f"{n}: {value:.0f}" for n, value in memory)
        + f"; caches: {info['timelines']}/{info['timelines_max']} timelines, "
        f"{info['attributions']}/{info['attributions_max']} attributions"
    )


if __name__ == "__main__":
    main()
