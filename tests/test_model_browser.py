"""Live queries across browser tabs: a write in one page wakes a watch() in another page of the
same origin (BroadcastChannel), on Chromium's real IndexedDB."""

from __future__ import annotations

from typing import Any

from runners.fixtures import (  # noqa: F401  (fixtures are used by name)
    browser_context,
    built_site,
    chromium,
    open_pyodide_page,
    run_python,
    site_server,
)

OPEN = '''
import asyncio, json, pyidb, js
from pyidb.model import Client, Schema
schema = Schema.from_prisma("model Task {\\n  id Int @id @default(autoincrement())\\n  title String\\n}")
client = await Client.open("tabs", schema, factory=pyidb.factory("browser"))
'''

WATCH = OPEN + '''
seen = []
async def watch():
    async for rows in client.task.watch(order={"id": "asc"}):
        seen.append([r["title"] for r in rows])
        js.window.__seen = json.dumps(seen)
_task = asyncio.ensure_future(watch())
'''


def test_a_write_in_another_tab_wakes_the_watcher(browser_context: Any, site_server: Any) -> None:  # noqa: F811
    watcher = open_pyodide_page(browser_context, site_server)
    writer = open_pyodide_page(browser_context, site_server)
    run_python(watcher, WATCH)
    watcher.wait_for_function("window.__seen && JSON.parse(window.__seen).length >= 1",
                              timeout=30_000)
    run_python(writer, OPEN + 'await client.task.create(data={"title": "from the other tab"})\n1')
    watcher.wait_for_function("JSON.parse(window.__seen).length >= 2", timeout=30_000)
    assert run_python(watcher, "json.dumps(seen)") == '[[], ["from the other tab"]]'
    stop = "_task.cancel()\ntry:\n    await _task\nexcept asyncio.CancelledError:\n    pass\n"
    assert run_python(watcher, stop + "len(client.hub.watchers)") == 0
