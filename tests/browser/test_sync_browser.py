"""pyidb.sync in Chromium: two browser profiles (two contexts: separate IndexedDB) on the model
client sync through a real server process with the browser's fetch; the data survives a reload;
two tabs of one profile never sync at the same time (Web Locks)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from runners.fixtures import ARTIFACTS, open_logged_context, open_pyodide_page, run_python

from tests.sync.schemas import BLOG
from tests.sync.server_process import ServerProcess

OPEN = """
import pyidb
from pyidb.model import Schema
from pyidb.sync import open_client
client = await open_client("syncdb", Schema.from_prisma({schema}), factory=pyidb.factory("browser"))
worker = client.sync_worker({url}, token="ta")
"""


def open_client_page(context: Any, site_server: Any, url: str) -> Any:
    page = open_pyodide_page(context, site_server)
    run_python(page, OPEN.format(schema=json.dumps(BLOG), url=json.dumps(url)) + "None")
    return page


def titles(page: Any) -> list[str]:
    return run_python(page, "[p['title'] for p in await client.post.find_many(order={'id': 'asc'})]")


def test_two_profiles_sync_and_survive_a_reload(chromium: Any, site_server: Any, tmp_path: Path) -> None:
    origin = site_server.url("").split("/", 3)[:3]
    with ServerProcess(tmp_path, BLOG, tokens={"ta": "alice"}, cors_origin="/".join(origin)) as server:
        ctx_a = open_logged_context(chromium, ARTIFACTS / "browser" / "sync-profile-a.log")
        ctx_b = open_logged_context(chromium, ARTIFACTS / "browser" / "sync-profile-b.log")
        try:
            a = open_client_page(ctx_a, site_server, server.url)
            b = open_client_page(ctx_b, site_server, server.url)
            report = run_python(a, """
await client.post.create(data={"id": "p1", "owner": "alice", "title": "from a"})
await worker.sync_once()""")
            assert report["pushed"] == 1
            run_python(b, "await worker.sync_once()")
            assert titles(b) == ["from a"]
            run_python(b, """
await client.post.update(where={"id": "p1"}, data={"title": "edited in b"})
await client.post.create(data={"id": "p2", "owner": "alice", "title": "new in b"})
await worker.sync_once()""")
            assert titles(a) == ["from a"]  # not before a's next pull
            run_python(a, "await worker.sync_once()")
            assert titles(a) == ["edited in b", "new in b"]
            b.close()  # a reload: a new page of the same profile, no sync
            b = open_client_page(ctx_b, site_server, server.url)
            assert titles(b) == ["edited in b", "new in b"]
            assert run_python(b, "(await client.outbox.stats())['synced']") == 2
        finally:
            ctx_a.close()
            ctx_b.close()


def test_two_tabs_take_turns_to_sync(chromium: Any, site_server: Any, tmp_path: Path) -> None:
    origin = site_server.url("").split("/", 3)[:3]
    with ServerProcess(tmp_path, BLOG, tokens={"ta": "alice"}, cors_origin="/".join(origin)) as server:
        context = open_logged_context(chromium, ARTIFACTS / "browser" / "sync-tabs.log")
        try:
            tab1 = open_client_page(context, site_server, server.url)
            tab2 = open_client_page(context, site_server, server.url)
            # Tab 1 holds the sync lock (as it would during a long sync) until told to let go.
            tab1.evaluate("""() => new Promise(held => navigator.locks.request('pyidb-sync:syncdb',
                () => new Promise(release => { window.__release = release; held(); })))""")
            run_python(tab2, 'await client.post.create(data={"id": "t2", "owner": "alice", "title": "x"})')
            tab2.evaluate("""code => { window.__synced = false;
                window.pyidbTest.runPython(code).then(() => { window.__synced = true; }); }""",
                          "await worker.sync_once()")
            deadline = time.monotonic() + 30
            while not tab2.evaluate("""async () => (await navigator.locks.query()).pending
                                        .some(l => l.name === 'pyidb-sync:syncdb')"""):
                assert time.monotonic() < deadline, "tab 2 never asked for the sync lock"
                time.sleep(0.05)
            # Tab 2 waits for the lock: nothing of its round has reached the server.
            assert not tab2.evaluate("window.__synced")
            history = {"protocol": 1, "schema_version": 1, "model": "Post", "key": "t2"}
            assert server.post("/history", history, "ta").json()["versions"] == []
            tab1.evaluate("() => window.__release()")
            tab2.wait_for_function("window.__synced", timeout=30_000)
            assert len(server.post("/history", history, "ta").json()["versions"]) == 1
        finally:
            context.close()
