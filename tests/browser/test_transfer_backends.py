"""A whole-database export made in Chromium (real IndexedDB) imports into SQLite on the host, from
there into memory, and back into Chromium, with the same export text at every step."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from runners.fixtures import run_python

import pyidb

MAKE_AND_EXPORT = """
import io, math, datetime, random
import pyidb

name = f"transfer-{random.randrange(1 << 30):x}"

def up(db, old, new, tx):
    db.create_object_store("kv")
    notes = db.create_object_store("notes", key_path="id", auto_increment=True)
    notes.create_index("by_tag", "tags", multi_entry=True)
    notes.create_index("by_title", "title", unique=True)

db = await pyidb.open(name, 4, upgrade=up)
async with db.transaction(["kv", "notes"], "readwrite") as tx:
    kv = tx.object_store("kv")
    await kv.put_many(
        [b"\\x00\\xff", datetime.datetime(2021, 3, 4, 5, 6, 7, 891000, tzinfo=datetime.UTC),
         2**64, -(10**30), math.nan, -math.inf, "lone \\ud83d", {"b": 1, "1": 2, "$t": 3},
         [1.5, None, True]],
        [1, 2.5, "s", b"k", datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC), [1, "a"],
         "\\u00e9", -7, [[]]])
    notes = tx.object_store("notes")
    await notes.add_many([{"title": f"t{i}", "tags": ["x", f"y{i % 4}"], "blob": bytes([i % 256])}
                          for i in range(1500)])
    await notes.delete(pyidb.KeyRange.lower_bound(1400))  # generator stays at 1501
out = io.StringIO()
await pyidb.export_database(db, out)
db.close()
[name, out.getvalue()]
"""

IMPORT_AND_EXPORT = """
import io
import pyidb
db = await pyidb.import_database(pyidb.factory("browser"), NAME, io.StringIO(TEXT), overwrite=True)
out = io.StringIO()
await pyidb.export_database(db, out)
added = await db.add("notes", {"title": "new", "tags": []})
db.close()
await pyidb.delete_database(NAME)
[out.getvalue(), added]
"""


async def _through(url: str, name: str, text: str) -> str:
    db = await pyidb.import_database(pyidb.factory(url), name, io.StringIO(text))
    out = io.StringIO()
    await pyidb.export_database(db, out)
    db.close()
    return out.getvalue()


def _run(url: str, name: str, text: str) -> str:
    # playwright's sync API keeps an event loop running in this thread: run ours in another one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _through(url, name, text)).result()


def test_chromium_sqlite_memory_chromium_identical(shared_pyodide_page: Any,
                                                   tmp_path: Path) -> None:
    name, exported = run_python(shared_pyodide_page, MAKE_AND_EXPORT)
    assert exported.count("\n") == 2 + 9 + 1399
    via_sqlite = _run(f"sqlite:///{tmp_path / 'copy.db'}", name, exported)
    assert via_sqlite == exported
    via_memory = _run("memory:", name, via_sqlite)
    assert via_memory == exported
    code = IMPORT_AND_EXPORT.replace("NAME", repr(name)).replace("TEXT", repr(via_memory))
    back, added = run_python(shared_pyodide_page, code)
    assert back == exported
    assert added == 1501  # the key generator came back too, not the largest key + 1
