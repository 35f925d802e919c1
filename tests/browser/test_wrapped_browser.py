"""pyidb.wrap on Chromium's real IndexedDB: a pass-through wrapper keeps the transaction
lifetime of the bare browser backend (every result is delivered inside the IDB success event).

The readonly cursor serves moves from a read-ahead page (pyidb/browser/cursor.py): such a move is
complete at once, and a wrapper that mapped it on a later loop turn let the transaction commit
before the code after ``await`` ran.
"""

from __future__ import annotations

from typing import Any

from .test_browser_idb import py

WALK_THEN_REUSE = """
wf = pyidb.wrap(f, lambda op, proceed: proceed(op))
wdb = await wf.open(name)
async with wdb.transaction("notes", "readwrite") as tx:
    await tx.object_store("notes").put_many([{"tag": "t%d" % (i % 3)} for i in range(20)])
out = []
for mode in ("readonly", "readwrite"):
    async with wdb.transaction("notes", mode) as tx:
        keys = [c.key async for c in tx.object_store("notes").open_cursor()]
        # the same transaction, after the walk: still active
        out.append(await tx.object_store("notes").count())
        keys2 = [c.primary_key async for c in tx.object_store("notes").index("tag").open_cursor()]
        out.append(await tx.object_store("notes").index("tag").count("t1"))
        cursor = await tx.object_store("notes").open_cursor()
        cursor = await cursor.continue_()
        cursor = await cursor.advance(2)
        out.append(cursor.key)
        out.append(await tx.object_store("notes").get(1) == {"id": 1, "tag": "t0"})
        out.append([len(keys), len(keys2)])
wdb.close()
out
"""


def test_wrapped_cursor_walk_keeps_the_transaction_active(shared_pyodide_page: Any) -> None:
    """After ``async for`` / awaited moves through a wrapped cursor, the same transaction takes
    more requests (object_store and index), in readonly (served moves) and readwrite."""
    got = py(shared_pyodide_page, WALK_THEN_REUSE, prefix="wrapped")
    assert got == [20, 7, 4, True, [20, 20]] * 2
