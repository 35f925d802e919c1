"""CPython benchmarks: pyidb's engine on ``memory:`` and ``sqlite:`` vs plain ``sqlite3``.

The sqlite3 baseline is what a user would write by hand for the same data, in the same file
settings as pyidb's SQLite storage (WAL, ``synchronous=FULL``, one ``BEGIN IMMEDIATE`` per
transaction): a ``records(id INTEGER PRIMARY KEY, value TEXT)`` table of JSON values plus a
``by_n(n, id)`` index table, the records and index rows written with ``executemany``.

>>> results = run_cpython(sizes=[10_000], runs=5, growth_sizes=(10_000, 1_000_000), tmp=Path("/tmp/x"))
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pyidb

from . import workloads as w

POINT_GETS = 1_000


# -- the plain sqlite3 baseline --------------------------------------------------------------

def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE records(id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE by_n(n REAL NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (n, id)) "
                 "WITHOUT ROWID")
    return conn


def sqlite3_run_once(path: Path, n: int, data: list[dict[str, Any]]) -> dict[str, float]:
    """The five workloads (plus ``point_get``) in plain sqlite3; seconds each."""
    keys = w.loop_keys(n)
    lo, hi = w.range_bounds(n)
    conn = _connect(path)
    out: dict[str, float] = {}
    dumps, loads = json.dumps, json.loads
    try:
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO records VALUES (?, ?)", [(r["id"], dumps(r)) for r in data])
        conn.executemany("INSERT INTO by_n VALUES (?, ?)", [(r["n"], r["id"]) for r in data])
        conn.execute("COMMIT")
        out["write"] = time.perf_counter() - t

        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for k in keys:
            value = loads(conn.execute("SELECT value FROM records WHERE id = ?", (k,)).fetchone()[0])
            value["done"] = not value["done"]
            # What an IndexedDB put does: replace the record and its index row.
            conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?)", (k, dumps(value)))
            conn.execute("DELETE FROM by_n WHERE n = ? AND id = ?", (value["n"], k))
            conn.execute("INSERT INTO by_n VALUES (?, ?)", (value["n"], k))
        conn.execute("COMMIT")
        out["get_put"] = time.perf_counter() - t

        t = time.perf_counter()
        got = [loads(v) for (v,) in conn.execute("SELECT value FROM records ORDER BY id")]
        out["get_all"] = time.perf_counter() - t
        w.check(len(got) == n, f"sqlite3 get_all gave {len(got)}")

        t = time.perf_counter()
        seen = 0
        for (v,) in conn.execute("SELECT value FROM records ORDER BY id"):
            seen += loads(v)["id"] >= 0
        out["cursor"] = time.perf_counter() - t
        w.check(seen == n, f"sqlite3 cursor saw {seen}")

        t = time.perf_counter()
        ranged = [loads(v) for (v,) in conn.execute(
            "SELECT r.value FROM by_n JOIN records r ON r.id = by_n.id "
            "WHERE by_n.n BETWEEN ? AND ? ORDER BY by_n.n, by_n.id", (lo, hi))]
        out["index_range"] = time.perf_counter() - t
        w.check(len(ranged) == min(w.RANGE, n), f"sqlite3 index range gave {len(ranged)}")

        gets = [(i * 7919 + 13) % n for i in range(POINT_GETS)]
        t = time.perf_counter()
        conn.execute("BEGIN")
        for k in gets:
            loads(conn.execute("SELECT value FROM records WHERE id = ?", (k,)).fetchone()[0])
        conn.execute("COMMIT")
        out["point_get"] = (time.perf_counter() - t) / POINT_GETS
    finally:
        conn.close()
    return out


# -- pyidb on CPython -------------------------------------------------------------------------

async def point_get(factory: Any, name: str, n: int) -> float:
    """Seconds per awaited ``store.get`` of an existing key (the database is already filled)."""
    gets = [(i * 7919 + 13) % n for i in range(POINT_GETS)]
    db = await factory.open(name, 1, upgrade=w.upgrade)
    t = time.perf_counter()
    async with db.transaction(w.STORE) as tx:
        store = tx.object_store(w.STORE)
        for k in gets:
            value = await store.get(k)
    elapsed = (time.perf_counter() - t) / POINT_GETS
    db.close()
    w.check(value is not None and value["id"] == gets[-1], f"point get of {gets[-1]} gave {value!r}")
    return elapsed


async def pyidb_runs(url_for_run: Any, n: int, runs: int, data: list[dict[str, Any]]
                     ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in (*w.WORKLOADS, "point_get")}
    for i in range(runs):
        factory = pyidb.factory(url_for_run(i))
        name = f"bench-{n}-{i}"
        for k, s in (await w.run_once(factory, name, n, data)).items():
            times[k].append(s)
        times["point_get"].append(await point_get(factory, name, n))
        await factory.delete_database(name)
        storage = getattr(factory, "storage", None)
        if storage is not None and hasattr(storage, "close"):
            storage.close()
    return times


def run_cpython(sizes: list[int], runs: int, growth_sizes: tuple[int, int], tmp: Path,
                log: Any = print, big_runs: int = 3) -> dict[str, Any]:
    """``{"runs": {(impl, n): {workload: [s, ...]}}, "growth": {n: {op: s}}}``.

    Sizes of 1,000,000 and more get ``big_runs`` runs (a 1M run of all five workloads takes
    ~40 s per implementation on this machine; the whole full run must stay under 10 minutes).
    """
    out: dict[str, Any] = {"runs": {}, "growth": {}}
    all_runs = runs
    for n in sizes:
        runs = min(all_runs, big_runs) if n >= 1_000_000 else all_runs
        data = w.records(n)
        t = time.perf_counter()
        base: dict[str, list[float]] = {}
        for i in range(runs):
            path = tmp / f"sqlite3-{n}-{i}.db"
            for k, s in sqlite3_run_once(path, n, data).items():
                base.setdefault(k, []).append(s)
            _remove_db(path)
        out["runs"][("sqlite3", n)] = base
        log(f"  cpython sqlite3 n={n}: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        out["runs"][("pyidb memory:", n)] = asyncio.run(
            pyidb_runs(lambda i: "memory:", n, runs, data))
        log(f"  cpython pyidb memory: n={n}: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        out["runs"][("pyidb sqlite:", n)] = asyncio.run(
            pyidb_runs(lambda i, n=n: f"sqlite:///{tmp}/pyidb-{n}-{i}.db", n, runs, data))
        for i in range(runs):
            _remove_db(tmp / f"pyidb-{n}-{i}.db")
        log(f"  cpython pyidb sqlite: n={n}: {time.perf_counter() - t:.1f} s")
        del data
    for n in growth_sizes:
        t = time.perf_counter()
        out["growth"][n] = asyncio.run(w.per_op_costs(pyidb.factory("memory:"), n))
        log(f"  cpython growth n={n}: {time.perf_counter() - t:.1f} s")
    return out


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
