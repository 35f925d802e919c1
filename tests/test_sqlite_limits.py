"""CPython-only: SQLite files at the machine's limits (issue 9, finding 7): a full disk, a
read-only directory, a long readonly transaction beside a writer."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyidb

REPO = Path(__file__).resolve().parents[1]

# Fills a 2 MB file system until the disk is full, then deletes records to make room.
FILL_THEN_DELETE = textwrap.dedent("""
    import asyncio, json, sys
    import pyidb

    async def main():
        url = "sqlite:///" + sys.argv[1] + "/full.db"
        f = pyidb.factory(url)
        db = await f.open("d", 1, upgrade=lambda db, *a: db.create_object_store("s"))
        n, full = 0, None
        while full is None and n < 5000:
            try:
                async with db.transaction("s", "readwrite") as tx:
                    for _ in range(20):
                        tx.object_store("s").put("x" * 2000, n)
                        n += 1
            except pyidb.QuotaExceededError as e:
                full = str(e)
        kept = await db.count("s")
        await db.delete("s", pyidb.KeyRange.bound(0, kept // 2))  # must work on the full disk
        after_delete = await db.count("s")
        await db.put("s", "small", "after")  # and the room it made can be used
        db.close(); f.close()
        g = pyidb.factory(url)
        async with await g.open("d") as db:
            print(json.dumps({"full": full, "kept": kept, "after_delete": after_delete,
                              "reopened": await db.count("s"), "after": await db.get("s", "after")}))

    asyncio.run(main())
""")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_deleting_on_a_full_disk_frees_space(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("making a small full disk needs root and unshare (a private tmpfs mount)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    # A private mount namespace: the 2 MB tmpfs exists only for the child and vanishes with it.
    script = f'mount -t tmpfs -o size=2m tmpfs "$1" || exit 77; exec "{sys.executable}" -c "$2" "$1"'
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(mnt), FILL_THEN_DELETE],
                          env=_env(), capture_output=True, text=True, timeout=120)
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["full"] and "cannot grow" in got["full"], got
    assert got["kept"] > 0 and got["after_delete"] == got["kept"] - (got["kept"] // 2 + 1), got
    assert got["reopened"] == got["after_delete"] + 1 and got["after"] == "small", got


async def _make(path: Path) -> None:
    f = pyidb.factory(f"sqlite:///{path}")
    db = await f.open("d", 1, upgrade=lambda db, *a: db.create_object_store("s"))
    await db.put("s", "v", "k")
    db.close()
    f.close()


async def _read_only_checks(path: Path) -> None:
    f = pyidb.factory(f"sqlite:///{path}")
    try:
        assert f.storage.readonly
        async with await f.open("d") as db:
            assert await db.get("s", "k") == "v"
            with pytest.raises(pyidb.ReadOnlyError, match="opened read-only"):
                await db.put("s", "w", "k2")
        with pytest.raises(pyidb.ReadOnlyError, match="opened read-only"):
            await f.open("d", 2)  # an upgrade is a write too
    finally:
        f.close()


async def test_read_only_directory_opens_read_only(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ro.db"
    await _make(path)
    before = sorted(os.listdir(tmp_path))
    # Fault injected on purpose: as root (CI) permissions stop no write, so the storage is told
    # the directory is not writable; SQLite then really opens the file read-only (immutable,
    # as no -wal exists), which is what an unprivileged user gets from a read-only directory.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: mode != os.W_OK and real_access(p, mode))
    await _read_only_checks(path)
    assert sorted(os.listdir(tmp_path)) == before  # no side file made next to it


async def test_read_only_directory_for_real(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories; the test above injects the fault")
    path = tmp_path / "ro.db"
    await _make(path)
    tmp_path.chmod(0o555)
    try:
        await _read_only_checks(path)
    finally:
        tmp_path.chmod(0o755)


async def test_mode_ro_option_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    await _make(path)
    f = pyidb.factory(f"sqlite:///{path}?mode=ro")
    try:
        async with await f.open("d") as db:
            assert await db.count("s") == 1
            with pytest.raises(pyidb.ReadOnlyError, match="opened read-only"):
                await db.delete("s", "k")
    finally:
        f.close()


async def test_wal_shrinks_once_a_long_reader_is_done(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    f = pyidb.factory(f"sqlite:///{path}")
    wal = Path(f"{path}-wal")

    def upgrade(db, *args):
        db.create_object_store("s")
        db.create_object_store("t")

    db = await f.open("d", 1, upgrade=upgrade)
    await db.put("t", "v", "k")
    writing = True
    reads = []

    async def long_reader() -> None:
        # A readonly transaction kept alive by its own requests; its snapshot pins the WAL.
        store = db.transaction("t").object_store("t")
        while writing:
            reads.append(await store.count())

    async def writer() -> int:
        nonlocal writing
        page = "x" * 4000
        for chunk in range(8):  # ~6 MB while the reader holds its snapshot
            async with db.transaction("s", "readwrite", durability="relaxed") as tx:
                for i in range(200):
                    tx.object_store("s").put(page, chunk * 200 + i)
        grown = wal.stat().st_size
        writing = False
        return grown

    _, grown = await asyncio.gather(long_reader(), writer())
    assert grown > 5 << 20 and len(reads) > 8  # SQLite could not checkpoint past the reader
    for i in range(2):  # the reader is done: the next commits checkpoint the WAL and restart it
        await db.put("s", "small", f"after-{i}")
    assert wal.stat().st_size <= 4 << 20 < grown, (grown, wal.stat().st_size)
    assert await db.count("s") == 1600 + 2
    db.close()
    f.close()
