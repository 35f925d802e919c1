"""The five pyidb workloads, timed the same way on every backend (CPython, Pyodide in Node, Chromium).

Standard library + pyidb only: this file is also copied into Pyodide's file system by the Node
and Chromium drivers. One *run* opens a fresh database and times, in order::

    write       put_many of N records in one readwrite transaction (until committed)
    get_put     1,000 sequential awaited get + put pairs in one readwrite transaction
    get_all     store.get_all() of all N records
    cursor      ``async for`` over a cursor on all N records (reading each value)
    index_range index("by_n").get_all(KeyRange.bound(...)) returning 1,000 records

>>> times = await run_once(pyidb.factory("memory:"), "bench-1", 10_000)   # {"write": 0.21, ...} s
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyidb

STORE = "tasks"
INDEX = "by_n"
LOOP = 1_000  # get+put pairs
RANGE = 1_000  # records the index range query returns
WORKLOADS = ("write", "get_put", "get_all", "cursor", "index_range")


def record(i: int) -> dict[str, Any]:
    """The benchmark record: ``{"id", "title", "tags": [3 str], "done", "n": float}``."""
    return {"id": i, "title": f"task {i}", "tags": [f"t{i % 7}", f"t{i % 11}", f"t{i % 13}"],
            "done": i % 2 == 0, "n": i * 0.5 + 0.25}


async def settle() -> None:
    """One loop turn, so that work the last step left behind (frees of its temporary copies
    while the engine's request step unwinds) is timed with that step, not the next one."""
    await asyncio.sleep(0)


def records(n: int) -> list[dict[str, Any]]:
    return [record(i) for i in range(n)]


def loop_keys(n: int, count: int = LOOP) -> list[int]:
    """``count`` keys spread over the store (a fixed stride, the same on every backend)."""
    count = min(count, n)
    step = max(1, n // count)
    return [(i * step) % n for i in range(count)]


def range_bounds(n: int, count: int = RANGE) -> tuple[float, float]:
    """``(lo, hi)`` of ``n`` values selecting ``count`` records from the middle of the store."""
    count = min(count, n)
    first = (n - count) // 2
    return record(first)["n"], record(first + count - 1)["n"]


def upgrade(db: Any, old: int, new: int, tx: Any) -> None:
    store = db.create_object_store(STORE, key_path="id")
    store.create_index(INDEX, "n")


async def run_once(factory: Any, name: str, n: int, data: list[dict[str, Any]] | None = None,
                   mark: Any = None) -> dict[str, float]:
    """Time the five workloads on a fresh database ``name`` of ``n`` records; seconds each.

    ``mark(workload, starting)``, if given, is called around each workload (the Chromium
    profiler uses it to cut one CPU profile per workload).
    """
    if mark is None:
        def mark(workload: str, starting: bool) -> None:
            return None
    data = records(n) if data is None else data
    keys = loop_keys(n)
    lo, hi = range_bounds(n)
    expected_range = min(RANGE, n)
    out: dict[str, float] = {}
    db = await factory.open(name, 1, upgrade=upgrade)
    try:
        mark("write", True)
        t = time.perf_counter()
        async with db.transaction(STORE, "readwrite") as tx:
            await tx.object_store(STORE).put_many(data)
        await settle()
        out["write"] = time.perf_counter() - t
        mark("write", False)

        mark("get_put", True)
        t = time.perf_counter()
        async with db.transaction(STORE, "readwrite") as tx:
            store = tx.object_store(STORE)
            for k in keys:
                value = await store.get(k)
                value["done"] = not value["done"]
                await store.put(value)
        await settle()
        out["get_put"] = time.perf_counter() - t
        mark("get_put", False)

        mark("get_all", True)
        t = time.perf_counter()
        async with db.transaction(STORE) as tx:
            got = await tx.object_store(STORE).get_all()
        await settle()
        out["get_all"] = time.perf_counter() - t
        mark("get_all", False)
        check(len(got) == n, f"get_all gave {len(got)} records, not {n}")

        mark("cursor", True)
        t = time.perf_counter()
        seen = 0
        async with db.transaction(STORE) as tx:
            async for cursor in tx.object_store(STORE).open_cursor():
                seen += cursor.value["id"] >= 0
        await settle()
        out["cursor"] = time.perf_counter() - t
        mark("cursor", False)
        check(seen == n, f"the cursor walked {seen} records, not {n}")

        mark("index_range", True)
        t = time.perf_counter()
        async with db.transaction(STORE) as tx:
            index = tx.object_store(STORE).index(INDEX)
            ranged = await index.get_all(pyidb.KeyRange.bound(lo, hi))
        await settle()
        out["index_range"] = time.perf_counter() - t
        mark("index_range", False)
        check(len(ranged) == expected_range,
              f"the index range gave {len(ranged)} records, not {expected_range}")
    finally:
        db.close()
    return out


RECORD_WORKLOADS = ("get_all_records", "get_all+keys")
"""Chromium only (raw JS vs pyidb): all N records with their keys, as one get_all_records, and as
get_all + get_all_keys (two requests in one transaction), the way to get them without it."""


async def records_once(factory: Any, name: str, n: int,
                       data: list[dict[str, Any]] | None = None) -> dict[str, float]:
    """Time the :data:`RECORD_WORKLOADS` on a fresh database ``name`` of ``n`` records; seconds."""
    data = records(n) if data is None else data
    out: dict[str, float] = {}
    db = await factory.open(name, 1, upgrade=upgrade)
    try:
        async with db.transaction(STORE, "readwrite") as tx:
            await tx.object_store(STORE).put_many(data)
        # an untimed read first: the first read after a big write is slower in Chromium, and
        # neither timed workload should be the one that pays for it
        await db.get_all_keys(STORE)
        await settle()
        t = time.perf_counter()
        async with db.transaction(STORE) as tx:
            got = await tx.object_store(STORE).get_all_records()
        await settle()
        out["get_all_records"] = time.perf_counter() - t
        check(len(got) == n and got[-1].primary_key == n - 1 and got[-1].value == data[-1],
              f"get_all_records gave {len(got)} records, not {n}")

        t = time.perf_counter()
        async with db.transaction(STORE) as tx:
            store = tx.object_store(STORE)
            keys_request = store.get_all_keys()
            values = await store.get_all()
            keys = await keys_request
        await settle()
        out["get_all+keys"] = time.perf_counter() - t
        check(len(keys) == len(values) == n, f"get_all + get_all_keys gave {len(keys)} records")
    finally:
        db.close()
    return out


def check(ok: bool, message: str) -> None:
    """A wrong answer is a crash, not a slow result (quick mode must fail on it)."""
    if not ok:
        raise AssertionError(message)


async def run_many(factory_for_run: Any, n: int, runs: int, prefix: str = "bench",
                   delete: bool = True) -> dict[str, list[float]]:
    """``runs`` fresh-database runs; ``factory_for_run(i)`` gives run i's factory."""
    data = records(n)
    times: dict[str, list[float]] = {w: [] for w in WORKLOADS}
    for i in range(runs):
        factory = factory_for_run(i)
        name = f"{prefix}-{n}-{i}"
        one = await run_once(factory, name, n, data)
        for w, s in one.items():
            times[w].append(s)
        if delete:
            await factory.delete_database(name)
    return times


async def per_op_costs(factory: Any, n: int, ops: int = 1_000, repeats: int = 5
                       ) -> dict[str, float]:
    """Seconds per awaited get, put (overwrite) and seek (cursor at a lower bound) at size n:
    the median of ``repeats`` loops of ``ops`` operations each."""
    name = f"growth-{n}"
    db = await factory.open(name, 1, upgrade=upgrade)
    chunk = 50_000
    for start in range(0, n, chunk):
        async with db.transaction(STORE, "readwrite") as tx:
            await tx.object_store(STORE).put_many(
                [record(i) for i in range(start, min(n, start + chunk))])
    # A multiplicative stride visits keys all over the tree, not neighbours.
    keys = [(i * 7919 + 13) % n for i in range(ops)]
    # Untimed: the first loop turns after a big fill pay one-off frees of the fill's temporaries.
    async with db.transaction(STORE) as tx:
        store = tx.object_store(STORE)
        for k in keys:
            await store.get((k + 1) % n)
    await settle()
    samples: dict[str, list[float]] = {"get": [], "put": [], "seek": []}
    for _ in range(repeats):
        t = time.perf_counter()
        async with db.transaction(STORE) as tx:
            store = tx.object_store(STORE)
            for k in keys:
                await store.get(k)
        await settle()
        samples["get"].append((time.perf_counter() - t) / ops)
        t = time.perf_counter()
        async with db.transaction(STORE, "readwrite") as tx:
            store = tx.object_store(STORE)
            for k in keys:
                await store.put(record(k))
        await settle()
        samples["put"].append((time.perf_counter() - t) / ops)
        t = time.perf_counter()
        async with db.transaction(STORE) as tx:
            store = tx.object_store(STORE)
            for k in keys:
                cursor = await store.open_cursor(pyidb.KeyRange.lower_bound(k + 0.5))
                check(cursor is None or cursor.key > k, "seek went backwards")
        await settle()
        samples["seek"].append((time.perf_counter() - t) / ops)
    out = {op: sorted(v)[len(v) // 2] for op, v in samples.items()}
    db.close()
    await factory.delete_database(name)
    return out
