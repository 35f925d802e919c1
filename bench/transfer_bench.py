"""Whole-database export/import (``pyidb.export_database`` / ``import_database``) vs plain json.

The baseline is what the same data costs with no database at all: ``json.dump`` of the records
to a file (vs export) and ``json.load`` of that file (vs import). pyidb's side reads the records
from a store (export) or writes them into a fresh database, indexes included (import), on
``memory:`` and on ``sqlite:``; its ``write`` row is one ``put_many`` of the same records, the
floor under any import. Records are the benchmark records of :mod:`bench.workloads`.

>>> run_transfer(100_000, runs=3, tmp=Path("/tmp/x"))
{("json", 100000): {"export": [s, ...], "import": [...]}, ("pyidb memory:", 100000): ...}
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pyidb

from . import workloads as w


def _json_once(path: Path, data: list[dict[str, Any]]) -> dict[str, float]:
    t = time.perf_counter()
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    exported = time.perf_counter() - t
    t = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        back = json.load(f)
    imported = time.perf_counter() - t
    w.check(len(back) == len(data), "json.load lost records")
    return {"export": exported, "import": imported}


async def _pyidb_once(url: str, copy_url: str, path: Path, data: list[dict[str, Any]]
                      ) -> dict[str, float]:
    db = await pyidb.factory(url).open("transfer", 1, upgrade=w.upgrade)
    t = time.perf_counter()
    async with db.transaction(w.STORE, "readwrite") as tx:
        await tx.object_store(w.STORE).put_many(data)
    written = time.perf_counter() - t  # the floor of an import: the same records put_many'd
    t = time.perf_counter()
    n = await pyidb.export_database(db, path)
    exported = time.perf_counter() - t
    db.close()
    w.check(n == len(data), f"export wrote {n} records")
    t = time.perf_counter()
    copy = await pyidb.import_database(pyidb.factory(copy_url), "transfer", path)
    imported = time.perf_counter() - t
    w.check(await copy.count(w.STORE) == len(data), "import lost records")
    copy.close()
    return {"export": exported, "import": imported, "write": written}


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_transfer(n: int, runs: int, tmp: Path, log: Any = print) -> dict[tuple[str, int], Any]:
    """Seconds per run: ``{(impl, n): {"export": [...], "import": [...]}}``."""
    data = w.records(n)
    out: dict[tuple[str, int], Any] = {}
    for impl in ("json", "pyidb memory:", "pyidb sqlite:"):
        times: dict[str, list[float]] = {}
        for i in range(runs):
            file = tmp / f"transfer-{i}.json"
            if impl == "json":
                got = _json_once(file, data)
            elif impl == "pyidb memory:":
                got = asyncio.run(_pyidb_once("memory:", "memory:", file, data))
            else:
                src, dst = tmp / f"src-{i}.db", tmp / f"dst-{i}.db"
                got = asyncio.run(_pyidb_once(f"sqlite:///{src}", f"sqlite:///{dst}", file, data))
                _remove(src)
                _remove(dst)
            file.unlink()
            for k, s in got.items():
                times.setdefault(k, []).append(s)
        out[(impl, n)] = times
        rates = ", ".join(f"{k} {n / min(v):,.0f} records/s" for k, v in times.items())
        log(f"  transfer {impl} n={n}: {rates}")
    return out
