"""CPython-only: ``python -m pyidb check FILE`` and ``sqlite:///FILE?check=1`` find damage that a
plain open cannot (issue 9, finding 6). Damage is made as a disk would: bytes changed in the
closed file (found by a marker text), or rows changed with the sqlite3 module."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import pyidb
from pyidb.engine.integrity import check_file

REPO = Path(__file__).resolve().parents[1]


async def _fill(path: Path) -> None:
    def upgrade(db, old, new, tx):
        db.create_object_store("s", key_path="id", auto_increment=True).create_index("by_n", "n")

    f = pyidb.factory(f"sqlite:///{path}")
    db = await f.open("d", 1, upgrade=upgrade)
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many(
            [{"n": f"N{i:03}", "note": f"NOTE{i:03}", "pad": "x" * 300} for i in range(1, 41)])
    db.close()
    f.close()  # the last connection checkpoints the WAL into the file


@pytest.fixture
def made(tmp_path: Path) -> Path:
    path = tmp_path / "checked.db"
    asyncio.run(_fill(path))
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0
    return path


def _replace_bytes(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1, old
    path.write_bytes(data.replace(old, new))


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pyidb", "check", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_sound_file_is_ok(made: Path) -> None:
    proc = _cli(str(made))
    assert (proc.returncode, proc.stdout) == (0, f"{made}: ok\n"), proc.stderr
    assert check_file(str(made)) == []


def test_cli_reports_damage_and_exits_1(made: Path) -> None:
    _replace_bytes(made, b'"NOTE007"', b'"NOTE007\x01')  # a flipped quote: JSON no longer parses
    proc = _cli(str(made))
    assert proc.returncode == 1, proc.stderr
    assert "store 's': unreadable value: key 7" in proc.stdout and "ok" not in proc.stdout.split(": ")


def test_cli_usage_and_missing_file(tmp_path: Path) -> None:
    assert _cli().returncode == 2
    proc = _cli(str(tmp_path / "nope.db"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    assert not (tmp_path / "nope.db").exists()  # the check never creates a file


def test_changed_index_field_is_found(made: Path) -> None:
    _replace_bytes(made, b'"N012"', b'"N912"')  # still valid JSON: only the index tells
    problems = check_file(str(made))
    assert any("index 'by_n': record without its index entry" in p for p in problems), problems
    assert any("index 'by_n': entry without a matching record" in p for p in problems), problems


def test_changed_key_path_field_is_found(made: Path) -> None:
    conn = sqlite3.connect(made)
    (pk, raw), = conn.execute(
        "SELECT key, value FROM kv WHERE tree=1 AND instr(value, CAST('NOTE005' AS BLOB))")
    conn.execute("UPDATE kv SET value=? WHERE tree=1 AND key=?",
                 (raw.replace(b'"id":5', b'"id":6'), pk))
    conn.commit()
    conn.close()
    problems = check_file(str(made))
    assert any("value disagrees with its key" in p and "stored under 5" in p for p in problems)


def test_generator_behind_and_orphaned_tree_are_found(made: Path) -> None:
    conn = sqlite3.connect(made)
    conn.execute("UPDATE kv SET value=CAST('3' AS BLOB) WHERE tree=0 AND length(key)=9")
    conn.execute("UPDATE kv SET value=CAST('9' AS BLOB) WHERE tree=0 AND key=CAST('N' AS BLOB)")
    conn.execute("INSERT INTO kv VALUES (7, x'01', x'02')")
    conn.commit()
    conn.close()
    problems = check_file(str(made))
    assert any("key generator behind" in p for p in problems), problems
    assert any("orphaned tree: tree 7 holds 1 pairs" in p for p in problems), problems


def test_broken_pages_are_found_by_sqlite(made: Path) -> None:
    data = bytearray(made.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    data[2 * page: 2 * page + 16] = b"\xff" * 16  # a B-tree page header overwritten
    made.write_bytes(bytes(data))
    problems = check_file(str(made))
    assert problems and all(p.startswith("SQLite") or "damaged" in p for p in problems), problems


def test_a_flip_that_still_decodes_is_not_found(made: Path) -> None:
    # The documented limit: no checksums, so a changed byte in an unindexed field that leaves
    # valid JSON reads back as a different, valid value.
    _replace_bytes(made, b'"NOTE009"', b'"NOTE008"')
    assert check_file(str(made)) == []


def test_open_option_check_refuses_a_damaged_file(made: Path) -> None:
    _replace_bytes(made, b'"N012"', b'"N912"')
    with pytest.raises(pyidb.UnknownError, match=r"integrity check .* found 2 problem"):
        pyidb.factory(f"sqlite:///{made}?check=1")
    f = pyidb.factory(f"sqlite:///{made}")  # without the option: opens (the check reads it all)
    assert len(f.check()) == 2
    f.close()


def test_url_options_are_checked(made: Path) -> None:
    for bad in ("?timeout=soon", "?timeout=-1", "?check=yes", "?color=red"):
        with pytest.raises(pyidb.InvalidArgumentError):
            pyidb.factory(f"sqlite:///{made}{bad}")
    f = pyidb.factory(f"sqlite:///{made}?timeout=0.5")
    assert f.storage.lock_timeout == 0.5
    with pytest.raises(pyidb.InvalidArgumentError, match="other options"):
        pyidb.factory(f"sqlite:///{made}?timeout=2")
    f.close()
