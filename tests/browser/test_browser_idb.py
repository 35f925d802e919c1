"""pyidb.factory("browser") on Chromium's real IndexedDB: what only a real browser can prove.

Each test runs Python inside Pyodide in a Chromium page (tests/runners fixtures: ./build.sh makes
the wheel and the staged site) and asserts on what that Python returns.
"""

from __future__ import annotations

from typing import Any

import pytest
from runners.fixtures import open_pyodide_page, run_python

OPEN = """
import asyncio, pyidb, random, time
from pyidb.browser import shim
f = pyidb.factory("browser")
name = "{prefix}-%x" % random.randrange(1 << 30)
def up(db, old, new, tx):
    db.create_object_store("s")
    db.create_object_store("notes", key_path="id", auto_increment=True).create_index("tag", "tag")
db = await f.open(name, 1, upgrade=up)
"""


def py(page: Any, code: str, prefix: str = "t") -> Any:
    return run_python(page, OPEN.format(prefix=prefix) + code)


def test_factory_is_the_browser(shared_pyodide_page: Any) -> None:
    got = run_python(shared_pyodide_page, """
import pyidb, pyidb.browser
[pyidb.browser.is_available(), type(pyidb.factory("browser")).__name__,
 type(pyidb.default_factory()).__name__]
""")
    assert got == [True, "BrowserFactory", "BrowserFactory"]


