"""Readonly cursors read ahead in pages (pyidb/browser/cursor.py): the same records, errors and
transaction lifetime as a cursor that moves the IDBCursor once per step (readwrite).

The readwrite walk is the reference: there every move is a real IDBCursor move on Chromium.
"""

from __future__ import annotations

from typing import Any

from .test_browser_idb import py

WALKS = """
import random
from pyidb import KeyRange
async with db.transaction("notes", "readwrite") as tx:
    store = tx.object_store("notes")
    await store.put_many([{"id": i, "tag": "t%02d" % (i % 37)} for i in range(600)])


async def walk(mode, on_index, direction, seed):
    rnd = random.Random(seed)
    out, biggest = [], 0
    async with db.transaction("notes", mode) as tx:
        store = tx.object_store("notes")
        source = store.index("tag") if on_index else store
        cursor = await source.open_cursor(KeyRange.bound("t03", "t33") if on_index else None,
                                          direction)
        while cursor is not None:
            biggest = max(biggest, len(cursor._page))
            out.append((cursor.key, cursor.primary_key, cursor.value["id"]))
            pick = rnd.random()
            try:
                if pick < 0.85:
                    move = cursor.continue_()
                elif pick < 0.9:
                    move = cursor.advance(rnd.choice([1, 2, 5, 40, 200]))
                elif pick < 0.96:
                    if on_index:
                        k = "t%02d" % rnd.randrange(0, 40)
                    else:
                        k = rnd.randrange(0, 620)
                    move = cursor.continue_(k)
                else:
                    k = "t%02d" % rnd.randrange(0, 40) if on_index else rnd.randrange(600)
                    move = cursor.continue_primary_key(k, rnd.randrange(620))
            except pyidb.Error as e:
                out.append(e.name)
                move = cursor.continue_()
            cursor = await move
    return out, biggest

results = []
for on_index in (False, True):
    for direction in ("next", "nextunique", "prev", "prevunique"):
        for seed in range(3):
            ro, biggest = await walk("readonly", on_index, direction, seed)
            rw, _ = await walk("readwrite", on_index, direction, seed)
            results.append([on_index, direction, seed, ro == rw, len(ro), biggest,
                            sorted({x for x in ro if isinstance(x, str)})])
results
"""


def test_readonly_pages_give_the_step_by_step_walk(shared_pyodide_page: Any) -> None:
    """Random continue_/advance/continue_(key)/continue_primary_key sequences in the four
    directions on a store and on an index with duplicate keys: readonly == readwrite."""
    results = py(shared_pyodide_page, WALKS)
    assert len(results) == 24
    for on_index, direction, seed, same, steps, _biggest, _errors in results:
        assert same, (on_index, direction, seed)
        assert steps >= 2, (on_index, direction, seed)
    assert sum(r[4] for r in results) > 500
    # the readonly walks were served from pages of many records, not one record per step
    assert max(r[5] for r in results) > 100
    # the sequences hit the errors (backwards keys, continue_primary_key on a store or unique)
    names = {n for r in results for n in r[6]}
    assert {"DataError", "InvalidAccessError"} <= names


def test_served_moves_keep_the_transaction_lifetime(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
async with db.transaction("s", "readwrite") as tx:
    await tx.object_store("s").put_many(list(range(100)), list(range(100)))
out = []
tx = db.transaction("s")
cursor = await tx.object_store("s").open_cursor()
cursor = await cursor.continue_()
out.append(len(cursor._page) > 3)  # the next records are in the page
moving = cursor.continue_()
try:
    cursor.continue_()
except pyidb.InvalidStateError:
    out.append("twice: InvalidStateError")
out.append(cursor.key)  # the move is not seen before it is awaited
out.append((await moving).key)
await asyncio.sleep(0)  # not the transaction's own request: it commits
try:
    cursor.continue_()
except pyidb.TransactionInactiveError:
    out.append("after sleep: TransactionInactiveError")
await tx.done

async with db.transaction("s") as tx:
    cursor = await tx.object_store("s").open_cursor()
    tx.commit()
    try:
        cursor.continue_()
    except pyidb.TransactionInactiveError:
        out.append("after commit: TransactionInactiveError")
async with db.transaction("s") as tx:
    cursor = await tx.object_store("s").open_cursor()
    await tx.object_store("s").get(5)  # another request's event: still active
    out.append((await cursor.advance(3)).key)
out
""")
    assert got == [True, "twice: InvalidStateError", 1, 2, "after sleep: TransactionInactiveError",
                   "after commit: TransactionInactiveError", 3]


def test_a_record_python_cannot_hold_fails_its_own_step(shared_pyodide_page: Any) -> None:
    """A Map other JS code stored in the middle of a page: that step raises DataCloneError and
    the walk goes on after it, in readonly (paged) as in readwrite (step by step)."""
    got = py(shared_pyodide_page, """
import pyodide.code
async with db.transaction("s", "readwrite") as tx:
    await tx.object_store("s").put_many(list(range(60)), list(range(60)))
db.close()
put_map = pyodide.code.run_js('''(name) => new Promise((resolve, reject) => {
  const r = indexedDB.open(name);
  r.onerror = () => reject(r.error);
  r.onsuccess = () => {
    const conn = r.result, tx = conn.transaction("s", "readwrite");
    tx.objectStore("s").put(new Map([[1, 2]]), 25);
    tx.oncomplete = () => { conn.close(); resolve("ok"); };
  };
})''')
await put_map(name)
db = await f.open(name)
out = {}
for mode in ("readonly", "readwrite"):
    for jump in (False, True):
        seen = []
        async with db.transaction("s", mode) as tx:
            cursor = await tx.object_store("s").open_cursor()
            while cursor is not None:
                seen.append(cursor.value)
                try:
                    if jump and cursor.key == 20:
                        cursor = await cursor.advance(10)
                    else:
                        cursor = await cursor.continue_()
                except pyidb.DataCloneError:
                    seen.append("DataCloneError")
                    cursor = await cursor.continue_()
        out[f"{mode} {jump}"] = seen
out
""")
    full = [*range(25), "DataCloneError", *range(26, 60)]
    jumped = list(range(21)) + list(range(30, 60))
    assert got == {"readonly False": full, "readwrite False": full,
                   "readonly True": jumped, "readwrite True": jumped}
