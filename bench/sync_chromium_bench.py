"""Sync pull into Chromium: N changes (default 100,000) pulled in pages by the model client in a
Pyodide page (``factory("browser")``: the browser's IndexedDB, ``fetch``) from a real server
process on SQLite, while the page measures its own responsiveness.

Measured in the page: every ``longtask`` entry (PerformanceObserver: main-thread tasks over 50 ms;
the longest is the figure) and the longest gap of a ``setTimeout(0)`` heartbeat (what a click or a
frame would have waited). The issue's bar: no single task over 200 ms.

    python -m bench.sync_chromium_bench            # 100,000 changes, pages of 500
    python -m bench.sync_chromium_bench 20000 250  # N, page size
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from runners.serve import SiteServer  # noqa: E402

from bench.chromium_bench import CHROMIUM_FLAGS, chromium_executable  # noqa: E402
from bench.sync_bench import MODEL, record  # noqa: E402
from tests.sync.server_process import ServerProcess  # noqa: E402

RUNNER_PAGE = "tests/runners/browser_runner.html"
WATCH = """() => {
  window.__longtasks = [];
  window.__maxGap = 0;
  new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longtasks.push(e.duration); })
    .observe({type: "longtask"});
  let last = performance.now();
  window.__beating = true;
  const beat = () => {
    const now = performance.now();
    window.__maxGap = Math.max(window.__maxGap, now - last);
    last = now;
    if (window.__beating) setTimeout(beat, 0);
  };
  setTimeout(beat, 0);
}"""
PULL = """
import time, pyidb
from pyidb.model import Schema
from pyidb.sync import open_client
client = await open_client("pullbench", Schema.from_prisma({schema}), factory=pyidb.factory("browser"))
worker = client.sync_worker({url}, token="bench", pull_limit={limit})
post, waited = worker.transport.post, [0.0]

async def timed_post(path, body):  # the time spent waiting for the server (fetch + JSON)
    t = time.perf_counter()
    try:
        return await post(path, body)
    finally:
        waited[0] += time.perf_counter() - t

worker.transport.post = timed_post
t0 = time.perf_counter()
report = await worker.pull()
{{"seconds": time.perf_counter() - t0, "fetch_seconds": waited[0], "pulled": report["pulled"],
  "count": await client.note.count()}}
"""


def fill(db_path: Path, n: int) -> None:
    """The server's database with n records of scope "bench" (through the server's own push)."""
    from pyidb.sync.core import SyncServer
    from pyidb.sync.schema import SyncSchema
    from pyidb.sync.store import Store

    server = SyncServer(SyncSchema.parse(MODEL), Store(f"sqlite:///{db_path}"))
    for start in range(0, n, 5000):
        events = [{"id": f"e{i}", "seq": i + 1, "model": "Note", "op": "create", "key": record(i)["id"],
                   "data": record(i)} for i in range(start, min(n, start + 5000))]
        server.push("bench", {"protocol": 1, "schema_version": 1, "client_id": "filler", "events": events})
    server.store.close()


def run(n: int = 100_000, page_size: int = 500, log: Any = print) -> dict[str, float]:
    """One pull of n changes into a fresh Chromium profile: seconds, changes/s, the longest task
    (ms), how many tasks were over 200 ms, and the longest heartbeat gap (ms)."""
    from playwright.sync_api import sync_playwright

    site = SiteServer(REPO / "site", overlays={"/tests/": REPO / "tests"}).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            fill(Path(tmp) / "server.db", n)
            log(f"  sync-chromium: server filled with {n:,} records in {time.perf_counter() - t:.1f} s")
            origin = "/".join(site.url("").split("/", 3)[:3])
            with ServerProcess(Path(tmp), MODEL, tokens={"bench": "bench"}, cors_origin=origin) as server, \
                    sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_executable(), headless=True,
                                            args=CHROMIUM_FLAGS)
                try:
                    page = browser.new_context().new_page()
                    page.goto(site.url(RUNNER_PAGE))
                    page.wait_for_function("window.__PYIDB_READY__ || window.__PYIDB_BOOT_ERROR__",
                                           timeout=180_000)
                    error = page.evaluate("window.__PYIDB_BOOT_ERROR__ || null")
                    if error:
                        raise RuntimeError(f"Pyodide/pyidb did not load: {error}")
                    page.evaluate("code => window.pyidbTest.runPython(code)",
                                  "import pyidb.sync, pyidb.model")  # imports are not measured
                    page.evaluate(WATCH)
                    code = PULL.format(schema=json.dumps(MODEL), url=json.dumps(server.url), limit=page_size)
                    page.evaluate("""code => { window.pyidbTest.runPython(code).then(
                        r => { window.__pulled = r; }, e => { window.__pullError = String(e); }); }""", code)
                    page.wait_for_function("window.__pulled || window.__pullError", timeout=1_800_000,
                                           polling=1000)
                    page.evaluate("window.__beating = false")
                    error = page.evaluate("window.__pullError || null")
                    if error:
                        raise RuntimeError(f"the pull failed in the page: {error}")
                    result = page.evaluate("window.__pulled")
                    tasks = page.evaluate("window.__longtasks")
                    gap = page.evaluate("window.__maxGap")
                finally:
                    browser.close()
    finally:
        site.stop()
    if result["pulled"] != n or result["count"] != n:
        raise RuntimeError(f"pulled {result['pulled']}, stored {result['count']}, expected {n}")
    figures = {"seconds": result["seconds"], "fetch_seconds": result["fetch_seconds"],
               "per_s": n / result["seconds"],
               "longest_task_ms": max(tasks, default=0.0), "tasks_over_200ms": sum(d > 200 for d in tasks),
               "long_tasks": len(tasks), "longest_gap_ms": gap}
    log(f"  sync-chromium n={n:,} pages of {page_size}: {figures['seconds']:.1f} s "
        f"({figures['per_s']:,.0f} changes/s; {figures['fetch_seconds']:.1f} s of it in fetch), "
        f"longest task {figures['longest_task_ms']:.0f} ms "
        f"({figures['tasks_over_200ms']} over 200 ms, {figures['long_tasks']} over 50 ms), "
        f"longest heartbeat gap {figures['longest_gap_ms']:.0f} ms")
    return figures


if __name__ == "__main__":
    run(*(int(a) for a in sys.argv[1:3]))
