"""Providers: pyidb on PostgreSQL vs plain psycopg doing the same rows; the host socket vs in-process.

Both sides run in the same process, the same run, on a throwaway PostgreSQL cluster
(tests/pg_cluster.py). The psycopg baseline does what the five workloads need with the least
SQL, on the same rows as pyidb: per record one row of ``records(id bigint PRIMARY KEY, value
text)`` (the record's JSON) and one row of the index table ``by_n(n, id)`` (primary key
``(n, id)``), so each side writes 2 rows and 2 btree entries per record; the bulk write is one
transaction of two ``COPY`` (PostgreSQL's fastest way in, kept as the baseline), the point get
an indexed ``SELECT`` in one transaction. pyidb keeps both kinds of rows in its one
``kv(tree, key bytea, value bytea)`` table. The socket pair runs the same workloads through
``python -m pyidb.host serve`` (memory engine) and in-process on ``memory:``, up to
:data:`SOCKET_MAX` records.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyidb

from . import workloads as w
from .cpython_bench import POINT_GETS, pyidb_runs

REPO = Path(__file__).resolve().parent.parent
#: The socket pair runs up to this size: a put_many of a million records is one request, over
#: the socket's frame limit (a client sends such a load in batches).
SOCKET_MAX = 100_000
#: Runs at 1,000,000 records: one pyidb run takes ~2 min here (most of it the cursor walk, one
#: worker-thread hop per record), so the full bench stays within reason.
BIG_RUNS = 2


def psycopg_run_once(url: str, schema: str, n: int, data: list[dict[str, Any]]) -> dict[str, float]:
    """The five workloads (plus ``point_get``) in plain psycopg; seconds each."""
    import psycopg

    keys = w.loop_keys(n)
    lo, hi = w.range_bounds(n)
    out: dict[str, float] = {}
    dumps, loads = json.dumps, json.loads
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute("CREATE TABLE records(id bigint PRIMARY KEY, value text NOT NULL)")
        conn.execute("CREATE TABLE by_n(n double precision, id bigint, PRIMARY KEY (n, id))")
        try:
            t = time.perf_counter()
            with conn.transaction():
                with conn.cursor().copy("COPY records (id, value) FROM STDIN") as copy:
                    for r in data:
                        copy.write_row((r["id"], dumps(r)))
                with conn.cursor().copy("COPY by_n (n, id) FROM STDIN") as copy:
                    for r in data:
                        copy.write_row((r["n"], r["id"]))
            out["write"] = time.perf_counter() - t

            t = time.perf_counter()
            with conn.transaction():
                for k in keys:
                    value = loads(conn.execute("SELECT value FROM records WHERE id = %s", (k,)).fetchone()[0])
                    value["done"] = not value["done"]
                    conn.execute("UPDATE records SET value = %s WHERE id = %s", (dumps(value), k))
                    conn.execute("DELETE FROM by_n WHERE n = %s AND id = %s", (value["n"], k))
                    conn.execute("INSERT INTO by_n VALUES (%s, %s)", (value["n"], k))
            out["get_put"] = time.perf_counter() - t

            t = time.perf_counter()
            got = [loads(v) for (v,) in conn.execute("SELECT value FROM records ORDER BY id")]
            out["get_all"] = time.perf_counter() - t
            w.check(len(got) == n, f"psycopg get_all gave {len(got)}")

            t = time.perf_counter()
            seen = 0
            with conn.transaction(), conn.cursor(name="walk") as cur:  # a server-side cursor
                cur.execute("SELECT value FROM records ORDER BY id")
                for (v,) in cur:
                    seen += loads(v)["id"] >= 0
            out["cursor"] = time.perf_counter() - t
            w.check(seen == n, f"psycopg cursor saw {seen}")

            t = time.perf_counter()
            ranged = [loads(v) for (v,) in conn.execute(
                "SELECT r.value FROM by_n JOIN records r ON r.id = by_n.id "
                "WHERE by_n.n BETWEEN %s AND %s ORDER BY by_n.n, by_n.id", (lo, hi))]
            out["index_range"] = time.perf_counter() - t
            w.check(len(ranged) == min(w.RANGE, n), f"psycopg index range gave {len(ranged)}")

            gets = [(i * 7919 + 13) % n for i in range(POINT_GETS)]
            t = time.perf_counter()
            with conn.transaction():
                for k in gets:
                    loads(conn.execute("SELECT value FROM records WHERE id = %s", (k,)).fetchone()[0])
            out["point_get"] = (time.perf_counter() - t) / POINT_GETS
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return out


def _start_host(tmp: Path) -> tuple[subprocess.Popen[str], str, str]:
    token = secrets.token_hex(16)
    config = tmp / "host.toml"
    config.write_text(
        f'[providers.indexeddb.main]\nurl = "memory:"\n[plugins.bench.indexeddb]\ntoken = "{token}"\n'
    )
    path = str(tmp / "idb.sock")
    proc = subprocess.Popen([sys.executable, "-m", "pyidb.host", "serve", "--config", str(config),
                             "--socket", path], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("serving on"):
        proc.kill()
        raise RuntimeError(f"the host did not start: {line!r}")
    return proc, path, token


def run_providers(sizes: list[int], runs: int, tmp: Path, log: Any = print) -> dict[tuple[str, int], Any]:
    """``{(impl, n): {workload: [seconds, ...]}}`` for psycopg, pyidb postgresql:, and the
    socket pair."""
    sys.path.insert(0, str(REPO / "tests"))
    from pg_cluster import PgCluster

    from pyidb.remote import RemoteFactory

    out: dict[tuple[str, int], Any] = {}
    with PgCluster.start() as cluster:
        for n in sizes:
            data = w.records(n)
            n_runs = min(runs, BIG_RUNS) if n >= 1_000_000 else runs
            t = time.perf_counter()
            base: dict[str, list[float]] = {}
            for i in range(n_runs):
                for k, s in psycopg_run_once(cluster.url, f"plain_{n}_{i}", n, data).items():
                    base.setdefault(k, []).append(s)
            out["psycopg", n] = base
            log(f"  providers psycopg n={n}: {time.perf_counter() - t:.1f} s")
            t = time.perf_counter()
            out["pyidb postgresql:", n] = asyncio.run(
                pyidb_runs(lambda i, n=n: f"{cluster.url}?schema=bench_{n}_{i}", n, n_runs, data))
            log(f"  providers pyidb postgresql: n={n}: {time.perf_counter() - t:.1f} s")
    socket_sizes = [n for n in sizes if n <= SOCKET_MAX]
    if not socket_sizes:
        return out
    host, path, token = _start_host(tmp)
    try:
        for n in socket_sizes:
            data = w.records(n)
            t = time.perf_counter()
            out["pyidb memory: in-process", n] = asyncio.run(
                w.run_many(lambda i: pyidb.factory("memory:"), n, runs))
            out["pyidb memory: socket", n] = asyncio.run(
                w.run_many(lambda i: RemoteFactory(path, token), n, runs, prefix="sock"))
            log(f"  providers socket vs in-process n={n}: {time.perf_counter() - t:.1f} s")
    finally:
        host.terminate()
        host.wait(timeout=30)
    return out