def test_read_modify_write_1000_pairs_in_one_transaction(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
t0 = time.perf_counter()
async with db.transaction("s", "readwrite") as tx:
    store = tx.object_store("s")
    for _ in range(1000):
        v = await store.get("counter")
        await store.put((v or 0) + 1, "counter")
ms = (time.perf_counter() - t0) * 1000
[await db.get("s", "counter"), ms]
""")
    counter, ms = got
    print(f"1000 get+put pairs: {ms:.0f} ms ({ms / 1000:.3f} ms per pair)")
    assert counter == 1000


def test_plain_asyncio_await_lets_the_transaction_commit(shared_pyodide_page: Any) -> None:
    """The lifetime rule: awaiting anything but the transaction's own requests ends it."""
    got = py(shared_pyodide_page, """
out = []
for pause in ("sleep", "future"):
    tx = db.transaction("s", "readwrite")
    store = tx.object_store("s")
    await store.put(1, "k")
    if pause == "sleep":
        await asyncio.sleep(0)
    else:
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_result, None)
        await fut
    try:
        store.put(2, "k")
        out.append("no error")
    except pyidb.TransactionInactiveError:
        out.append("inactive")
out + [await db.get("s", "k")]
""")
    assert got == ["inactive", "inactive", 1]


def test_cursor_iteration_with_update_and_delete(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
async with db.transaction("s", "readwrite") as tx:
    store = tx.object_store("s")
    for i in range(10):
        store.put({"n": i}, i)
    seen = []
    async for cursor in store.open_cursor(pyidb.KeyRange.bound(2, 7)):
        seen.append(cursor.key)
        if cursor.key % 2:
            await cursor.delete()
        else:
            value = cursor.value
            value["n"] *= 100
            assert await cursor.update(value) == cursor.key
    back = []
    async for cursor in store.open_cursor(None, "prev"):
        back.append((cursor.key, cursor.value["n"]))
    keys = []
    cursor = await store.open_key_cursor()
    while cursor:
        keys.append(cursor.primary_key)
        cursor = await cursor.advance(2)
[seen, back, keys]
""")
    seen, back, keys = got
    assert seen == [2, 3, 4, 5, 6, 7]
    assert [tuple(x) for x in back] == [(9, 9), (8, 8), (6, 600), (4, 400), (2, 200), (1, 1), (0, 0)]
    assert keys == [0, 2, 6, 9]


def test_abort_rolls_back(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
await db.put("s", "before", "k")
class Boom(Exception):
    pass
try:
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put("during", "k")
        raise Boom()
except Boom:
    pass
first = await db.get("s", "k")
async with db.transaction("s", "readwrite") as tx:
    tx.object_store("s").put("explicit", "k")
    tx.abort()
[first, await db.get("s", "k"), type(tx.error).__name__]
""")
    assert got == ["before", "before", "NoneType"]


def test_request_errors_abort_only_when_unhandled(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
await db.put("s", 1, "dup")
async with db.transaction("s", "readwrite") as tx:
    store = tx.object_store("s")
    try:
        await store.add(2, "dup")
    except pyidb.ConstraintError:
        pass  # handled: the transaction goes on and commits
    await store.put(3, "after")
handled = await db.get("s", "after")
try:
    async with db.transaction("s", "readwrite") as tx:
        store = tx.object_store("s")
        await store.put(4, "lost")
        await store.add(5, "dup")  # unhandled: the transaction aborts
    escaped = None
except pyidb.ConstraintError as e:
    escaped = e.name
[handled, escaped, await db.get("s", "lost"), type(tx.error).__name__]
""")
    # The request's error escaped the block: the browser aborts with it, so tx.error says why.
    assert got == [3, "ConstraintError", None, "ConstraintError"]


def test_batches_cross_once_and_fail_as_a_whole(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
async with db.transaction("notes", "readwrite") as tx:
    store = tx.object_store("notes")
    keys = await store.add_many([{"tag": "t", "i": i, "b": bytes([i % 256])} for i in range(500)])
    some = await store.get_many([1, 250, 9999])
    await store.delete_many([1, pyidb.KeyRange.bound(10, 19)])
    count = await store.count()
    empty = await store.put_many([])
try:
    async with db.transaction("notes", "readwrite") as tx:
        store = tx.object_store("notes")
        await store.put({"id": 1, "tag": "new"})
        await store.add_many([{"id": 600}, {"id": 2}, {"id": 601}])  # 2 exists
except pyidb.ConstraintError:
    pass
[keys[:3], len(keys), some[0] == {"tag": "t", "i": 0, "b": b"\\x00", "id": 1}, some[1]["i"],
 some[2], count, empty, await db.count("notes"), await db.get("notes", 1), await db.get("notes", 600)]
""")
    keys3, n, first_ok, i250, missing, count, empty, after, one, six = got
    assert keys3 == [1, 2, 3] and n == 500
    assert first_ok and i250 == 249 and missing is None
    assert count == 489 and empty == []
    assert after == 489 and one is None and six is None  # the failed batch left nothing


def test_upgrade_errors_abort_the_open(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
async def bad_upgrade(db2, old, new, tx):
    store = tx.object_store("s")
    await store.put("x", "from-upgrade")
    db2.create_object_store("extra")
    raise KeyError("oops")
db.close()
try:
    await f.open(name, 2, upgrade=bad_upgrade)
    raised = None
except KeyError as e:
    raised = str(e)
db = await f.open(name)
[raised, db.version, db.object_store_names, await db.get("s", "from-upgrade")]
""")
    assert got == ["'oops'", 1, ["notes", "s"], None]


def test_data_persists_across_a_reload(browser_context: Any, site_server: Any) -> None:
    page = open_pyodide_page(browser_context, site_server)
    name = py(page, """
await db.put("s", {"kept": [1, 2.5, "x", b"\\x01"]}, "k")
db.close()
name
""")
    page.reload()
    page.wait_for_function("window.__PYIDB_READY__ || window.__PYIDB_BOOT_ERROR__", timeout=120_000)
    got = run_python(page, f"""
import pyidb
f = pyidb.factory("browser")
db = await f.open({name!r})
[await db.get("s", "k") == {{"kept": [1, 2.5, "x", b"\\x01"]}}, db.version,
 {name!r} in [d["name"] for d in await f.databases()]]
""")
    assert got == [True, 1, True]


def test_versionchange_and_blocked_across_two_pages(browser_context: Any, site_server: Any) -> None:
    a = open_pyodide_page(browser_context, site_server)
    b = open_pyodide_page(browser_context, site_server)
    name = py(a, """
import sys, types
st = sys.modules.setdefault("_st", types.ModuleType("_st"))
st.events = []
st.db = db
db.on_versionchange = lambda conn, old, new: st.events.append(("versionchange", old, new))
name
""")
    run_python(b, f"""
import asyncio, sys, types, pyidb
st = sys.modules.setdefault("_st", types.ModuleType("_st"))
st.events = []
def blocked(old, new):
    st.events.append(("blocked", old, new))
st.task = asyncio.ensure_future(pyidb.factory("browser").open({name!r}, 2, blocked=blocked))
None
""")
    for _ in range(100):  # the upgrade waits while page A keeps its connection open
        if run_python(b, "len(st.events)"):
            break
        b.wait_for_timeout(50)
    assert run_python(b, "[list(e) for e in st.events] + [st.task.done()]") == [["blocked", 1, 2], False]
    assert run_python(a, "[list(e) for e in st.events]") == [["versionchange", 1, 2]]
    run_python(a, "st.db.close()")
    got = run_python(b, "db = await st.task\n[db.version, db.object_store_names]")
    assert got == [2, ["notes", "s"]]


def test_no_proxy_or_handle_leak_over_10000_operations(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
import gc, json, pyodide_js
def snapshot():
    gc.collect()
    return {"js_refs": pyodide_js._module._hiwire_num_refs(),
            "handlers": len(shim.handlers),
            "shim": json.loads(shim.js().stats()),
            "objects": len(gc.get_objects()),
            "wasm_bytes": pyodide_js._module.HEAP8.length}
async def work(rounds):
    for r in range(rounds):
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for i in range(500):
                await store.put({"i": i, "r": r, "text": "x" * 20}, i)
                assert (await store.get(i))["i"] == i
await work(2)  # warm up caches
before = snapshot()
await work(10)  # 10 x 500 put+get pairs = 10,000 requests
after = snapshot()
[before, after, shim.proxy_counts()]
""")
    before, after, proxies = got
    print("before", before, "after", after, "proxies", proxies)
    assert proxies == {"created": 1, "destroyed": 0}  # the one dispatcher, for the page's life
    assert after["js_refs"] - before["js_refs"] <= 2
    assert after["handlers"] == before["handlers"]
    assert after["shim"] == before["shim"]  # no connection/transaction/cursor left in JS tables
    assert after["objects"] - before["objects"] < 500
    assert after["wasm_bytes"] - before["wasm_bytes"] <= 16 * 2**20


@pytest.mark.parametrize("value", ["{1, 2}", "object()", "{'d': __import__('datetime').date.today()}"])
def test_unstorable_values_fail_before_anything_is_sent(shared_pyodide_page: Any, value: str) -> None:
    got = py(shared_pyodide_page, f"""
async with db.transaction("s", "readwrite") as tx:
    store = tx.object_store("s")
    try:
        store.put({value}, "k")
        err = None
    except pyidb.DataCloneError as e:
        err = e.name
    await store.put("ok", "k2")
[err, await db.get("s", "k"), await db.get("s", "k2")]
""")
    assert got == ["DataCloneError", None, "ok"]


def test_values_python_cannot_hold_fail_the_request_only(shared_pyodide_page: Any) -> None:
    """A Map stored by other JS code: reading it raises DataCloneError; caught, the tx goes on."""
    got = py(shared_pyodide_page, """
import pyodide.code
db.close()
put_map = pyodide.code.run_js('''(name) => new Promise((resolve, reject) => {
  const r = indexedDB.open(name);
  r.onerror = () => reject(r.error);
  r.onsuccess = () => {
    const conn = r.result, tx = conn.transaction("s", "readwrite");
    tx.objectStore("s").put(new Map([[1, 2]]), "map");
    tx.objectStore("s").put(new Uint8Array([7, 8]), "typed");
    tx.oncomplete = () => { conn.close(); resolve("ok"); };
  };
})''')
await put_map(name)
db = await f.open(name)
async with db.transaction("s") as tx:
    store = tx.object_store("s")
    try:
        await store.get("map")
        err = None
    except pyidb.DataCloneError as e:
        err = e.name
    typed = await store.get("typed")
[err, typed == b"\\x07\\x08", await db.count("s")]
""")
    assert got == ["DataCloneError", True, 2]


def test_shim_not_available_in_a_sandboxed_iframe(browser_context: Any, site_server: Any) -> None:
    """is_available() asks the shim; an opaque-origin iframe has no usable IndexedDB."""
    from pathlib import Path

    shim = (Path(__file__).resolve().parents[2] / "pyidb" / "browser" / "shim.js").read_text()
    make = "(function (codec) {\n" + shim + "\n})({})"
    page = browser_context.new_page()
    page.goto(site_server.url("tests/runners/browser_runner.html"))
    top = page.evaluate(f"(() => {make})().available()")
    script = f"<script>parent.postMessage(({make}).available(), '*')</script>"
    sandboxed = page.evaluate("""src => new Promise((resolve) => {
        window.addEventListener("message", (e) => resolve(e.data), { once: true });
        const frame = document.createElement("iframe");
        frame.sandbox = "allow-scripts";
        frame.srcdoc = src;
        document.body.append(frame);
    })""", script)
    assert (top, sandboxed) == (True, False)
