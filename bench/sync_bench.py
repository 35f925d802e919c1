"""Sync benchmark: push N events (batches of 500) and pull N changes (pages of 500) end to end
-- model client, outbox, HTTP, the server process on SQLite -- against the same run's raw work:
the server's own inserts (record + changelog + scope counter, in transactions of 500) and page
SELECTs, done with sqlite3 directly with no protocol. Used by ``python -m bench`` (env "sync")."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import pyidb
from pyidb.model import Schema
from pyidb.sync.client import open_client
from pyidb.sync.store import SCHEMA as SERVER_TABLES
from tests.sync.server_process import ServerProcess

BATCH = 500
MODEL = """
/// @@scope(owner)
model Note {
  id    String @id
  owner String
  title String
  n     Int
  done  Boolean
}
"""


def record(i: int) -> dict:
    return {"id": f"n{i:07d}", "owner": "bench", "title": f"note {i}", "n": i, "done": i % 2 == 0}


def raw_inserts(path: Path, n: int) -> tuple[float, float]:
    """The server's writes and page reads for n records with sqlite3 alone: (push s, pull s)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in SERVER_TABLES:
        conn.execute(statement)
    conn.execute("INSERT INTO sync_scopes (scope, version) VALUES ('bench', 0)")
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        conn.execute("BEGIN IMMEDIATE")
        for i in range(start, min(n, start + BATCH)):
            version = conn.execute("UPDATE sync_scopes SET version = version + 1 WHERE scope = 'bench' "
                                   "RETURNING version").fetchone()[0]
            data = json.dumps(record(i), sort_keys=True)
            key = json.dumps(record(i)["id"])
            conn.execute("INSERT INTO sync_records VALUES ('Note', ?, 'bench', ?, 0, ?, '{}', 'c')",
                         (key, version, data))
            conn.execute("INSERT INTO sync_changelog VALUES ('bench', ?, 'Note', ?, 0, ?, 'c', ?)",
                         (version, key, data, i + 1))
        conn.execute("COMMIT")
    push = time.perf_counter() - t
    t = time.perf_counter()
    since, got = 0, 0
    while True:
        rows = conn.execute("SELECT model, key, version, deleted, data FROM sync_records "
                            "WHERE scope = 'bench' "
                            "AND version > ? ORDER BY version LIMIT ?", (since, BATCH)).fetchall()
        if not rows:
            break
        got += len([json.loads(r[4]) for r in rows])
        since = rows[-1][2]
    pull = time.perf_counter() - t
    conn.close()
    assert got == n
    return push, pull


async def sync_round(url: str, n: int, run: int) -> tuple[float, float]:
    schema = Schema.from_prisma(MODEL)
    writer = await open_client(f"w{run}", schema, factory=pyidb.factory("memory:"))
    async with writer.tx() as t:  # the offline writes are not what is measured
        for i in range(n):
            await t.note.create(data=record(i))
    worker = writer.sync_worker(url, token="bench", batch_size=BATCH)
    t0 = time.perf_counter()
    report = await worker.push()
    push = time.perf_counter() - t0
    assert report["pushed"] == n, report
    reader = await open_client(f"r{run}", schema, factory=pyidb.factory("memory:"))
    t0 = time.perf_counter()
    report = await reader.sync_worker(url, token="bench", pull_limit=BATCH).pull()
    pull = time.perf_counter() - t0
    assert report["pulled"] == n and await reader.note.count() == n, report
    return push, pull


def bench_sync(results, n: int, runs: int, log=print) -> None:
    """Adds ("sync", impl, n, "push"|"pull") in ms for impl "raw inserts" and "pyidb.sync"."""
    times: dict[tuple[str, str], list[float]] = {}
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            raw = raw_inserts(Path(tmp) / "raw.db", n)
            (Path(tmp) / "server").mkdir()
            with ServerProcess(Path(tmp) / "server", MODEL, tokens={"bench": "bench"}) as server:
                synced = asyncio.run(sync_round(server.url, n, run))
        for impl, (push, pull) in (("raw inserts", raw), ("pyidb.sync", synced)):
            times.setdefault((impl, "push"), []).append(push * 1000)
            times.setdefault((impl, "pull"), []).append(pull * 1000)
        log(f"bench sync n={n} run {run + 1}: push {n / synced[0]:,.0f} events/s (raw {n / raw[0]:,.0f}/s), "
            f"pull {n / synced[1]:,.0f} changes/s (raw {n / raw[1]:,.0f}/s)")
    for (impl, workload), values in times.items():
        results.add("sync", impl, n, workload, values)
