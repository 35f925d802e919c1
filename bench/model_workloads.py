"""pyidb.model benchmarks, pure Python over the public API: the same code runs on CPython and in
Chromium's Pyodide (bench/model_bench.py sends this file to the page).

Each measure is the model client against the hand-written raw pyidb calls doing the same work:
``find_eq``/``find_range`` (``take=20`` on an indexed equality / range, ``queries`` queries),
``create_many`` (vs ``put_many`` of the stored records, in a database of its own), and
``order_take`` (``order`` + ``take=20`` on an indexed field; raw: a ``prev`` cursor over the index,
stopped after 20) on a table and on one a tenth its size: its cost must not grow with the table.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pyidb
from pyidb.model import Client, Schema

SCHEMA = """
model Item {
  id    Int     @id
  cat   Int
  n     Int
  title String
  done  Boolean
  @@index([cat])
  @@index([n])
}
"""


def records(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "cat": i % 100, "n": (i * 7919) % n, "title": f"item {i}", "done": i % 2 == 0}
            for i in range(n)]


async def _timed(fn: Any) -> float:
    t = time.perf_counter()
    await fn()
    return (time.perf_counter() - t) * 1000


async def measure(factory: Any, n: int, create_n: int, runs: int, queries: int) -> dict[str, Any]:
    """``{"impl|workload": [ms per run]}`` for the four workloads."""
    out: dict[str, list[float]] = {}

    def add(impl: str, workload: str, ms: float) -> None:
        out.setdefault(f"{impl}|{workload}", []).append(ms)

    tag = f"{random.randrange(1 << 30):x}"
    schema = Schema.from_prisma(SCHEMA)
    writes = await Client.open(f"model-bench-writes-{tag}", schema, factory=factory)
    big = await Client.open(f"model-bench-{n}-{tag}", schema, factory=factory)
    small = await Client.open(f"model-bench-{n // 10}-{tag}", schema, factory=factory)
    db = big.db
    try:
        batch = records(create_n)
        raw_batch = [{**r, "done": int(r["done"])} for r in batch]  # what a raw user would store
        for _ in range(runs):
            await writes.db.clear("Item")
            add("pyidb.model", "create_many",
                await _timed(lambda: writes.item.create_many(data=batch)))
            await writes.db.clear("Item")

            async def raw_put() -> None:
                async with writes.db.transaction("Item", "readwrite") as tx:
                    await tx.object_store("Item").put_many(raw_batch)

            add("raw pyidb", "create_many", await _timed(raw_put))
        await big.item.create_many(data=records(n))
        await small.item.create_many(data=records(n // 10))
        width = max(1, n // 10)

        async def model_eq() -> None:
            for q in range(queries):
                await big.item.find_many(where={"cat": q % 100}, take=20)

        async def raw_eq() -> None:
            for q in range(queries):
                await db.transaction("Item").object_store("Item").index("index(cat)").get_all(
                    q % 100, 20)

        async def model_range() -> None:
            for q in range(queries):
                lo = (q * 37) % n
                await big.item.find_many(where={"n": {"gte": lo, "lt": lo + width}},
                                         order={"n": "asc"}, take=20)

        async def raw_range() -> None:
            for q in range(queries):
                lo = (q * 37) % n
                await db.transaction("Item").object_store("Item").index("index(n)").get_all(
                    pyidb.KeyRange.bound(lo, lo + width, False, True), 20)

        async def order_take(client: Client) -> None:
            for _ in range(queries):
                await client.item.find_many(order={"n": "desc"}, take=20)

        async def raw_order_take(client: Client) -> None:
            for _ in range(queries):
                index = client.db.transaction("Item").object_store("Item").index("index(n)")
                rows = []
                async for cursor in index.open_cursor(None, "prev"):
                    rows.append(cursor.value)
                    if len(rows) == 20:
                        break

        for _ in range(runs):
            add("pyidb.model", "find_eq", await _timed(model_eq))
            add("raw pyidb", "find_eq", await _timed(raw_eq))
            add("pyidb.model", "find_range", await _timed(model_range))
            add("raw pyidb", "find_range", await _timed(raw_range))
            # Alternate raw and model, big and small, so that background work (a store
            # compacting after the bulk load) falls on each alike.
            add("raw pyidb", "order_take", await _timed(lambda: raw_order_take(big)))
            add("pyidb.model", "order_take", await _timed(lambda: order_take(big)))
            add("raw pyidb (table/10)", "order_take", await _timed(lambda: raw_order_take(small)))
            add("pyidb.model (table/10)", "order_take", await _timed(lambda: order_take(small)))
        # The answers must be right, or the timings mean nothing.
        rows = await big.item.find_many(where={"cat": 7}, take=20)
        assert [r["id"] for r in rows] == list(range(7, 7 + 100 * 20, 100))[:len(rows)]
        top = await big.item.find_many(order={"n": "desc"}, take=3)
        assert [r["n"] for r in top] == [n - 1, n - 2, n - 3]
    finally:
        for client in (writes, big, small):
            client.close()
            await factory.delete_database(client.db.name)
    return out
