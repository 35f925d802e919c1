"""Manual check that export/import stream: a big SQLite database out to a file and back, each step
in a fresh process that reports its time and peak RSS (the peak must not grow with the size).

    .venv/bin/python -m bench.transfer_big                 # 10,000 then 1,000,000 records
    .venv/bin/python -m bench.transfer_big --sizes 1000,100000

Not part of ``python -m bench``: the 1,000,000 run takes minutes and ~1 GB of disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyidb

from . import workloads as w

CHUNK = 10_000


async def _fill(url: str, n: int) -> None:
    db = await pyidb.factory(url).open("big", 1, upgrade=w.upgrade)
    for start in range(0, n, CHUNK):  # one transaction per chunk: filling is not what we measure
        async with db.transaction(w.STORE, "readwrite") as tx:
            await tx.object_store(w.STORE).put_many(
                [w.record(i) for i in range(start, min(n, start + CHUNK))])
    db.close()


async def _export(url: str, file: str) -> int:
    db = await pyidb.factory(url).open("big")
    n = await pyidb.export_database(db, file)
    db.close()
    return n


async def _import(url: str, file: str) -> int:
    db = await pyidb.import_database(pyidb.factory(url), "big", file)
    n = await db.count(w.STORE)
    db.close()
    return n


def _step(argv: list[str]) -> None:
    """In a child process: run one step, print ``{"seconds", "records", "max_rss_mb"}``."""
    step, url, arg = argv
    t = time.perf_counter()
    if step == "fill":
        asyncio.run(_fill(url, int(arg)))
        records = int(arg)
    elif step == "export":
        records = asyncio.run(_export(url, arg))
    else:
        records = asyncio.run(_import(url, arg))
    seconds = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "records": records, "max_rss_mb": round(rss_mb, 1)}))


def _run(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "bench.transfer_big", "--step", *args],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--step", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        _step(args.step)
        return
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="pyidb-big-") as tmp:
            src, dst, file = f"sqlite:///{tmp}/src.db", f"sqlite:///{tmp}/dst.db", f"{tmp}/big.jsonl"
            _run("fill", src, str(n))
            exp = _run("export", src, file)
            size_mb = Path(file).stat().st_size / 2**20
            imp = _run("import", dst, file)
            assert exp["records"] == imp["records"] == n, (exp, imp)
            print(f"n={n:,}: file {size_mb:,.1f} MB; export {exp['seconds']:.1f} s "
                  f"({n / exp['seconds']:,.0f} records/s, peak RSS {exp['max_rss_mb']:.0f} MB); "
                  f"import {imp['seconds']:.1f} s ({n / imp['seconds']:,.0f} records/s, "
                  f"peak RSS {imp['max_rss_mb']:.0f} MB)", flush=True)


if __name__ == "__main__":
    main()
