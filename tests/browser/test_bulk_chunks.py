"""Big put_many/add_many go to the shim in chunks of 1,000 records (pyidb/browser/store.py):
still one request with every key in order, all or nothing."""

from __future__ import annotations

from typing import Any

from .test_browser_idb import py


def test_chunked_batches_are_one_request_all_or_nothing(shared_pyodide_page: Any) -> None:
    got = py(shared_pyodide_page, """
out = []
async with db.transaction(["s", "notes"], "readwrite") as tx:
    keys = await tx.object_store("s").put_many([b"v%d" % i for i in range(2500)],
                                                [2500 - i for i in range(2500)])
    out.append(keys == [2500 - i for i in range(2500)])
    generated = await tx.object_store("notes").add_many([{"tag": i % 3} for i in range(2001)])
    out.append(generated == list(range(1, 2002)))
out.append(await db.count("s"))
out.append(await db.get("s", 1) == b"v2499")
out.append(await db.count("notes"))
try:
    async with db.transaction("notes", "readwrite") as tx:
        # record 2,500 of the batch (in its third chunk) has a key that exists: ConstraintError
        await tx.object_store("notes").add_many([{"id": 5000 + i, "tag": 0} for i in range(2499)]
                                                + [{"id": 7, "tag": 0}])
except pyidb.ConstraintError:
    out.append("ConstraintError")
out.append(await db.count("notes"))
try:  # a bad record anywhere raises at the call, before any chunk is sent
    async with db.transaction("notes", "readwrite") as tx:
        store = tx.object_store("notes")
        store.put_many([{"id": i} for i in range(1500)] + [{"id": None}])
except pyidb.DataError:
    out.append("DataError")
out.append(await db.count("notes"))
out
""")
    assert got == [True, True, 2500, True, 2001, "ConstraintError", 2001, "DataError", 2001]
