"""Load test of the served app: N clients open timeline pages of different viewers over HTTP.

Usage: python benchmarks/app_load.py [--workspace fixtures/demo] [--clients 1 8 16]
                                     [--duration 60] [--max-pages 5000] [--big-id]
                                     [--threads 8] [--workers 1] [--soak SECONDS] [--seed 0]

Starts `rankaudit`'s waitress server (the real `serve`, with `--workers` processes; the
overview computed before serving, as `rankaudit serve` does) in a child process on
127.0.0.1 (a free port; loopback only), then, for each client count in `--clients`, runs that
many client threads for `--duration` seconds (at most `--max-pages` pages in all). A page is
what a browser sends to open `/timeline/<viewer>`: the HTML shell, the pages router callback
(the page layout from the URL), then the timeline callback (both orderings, slopegraph, tweet
table, the pair dropdown) and the explanation callback, with the payloads the page sends
(the callback keys are read from the server's `/_dash-dependencies`). Every page is a
different viewer (drawn with `--seed`, never repeated within a run). Prints pages/s, page
p50/p95, errors and the server's memory at the start and end of every run: RSS summed over
the whole process tree (the parent and its workers; pages shared copy-on-write count once
per process) and PSS (shared pages split between the processes sharing them: the tree's
real footprint).

`--big-id`: with 8 clients, a run without, then a run during which one request carries a
1 MB viewer id (at a third of the run); reports the server's peak RSS growth during that
request (sampled every 20 ms) and the other clients' p95 against the run without it.

`--soak SECONDS`: after the runs, 8 clients for that long (viewers drawn again when all
were opened), the tree's RSS sampled every 10 s; prints the samples and whether the last is
within +-10% of the first (the caches are bounded: once full, memory must stay flat; run it
after a warm-up such as `--clients 8 --duration 30`).
The server holds the models and the request index; the workspace is opened before timing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # dash_app from the checkout

HOST = "127.0.0.1"


# --------------------------------------------------------------------------- server child


def run_server(workspace: Path, threads: int, workers: int, viewers_file: Path) -> None:
    """The child: open the workspace, write its viewers to `viewers_file`, print the port,
    serve (`workers` processes) until SIGTERM."""
    import logging

    logging.basicConfig(level=logging.ERROR)  # a worker that dies is logged
    logging.getLogger("waitress.queue").setLevel(logging.CRITICAL)  # "queue depth": expected
    from dash_app.server import serve
    from rankaudit.views import WorkspaceSession

    session = WorkspaceSession.open(workspace)
    viewers_file.write_text(json.dumps([str(u) for u in session.index.users]))
    from rankaudit.models.threads import torch_threads

    # As `rankaudit serve --workers N` (N > 1): one torch thread from the first ranker call.
    with torch_threads(1 if workers > 1 else None):
        session.warm(overview=True)
        with contextlib.suppress(KeyboardInterrupt):  # SIGTERM from the parent
            serve(session, host=HOST, port=0, threads=threads, workers=workers, warm=False,
                  on_ready=lambda url: print(url.rstrip("/").rsplit(":", 1)[1], flush=True))  # fmt: skip


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (the server's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(current := todo.pop())
        todo.extend(children.get(current, []))
    return found


def rss_mib(pid: int, field: str = "Rss:") -> float:
    """Memory of process `pid` and its descendants (MiB), from /proc: `Rss:` (resident, each
    process counting the pages it shares) or `Pss:` (shared pages split between sharers)."""
    total = 0.0
    for member in tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:  # ended meanwhile
            continue
        total += sum(int(ln.split()[1]) for ln in text.splitlines() if ln.startswith(field))
    return total / 1024 if total else float("nan")


# --------------------------------------------------------------------------------- client


class Client:
    """One browser: a keep-alive HTTP connection posting the page's callbacks."""

    def __init__(self, port: int, keys: dict[str, str]) -> None:
        self.port = port
        self.keys = keys
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)

    def _send(self, method: str, path: str, body: bytes | None = None) -> bytes:
        headers = {"Host": f"{HOST}:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.status not in (200, 204):
                    raise RuntimeError(f"{method} {path[:60]}: HTTP {response.status}")
                return data
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()  # the server closed a kept-alive connection
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def callback(self, output: str, inputs: list[dict[str, Any]]) -> bytes:
        key = self.keys[output]
        outputs = [
            {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
            for part in key.strip(".").split("...")
        ]
        body = {
            "output": key,
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs,
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs[:1]],
            "state": [],
        }
        return self._send("POST", "/_dash-update-component", json.dumps(body).encode())

    def page(self, user: str) -> None:
        """Open /timeline/<user> as the browser does; raises on any error."""
        path = f"/timeline/{quote(user, safe='')}"
        self._send("GET", path)
        layout = self.callback(
            "_pages_content.children",
            [
                {"id": "_pages_location", "property": "pathname", "value": path},
                {"id": "_pages_location", "property": "search", "value": ""},
            ],
        )
        if b"timeline-query" not in layout:
            raise RuntimeError(f"the layout of {user} has no timeline")
        data = {"user": user, "request": None, "tweet": None, "model": None, "head": "score",
                "reference": "request", "vs": None, "chart": "bars"}  # fmt: skip
        stored = {"id": "timeline-query", "property": "data", "value": data}
        body = self.callback("timeline-body.children", [stored])
        if b"timeline-table" not in body:
            raise RuntimeError(f"the timeline of {user} did not render: {body[:200]!r}")
        self.callback(
            "explain-body.children",
            [stored, {"id": "explain-by", "property": "value", "value": "features"}],
        )


def callback_keys(port: int) -> dict[str, str]:
    """Output -> callback key of the callbacks a timeline page sends."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    connection.request("GET", "/", headers={"Host": f"{HOST}:{port}"})
    connection.getresponse().read()  # registers the pages router
    connection.request("GET", "/_dash-dependencies", headers={"Host": f"{HOST}:{port}"})
    dependencies = json.loads(connection.getresponse().read())
    connection.close()
    wanted = ("_pages_content.children", "timeline-body.children", "explain-body.children")
    return {w: next(d["output"] for d in dependencies if w in d["output"]) for w in wanted}


@dataclass
class Run:
    clients: int
    seconds: float = 0.0
    pages: list[float] = field(default_factory=list)  # page wall times (s)
    errors: list[str] = field(default_factory=list)
    rss_start: float = 0.0
    rss_end: float = 0.0
    pss_start: float = 0.0
    pss_end: float = 0.0
    big: dict[str, float] = field(default_factory=dict)
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (s, RSS, PSS)

    def line(self) -> str:
        times = np.asarray(self.pages) if self.pages else np.asarray([np.nan])
        rate = len(self.pages) / self.seconds if self.seconds else float("nan")
        return (
            f"clients {self.clients:>2}: {len(self.pages):>5} pages in {self.seconds:5.1f} s = "
            f"{rate:5.2f} pages/s; page p50 {np.median(times):.3f} s, p95 "
            f"{np.percentile(times, 95):.3f} s; errors {len(self.errors)}; server RSS "
            f"{self.rss_start:.0f} -> {self.rss_end:.0f} MiB ({self.rss_end - self.rss_start:+.0f}), "
            f"PSS {self.pss_start:.0f} -> {self.pss_end:.0f} MiB"
        )


def load(
    port: int,
    pid: int,
    keys: dict[str, str],
    viewers: list[str],
    *,
    clients: int,
    duration: float,
    max_pages: int,
    big_id: bool = False,
    sample_every: float = 0.0,
) -> Run:
    """`clients` threads opening pages of distinct viewers for `duration` seconds (with
    `sample_every`: the server's memory every that many seconds)."""
    run = Run(clients=clients, rss_start=rss_mib(pid), pss_start=rss_mib(pid, "Pss:"))
    queue = iter(viewers)
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def next_viewer() -> str | None:
        with lock:
            if time.perf_counter() > deadline or len(run.pages) + len(run.errors) >= max_pages:
                return None
            return next(queue, None)

    def work() -> None:
        client = Client(port, keys)
        while (user := next_viewer()) is not None:
            started = time.perf_counter()
            try:
                client.page(user)
            except Exception as error:  # counted and reported
                with lock:
                    run.errors.append(f"{user}: {error}")
                continue
            with lock:
                run.pages.append(time.perf_counter() - started)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    if big_id:
        threads.append(threading.Thread(target=_big_request, args=(port, pid, duration, run)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    if sample_every:
        while any(thread.is_alive() for thread in threads):
            run.samples.append((time.perf_counter() - started, rss_mib(pid), rss_mib(pid, "Pss:")))
            time.sleep(sample_every)
    for thread in threads:
        thread.join(timeout=duration + 300)
    run.seconds = time.perf_counter() - started
    run.rss_end = rss_mib(pid)
    run.pss_end = rss_mib(pid, "Pss:")
    return run


def _big_request(port: int, pid: int, duration: float, run: Run) -> None:
    """At a third of the run, one timeline callback with a 1 MB viewer id; the server's RSS
    is sampled every 20 ms while it is answered (and 1 s after)."""
    time.sleep(duration / 3)
    before = rss_mib(pid)
    peak = before
    done = threading.Event()
    answer: dict[str, Any] = {}

    def send() -> None:
        client = Client(
            port, {"timeline-body.children": "..timeline-body.children...explain-vs.options.."}
        )
        started = time.perf_counter()
        try:
            body = client.callback(
                "timeline-body.children",
                [{"id": "timeline-query", "property": "data", "value": {"user": "u" * 1_000_000}}],
            )
            answer["card"] = float(b"error-card" in body)
            answer["bytes"] = float(len(body))
        except Exception as error:  # reported as an error of the run
            run.errors.append(f"big id: {error}")
        answer["seconds"] = time.perf_counter() - started
        done.set()

    threading.Thread(target=send, daemon=True).start()
    until = None
    while until is None or time.perf_counter() < until:
        peak = max(peak, rss_mib(pid))
        if until is None and done.is_set():
            until = time.perf_counter() + 1.0
        time.sleep(0.02)
    run.big = {"rss_before": before, "rss_peak": peak, **answer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "fixtures" / "demo")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--max-pages", type=int, default=5000, help="pages per run, at most")
    parser.add_argument("--big-id", action="store_true", help="also the 1 MB id runs (8 clients)")
    parser.add_argument("--threads", type=int, default=None, help="waitress threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--soak", type=float, default=0.0, help="then 8 clients this long (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the runs here")
    parser.add_argument("--_serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duration <= 0 or args.max_pages < 1 or min(args.clients) < 1 or args.workers < 1:
        parser.error("--duration, --max-pages, --clients and --workers must be positive")

    from dash_app.server import THREADS

    threads = args.threads or THREADS
    if args._serve is not None:
        run_server(args.workspace, threads, args.workers, args._serve)
        return

    viewers_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"app_load_viewers_{os.getpid()}.json"
    child = subprocess.Popen(
        [sys.executable, __file__, "--workspace", str(args.workspace), "--threads", str(threads),
         "--workers", str(args.workers), "--_serve", str(viewers_file)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        started = time.perf_counter()
        port = int(child.stdout.readline())
        viewers = json.loads(viewers_file.read_text())
        random.Random(args.seed).shuffle(viewers)
        keys = callback_keys(port)
        print(
            f"server pid {child.pid} on {HOST}:{port}, {args.workers} worker process(es) of "
            f"{threads} waitress threads, "
            f"{len(viewers):,} viewers, ready in {time.perf_counter() - started:.1f} s; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        runs: list[Run] = []
        offset = 0

        def fresh(count: int) -> list[str]:
            # Viewers not opened by the previous runs (the server's LRU holds 64).
            nonlocal offset
            chosen = (viewers[offset:] + viewers[:offset])[:count]
            offset = (offset + count) % len(viewers)
            return chosen

        budget = min(args.max_pages, len(viewers))
        for clients in args.clients:
            run = load(port, child.pid, keys, fresh(budget), clients=clients,
                       duration=args.duration, max_pages=budget)  # fmt: skip
            offset -= budget - len(run.pages) - len(run.errors)
            runs.append(run)
            print(run.line(), flush=True)
        if args.big_id:
            for big in (False, True):
                run = load(port, child.pid, keys, fresh(budget), clients=8,
                           duration=args.duration, max_pages=budget, big_id=big)  # fmt: skip
                offset -= budget - len(run.pages) - len(run.errors)
                runs.append(run)
                print(("with a 1 MB id " if big else "without it     ") + run.line(), flush=True)
            plain, big_run = runs[-2], runs[-1]
            growth = big_run.big.get("rss_peak", np.nan) - big_run.big.get("rss_before", np.nan)
            ratio = np.percentile(big_run.pages, 95) / np.percentile(plain.pages, 95)
            print(
                f"1 MB id: answered in {big_run.big.get('seconds', np.nan):.3f} s "
                f"({big_run.big.get('bytes', np.nan):.0f} bytes, error card: "
                f"{bool(big_run.big.get('card'))}); server RSS peak growth {growth:+.1f} MiB "
                f"(target <= 50); others' p95 {ratio:.2f}x the run without it (target <= 2)"
            )
        if args.soak:
            run = load(port, child.pid, keys, fresh(budget) * 50, clients=8,
                       duration=args.soak, max_pages=50 * budget, sample_every=10.0)  # fmt: skip
            runs.append(run)
            print("soak " + run.line(), flush=True)
            for seconds, rss, pss in run.samples:
                print(f"  {seconds:6.1f} s: RSS {rss:7.1f} MiB, PSS {pss:7.1f} MiB")
            first, last = run.samples[0][1], run.rss_end
            change = last / first - 1
            print(
                f"soak: tree RSS {first:.0f} -> {last:.0f} MiB ({change:+.1%}; within +-10%: "
                f"{'yes' if abs(change) <= 0.10 else 'NO'}), {len(tree(child.pid))} processes"
            )
        for run in runs:
            for error in run.errors[:5]:
                print(f"  error ({run.clients} clients): {error}")
        if args.json is not None:
            args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))
    finally:
        child.terminate()  # SIGTERM: the server stops its workers
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
        viewers_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
