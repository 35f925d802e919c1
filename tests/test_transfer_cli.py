"""``python -m pyidb export/import``: real processes on real SQLite files."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pyidb

RECORDS = 2500


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pyidb", *args], capture_output=True,
                          input=stdin, timeout=120)


async def _make(url: str) -> None:
    db = await pyidb.factory(url).open("app", 2, upgrade=lambda db, o, n, tx:
                                       db.create_object_store("s", auto_increment=True))
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").add_many([{"i": i, "b": bytes([i % 256])}
                                             for i in range(RECORDS)])
    db.close()


def test_export_then_import_with_progress_bar(tmp_path: Path) -> None:
    src, dst = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_make(src))
    done = _cli("export", src, "app", str(tmp_path / "app.jsonl"), "--progress")
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert "100%  2,500/2,500 records" in err and "exported 2,500 records" in err
    done = _cli("import", str(tmp_path / "app.jsonl"), dst, "app", "--progress")
    assert done.returncode == 0, done.stderr
    assert "imported 2,500 records" in done.stderr.decode()
    # the same export from the copy, through standard output this time
    again = _cli("export", dst, "app", "-", "--quiet")
    assert again.returncode == 0 and again.stdout == (tmp_path / "app.jsonl").read_bytes()
    assert "100%" not in again.stderr.decode()


def test_refusals_exit_1_with_the_reason(tmp_path: Path) -> None:
    src = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_make(src))
    done = _cli("export", src, "nope", str(tmp_path / "x.jsonl"))
    assert done.returncode != 0 and "no database 'nope'" in done.stderr.decode()
    assert _cli("export", src, "app", str(tmp_path / "app.jsonl")).returncode == 0
    text = (tmp_path / "app.jsonl").read_bytes()
    done = _cli("import", "-", src, "app", stdin=text)
    assert done.returncode == 1
    assert "ConstraintError: database 'app' already exists" in done.stderr.decode()
    done = _cli("import", "-", f"sqlite:///{tmp_path / 'c.db'}", "app", stdin=text[:-40])
    assert done.returncode == 1
    assert "DataError: export file, line 2502: the line is cut short" in done.stderr.decode()
    assert asyncio.run(pyidb.factory(f"sqlite:///{tmp_path / 'c.db'}").databases()) == []
    assert _cli("import", "-", src, "app", "--overwrite", stdin=text).returncode == 0


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    def stop(done: int, total: int) -> None:
        raise RuntimeError(f"stopped at {done}/{total}")

    async def fail() -> None:
        db = await pyidb.factory("memory:").open("x", 1, upgrade=lambda db, o, n, tx:
                                                 db.create_object_store("s"))
        await db.put("s", "v", 1)
        await pyidb.export_database(db, tmp_path / "x.jsonl", progress=stop)

    try:
        asyncio.run(fail())
    except RuntimeError as e:
        assert str(e) == "stopped at 1/1"  # after the header and the record were written
    else:
        raise AssertionError("the progress callback's error must stop the export")
    assert list(tmp_path.iterdir()) == []
