"""Sync benchmark: push N events (batches of 500) and pull N changes (pages of 500) end to end
-- model client, outbox, HTTP, the server process on SQLite -- against the same run's raw work:
the same records moved without the protocol, with the same storage on both ends.

Raw push: read the records from the client's database (``get_all`` pages of 500, the model
client's factory) and insert them with sqlite3 into the server's tables as the server stores them
(record row + changelog row per record, the scope's version counter once per transaction of 500,
the same ``PRAGMA synchronous=FULL`` on WAL). Raw pull: the server's page SELECTs (500 per page),
``json.loads`` of each record, and a ``put_many`` of each page into a plain object store of a
fresh client database on the same factory. Not in the raw work (it is what sync adds): the outbox
and its bookkeeping, seqs, the exactly-once record (``sync_events``), validation, scope and
constraint checks, HTTP and JSON, the model client's checks and events, versions and cursors.
Used by ``python -m bench`` (env "sync")."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def _source(n: int) -> Any:
    """A client-side database holding the n records (not timed)."""
    db = await pyidb.factory("memory:").open("raw-source", 1, upgrade=lambda db, old, new, tx:
                                              db.create_object_store("Note", key_path="id"))
    async with db.transaction(["Note"], "readwrite") as tx:
        await tx.object_store("Note").put_many([record(i) for i in range(n)])
    return db


def process_cpu(pid: int | None = None) -> float:
    """CPU seconds used so far by this process, or by process ``pid`` (Linux ``/proc``; 0.0
    where that is not available). On a loaded machine the wall time of a run swings with the
    other processes; the CPU seconds of the work itself do much less."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def raw_work(path: Path, n: int, cpu: dict | None = None) -> tuple[float, float]:
    """The same records moved without the protocol (see the module doc): (push s, pull s).
    ``cpu``: filled with the CPU seconds of each, ``{"push", "pull"}`` (all in this process)."""
    cpu = {} if cpu is None else cpu
    source = await _source(n)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in SERVER_TABLES:
        conn.execute(statement)
    conn.execute("INSERT INTO sync_scopes (scope, version) VALUES ('bench', 0)")
    t, c = time.perf_counter(), process_cpu()
    version, last = 0, None
    while True:
        async with source.transaction(["Note"], "readonly") as tx:
            query = pyidb.KeyRange.lower_bound(last, open=True) if last is not None else None
            page = await tx.object_store("Note").get_all(query, BATCH)
        if not page:
            break
        last = page[-1]["id"]
        conn.execute("BEGIN IMMEDIATE")
        rows = []
        for item in page:
            version += 1
            rows.append((json.dumps(item["id"]), version, json.dumps(item, sort_keys=True)))
        conn.executemany("INSERT INTO sync_records VALUES ('Note', ?, 'bench', ?, 0, ?, '{}', 'c')", rows)
        conn.executemany("INSERT INTO sync_changelog VALUES ('bench', ?, 'Note', ?, 0, ?, 'c', ?)",
                         [(v, k, data, v) for k, v, data in rows])
        conn.execute("UPDATE sync_scopes SET version = ? WHERE scope = 'bench'", (version,))
        conn.execute("COMMIT")
    push, cpu["push"] = time.perf_counter() - t, process_cpu() - c
    source.close()
    target = await pyidb.factory("memory:").open("raw-target", 1, upgrade=lambda db, old, new, tx:
                                                  db.create_object_store("Note", key_path="id"))
    t, c = time.perf_counter(), process_cpu()
    since, got = 0, 0
    while True:
        rows = conn.execute("SELECT model, key, version, deleted, data FROM sync_records "
                            "WHERE scope = 'bench' "
                            "AND version > ? ORDER BY version LIMIT ?", (since, BATCH)).fetchall()
        if not rows:
            break
        async with target.transaction(["Note"], "readwrite") as tx:
            await tx.object_store("Note").put_many([json.loads(r[4]) for r in rows])
        got += len(rows)
        since = rows[-1][2]
    pull, cpu["pull"] = time.perf_counter() - t, process_cpu() - c
    target.close()
    conn.close()
    assert got == n
    return push, pull


async def sync_round(url: str, n: int, run: int, cpu: dict | None = None,
                     server_pid: int | None = None) -> tuple[float, float]:
    """Push then pull end to end: (push s, pull s). ``cpu``: filled with the CPU seconds of
    each, client process plus server process ``server_pid``."""
    cpu = {} if cpu is None else cpu

    def spent() -> float:
        return process_cpu() + (process_cpu(server_pid) if server_pid else 0.0)

    schema = Schema.from_prisma(MODEL)
    writer = await open_client(f"w{run}", schema, factory=pyidb.factory("memory:"))
    async with writer.tx() as t:  # the offline writes are not what is measured
        for i in range(n):
            await t.note.create(data=record(i))
    worker = writer.sync_worker(url, token="bench", batch_size=BATCH)
    t0, c = time.perf_counter(), spent()
    report = await worker.push()
    push, cpu["push"] = time.perf_counter() - t0, spent() - c
    assert report["pushed"] == n, report
    reader = await open_client(f"r{run}", schema, factory=pyidb.factory("memory:"))
    t0, c = time.perf_counter(), spent()
    report = await reader.sync_worker(url, token="bench", pull_limit=BATCH).pull()
    pull, cpu["pull"] = time.perf_counter() - t0, spent() - c
    assert report["pulled"] == n and await reader.note.count() == n, report
    return push, pull


def bench_sync(results, n: int, runs: int, log=print) -> None:
    """Adds ("sync", impl, n, "push"|"pull") in ms for impl "raw inserts" and "pyidb.sync"."""
    times: dict[tuple[str, str], list[float]] = {}
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            raw_cpu: dict[str, float] = {}
            sync_cpu: dict[str, float] = {}
            raw = asyncio.run(raw_work(Path(tmp) / "raw.db", n, raw_cpu))
            (Path(tmp) / "server").mkdir()
            with ServerProcess(Path(tmp) / "server", MODEL, tokens={"bench": "bench"}) as server:
                pid = server.proc.pid if server.proc is not None else None
                synced = asyncio.run(sync_round(server.url, n, run, sync_cpu, pid))
        for impl, (push, pull) in (("raw inserts", raw), ("pyidb.sync", synced)):
            times.setdefault((impl, "push"), []).append(push * 1000)
            times.setdefault((impl, "pull"), []).append(pull * 1000)
        cpu_ratio = {w: sync_cpu[w] / max(raw_cpu[w], 1e-9) for w in ("push", "pull")}
        log(f"bench sync n={n} run {run + 1}: push {n / synced[0]:,.0f} events/s (raw {n / raw[0]:,.0f}/s), "
            f"pull {n / synced[1]:,.0f} changes/s (raw {n / raw[1]:,.0f}/s); CPU seconds (client + "
            f"server) push {sync_cpu['push']:.2f} ({cpu_ratio['push']:.1f}x raw), "
            f"pull {sync_cpu['pull']:.2f} ({cpu_ratio['pull']:.1f}x raw)")
    for (impl, workload), values in times.items():
        results.add("sync", impl, n, workload, values)
