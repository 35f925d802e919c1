"""Profile the CPython workloads that miss a target with pyinstrument (``pip install pyinstrument``).

    .venv/bin/python -m bench.profile_cpython                  # every case below
    .venv/bin/python -m bench.profile_cpython get_put cursor   # some of them

Each case fills a fresh database (untimed), then profiles one workload; the text report goes to
stdout and bench/results/profile-<case>.txt. Findings are summarised in bench/PROFILE.md.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pyidb

from . import workloads as w

RESULTS = Path(__file__).resolve().parent / "results"
N = 10_000


async def _filled(url: str, n: int = N) -> Any:
    db = await pyidb.factory(url).open("profile", 1, upgrade=w.upgrade)
    async with db.transaction(w.STORE, "readwrite") as tx:
        await tx.object_store(w.STORE).put_many(w.records(n))
    await w.settle()
    return db


async def write(url: str) -> Callable[[], Awaitable[None]]:
    db = await pyidb.factory(url).open("profile", 1, upgrade=w.upgrade)
    data = w.records(N)

    async def run() -> None:
        async with db.transaction(w.STORE, "readwrite") as tx:
            await tx.object_store(w.STORE).put_many(data)
        await w.settle()
    return run


async def get_put(url: str) -> Callable[[], Awaitable[None]]:
    db = await _filled(url)

    async def run() -> None:
        async with db.transaction(w.STORE, "readwrite") as tx:
            store = tx.object_store(w.STORE)
            for k in w.loop_keys(N) * 5:
                value = await store.get(k)
                value["done"] = not value["done"]
                await store.put(value)
    return run


async def cursor(url: str) -> Callable[[], Awaitable[None]]:
    db = await _filled(url)

    async def run() -> None:
        async with db.transaction(w.STORE) as tx:
            async for c in tx.object_store(w.STORE).open_cursor():
                c.value["id"]
    return run


async def point_get(url: str) -> Callable[[], Awaitable[None]]:
    db = await _filled(url)
    keys = [(i * 7919 + 13) % N for i in range(5_000)]

    async def run() -> None:
        async with db.transaction(w.STORE) as tx:
            store = tx.object_store(w.STORE)
            for k in keys:
                await store.get(k)
    return run


CASES: dict[str, tuple[Callable[[str], Awaitable[Callable[[], Awaitable[None]]]], str]] = {
    "write": (write, "memory:"),
    "get_put": (get_put, "memory:"),
    "cursor": (cursor, "memory:"),
    "point_get_sqlite": (point_get, "sqlite"),
    "write_sqlite": (write, "sqlite"),
}


def profile(case: str) -> str:
    from pyinstrument import Profiler

    make, url = CASES[case]
    with tempfile.TemporaryDirectory() as tmp:
        if url == "sqlite":
            url = f"sqlite:///{tmp}/profile.db"

        async def main() -> str:
            run = await make(url)
            profiler = Profiler(interval=0.0002)
            profiler.start()
            await run()
            profiler.stop()
            return str(profiler.output_text(unicode=False, show_all=False))

        text = asyncio.run(main())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"profile-{case}.txt").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    for name in sys.argv[1:] or list(CASES):
        print(f"===== {name} =====")
        print(profile(name))
