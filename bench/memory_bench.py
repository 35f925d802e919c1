"""Memory per record of the ``memory:`` engine vs the records' own JSON text (issue 15).

What it measures: the bytes Python holds (``tracemalloc``, after a full collection) for a
database of ``n`` benchmark records filled with ``put_many`` in chunks, over ``n``; the caller's
record lists are freed first, so only what the engine keeps is counted (stored values, keys,
index entries, the sorted containers around them)::

    out = memory_per_record(1_000_000)   # {"engine": 310.2, "json": 83.9, "ratio": 3.7} bytes/record
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from typing import Any

import pyidb

from . import workloads as w

CHUNK = 50_000


async def _fill(n: int) -> Any:
    factory = pyidb.factory("memory:")
    db = await factory.open("memory-per-record", 1, upgrade=w.upgrade)
    for start in range(0, n, CHUNK):
        async with db.transaction(w.STORE, "readwrite") as tx:
            await tx.object_store(w.STORE).put_many(
                [w.record(i) for i in range(start, min(n, start + CHUNK))])
        await w.settle()
    return factory, db


def json_bytes(n: int) -> int:
    """UTF-8 bytes of the ``n`` records as compact JSON (the size a user thinks their data is)."""
    return sum(len(json.dumps(w.record(i), separators=(",", ":")).encode()) for i in range(n))


def memory_per_record(n: int) -> dict[str, float]:
    """Bytes per record held by the engine, the records' JSON bytes per record, and the ratio."""
    holder: list[Any] = []

    async def main() -> None:
        holder.extend(await _fill(n))

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(main())  # the loop and its temporaries are gone when this returns
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    _factory, db = holder
    check_count = asyncio.run(_count(db))
    w.check(check_count == n, f"the database holds {check_count} records, not {n}")
    db.close()
    engine = held / n
    per_json = json_bytes(n) / n
    return {"engine": engine, "json": per_json, "ratio": engine / per_json}


async def _count(db: Any) -> int:
    async with db.transaction(w.STORE) as tx:
        return int(await tx.object_store(w.STORE).count())
