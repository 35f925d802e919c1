"""CPython-only: two processes writing one SQLite file (issue 9, finding 3).

A busy writer must not starve another process's writer (SQLite's own lock has no queue: the
waiting side polls and loses the race to a process that commits and begins again at once), and
a wait that truly exceeds the lock timeout is a LockTimeoutError naming the timeout.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyidb

REPO = Path(__file__).resolve().parents[1]

# Another process writing back to back through the storage API: each transaction holds the lock
# for a few milliseconds of work, and the next begins microseconds after the commit. Runs until
# stdin closes, then prints how many transactions it committed.
HOG = textwrap.dedent("""
    import sys, threading, time
    from pyidb.engine.storage.sqlite import SQLiteStorage
    from pyidb.key_encoding import encode_key

    s = SQLiteStorage(sys.argv[1], timeout=30)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    n = 0
    while not stop.is_set():
        s.begin_write("relaxed")
        s.put(1, encode_key("hog"), str(n).encode())  # store "s" (tree 1), a valid record
        time.sleep(0.003)  # the transaction's work (a workload, not a wait for an outcome)
        s.commit()
        n += 1
    print(n, flush=True)
""")


async def _create(path: Path) -> None:
    f = pyidb.factory(f"sqlite:///{path}")
    db = await f.open("d", 1, upgrade=lambda db, *a: db.create_object_store("s"))
    db.close()
    f.close()


def test_a_busy_writer_does_not_starve_another_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    asyncio.run(_create(path))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    hog = subprocess.Popen([sys.executable, "-c", HOG, str(path)], env=env, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    async def write_between() -> int:
        f = pyidb.factory(f"sqlite:///{path}?timeout=3")
        db = await f.open("d")
        done = 0
        for i in range(20):
            await db.put("s", {"mine": i}, f"mine-{i}")  # each waits its turn behind the hog
            done += 1
        db.close()
        f.close()
        return done

    try:
        assert hog.stdout.readline().strip() == "ready", hog.stderr.read()
        assert asyncio.run(write_between()) == 20
    finally:
        out, err = hog.communicate("", timeout=60)
    assert hog.returncode == 0, err
    assert int(out.split()[-1]) > 0  # the hog wrote too: turns alternate, nobody starves


async def test_a_wait_past_the_timeout_is_a_lock_timeout_error(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    await _create(path)
    holder = sqlite3.connect(path, isolation_level=None)  # another writer (a separate connection)
    holder.execute("BEGIN IMMEDIATE")
    f = pyidb.factory(f"sqlite:///{path}?timeout=0.3")
    db = await f.open("d")
    tx = db.transaction("s", "readwrite")
    put = tx.object_store("s").put("v", "k")
    with pytest.raises(pyidb.LockTimeoutError, match=r"lock timeout \(0\.3 s\).*\?timeout=SECONDS"):
        await put
    assert isinstance(tx.error, pyidb.LockTimeoutError) and isinstance(tx.error, pyidb.UnknownError)
    with pytest.raises(pyidb.LockTimeoutError):
        await db.put("s", "v", "k")  # the convenience call says the same
    holder.execute("ROLLBACK")
    assert await db.put("s", "v", "k") == "k"  # the lock is free: writes go on
    holder.close()
    db.close()
    f.close()


async def test_an_upgrade_waits_for_another_process_lock(tmp_path: Path) -> None:
    # It used to go ahead without the write lock (the versionchange transaction counted as
    # started while it still waited) and fail with "called outside a write transaction".
    path = tmp_path / "upgrade.db"
    await _create(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    f = pyidb.factory(f"sqlite:///{path}?timeout=10")
    opening = asyncio.ensure_future(
        f.open("d", 2, upgrade=lambda db, *a: db.create_object_store("u")))
    for _ in range(20):  # let the open run up to its wait for the lock
        await asyncio.sleep(0.01)
    assert not opening.done()
    holder.execute("ROLLBACK")
    holder.close()
    db = await asyncio.wait_for(opening, 10)
    assert db.version == 2 and db.object_store_names == ["s", "u"]
    db.close()
    f.close()
