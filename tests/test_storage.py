"""The Storage contract, run on both storages: ordered trees, bounds, rollback, commit, refusals."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyidb.engine.storage.base import Storage
from pyidb.engine.storage.memory import MemoryStorage
from pyidb.engine.storage.sqlite import FORMAT_VERSION, SQLiteStorage
from pyidb.errors import InvalidStateError, LockTimeoutError, QuotaExceededError, UnknownError


def k(i: int) -> bytes:
    return i.to_bytes(2, "big")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    s: Storage
    if request.param == "postgresql":
        from pyidb.engine.storage.postgresql import PostgreSQLStorage

        base, schema = request.getfixturevalue("pg_url").split("?schema=")
        s = PostgreSQLStorage(base, schema=schema)
    else:
        s = MemoryStorage() if request.param == "memory" else SQLiteStorage(str(tmp_path / "s.db"))
    yield s
    s.close()


def fill(s: Storage, tree: int = 1, n: int = 10) -> None:
    s.begin_write()
    s.put_many(tree, [(k(i), b"v%d" % i) for i in range(n)])
    s.commit()


def keys(s: Storage, tree: int, *args: bytes | None, **kw: object) -> list[int]:
    return [int.from_bytes(key, "big") for key, _ in s.scan(tree, *args, **kw)]  # type: ignore[arg-type]


def snapshot(s: Storage) -> dict[int, list[tuple[bytes, bytes]]]:
    return {t: list(s.scan(t)) for t in (1, 2, 3)}


def test_get_put_delete(storage: Storage) -> None:
    assert storage.get(1, b"a") is None
    storage.begin_write()
    assert storage.in_write
    storage.put(1, b"a", b"1")
    storage.put(2, b"a", b"2")  # same key, other tree: independent
    assert storage.get(1, b"a") == b"1"  # reads see the open transaction
    storage.put(1, b"a", b"3")
    assert storage.delete(1, b"zz") is False
    assert storage.delete(9, b"a") is False
    storage.commit()
    assert not storage.in_write
    assert storage.get(1, b"a") == b"3" and storage.get(2, b"a") == b"2"
    storage.begin_write()
    assert storage.delete(1, b"a") is True
    storage.commit()
    assert storage.get(1, b"a") is None and storage.get(2, b"a") == b"2"


def test_byte_order_is_memcmp(storage: Storage) -> None:
    # Shorter prefix first, then unsigned byte order (what the key encoding relies on).
    ks = [b"", b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]
    storage.begin_write()
    for key in reversed(ks):
        storage.put(1, key, b"x")
    storage.commit()
    assert [key for key, _ in storage.scan(1)] == ks
    assert [key for key, _ in storage.scan(1, reverse=True)] == ks[::-1]


def test_scan_bounds_reverse_limit(storage: Storage) -> None:
    fill(storage, n=300)  # more than one internal chunk
    assert keys(storage, 1) == list(range(300))
    assert keys(storage, 1, reverse=True) == list(range(299, -1, -1))
    assert keys(storage, 1, k(5), k(9)) == [5, 6, 7, 8]  # lo inclusive, hi exclusive
    assert keys(storage, 1, k(5), k(9), reverse=True) == [8, 7, 6, 5]
    assert keys(storage, 1, k(297)) == [297, 298, 299]
    assert keys(storage, 1, None, k(3), reverse=True) == [2, 1, 0]
    assert keys(storage, 1, k(10), None, limit=3) == [10, 11, 12]
    assert keys(storage, 1, None, k(10), reverse=True, limit=2) == [9, 8]
    assert keys(storage, 1, limit=0) == []
    assert keys(storage, 1, k(9), k(5)) == []  # empty range, not an error
    assert keys(storage, 1, k(5), k(5)) == []
    assert keys(storage, 7) == []  # missing tree
    assert list(storage.scan(1, k(3), k(4))) == [(k(3), b"v3")]


def test_count(storage: Storage) -> None:
    fill(storage, n=50)
    assert storage.count(1) == 50
    assert storage.count(1, k(10)) == 40
    assert storage.count(1, None, k(10)) == 10
    assert storage.count(1, k(10), k(20)) == 10
    assert storage.count(1, k(20), k(10)) == 0
    assert storage.count(1, b"\x00\x05\x00", k(7)) == 1  # bounds between keys
    assert storage.count(2) == 0


def test_delete_range(storage: Storage) -> None:
    fill(storage, n=20)
    fill(storage, tree=2, n=5)
    storage.begin_write()
    assert storage.delete_range(1, k(5), k(10)) == 5
    assert storage.delete_range(1, k(10), k(5)) == 0
    assert storage.delete_range(1, None, k(2)) == 2
    assert storage.delete_range(1, k(18), None) == 2
    storage.commit()
    assert keys(storage, 1) == [2, 3, 4, *range(10, 18)]
    storage.begin_write()
    assert storage.delete_range(1, None, None) == 11
    assert storage.delete_range(8, None, None) == 0
    storage.commit()
    assert keys(storage, 1) == [] and keys(storage, 2) == [0, 1, 2, 3, 4]


def test_rollback_restores_everything(storage: Storage) -> None:
    fill(storage, n=30)
    fill(storage, tree=2, n=5)
    before = snapshot(storage)
    storage.begin_write()
    storage.put(1, k(3), b"changed")
    storage.put(1, k(100), b"new")
    storage.delete(1, k(4))
    storage.delete_range(1, k(10), k(20))
    storage.delete_range(2, None, None)
    storage.put(2, k(1), b"after clear")
    storage.put(3, b"x", b"tree created in the transaction")
    storage.put_many(1, [(k(3), b"again"), (k(200), b"z")])
    storage.delete_range(1, None, None)
    storage.put(1, k(7), b"after second clear")
    assert storage.count(1) == 1
    storage.rollback()
    assert not storage.in_write
    assert snapshot(storage) == before
    assert storage.count(3) == 0 and storage.get(3, b"x") is None


def test_commit_persists_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    s = SQLiteStorage(path)
    fill(s, n=5)
    s.begin_write()
    s.put(2, b"uncommitted", b"x")
    s.close()  # closes with an open transaction: rolled back
    again = SQLiteStorage(path)
    assert keys(again, 1) == [0, 1, 2, 3, 4]
    assert again.get(1, k(2)) == b"v2"
    assert again.get(2, b"uncommitted") is None
    assert again.durable is True and MemoryStorage.durable is False
    again.close()


def test_writes_outside_a_transaction_are_refused(storage: Storage) -> None:
    for call in (
        lambda: storage.put(1, b"a", b"b"),
        lambda: storage.put_many(1, [(b"a", b"b")]),
        lambda: storage.delete(1, b"a"),
        lambda: storage.delete_range(1, None, None),
        storage.commit,
        storage.rollback,
    ):
        with pytest.raises(InvalidStateError, match="outside a write transaction"):
            call()
    storage.begin_write()
    with pytest.raises(InvalidStateError, match="already open"):
        storage.begin_write()
    storage.rollback()
    assert storage.get(1, b"a") is None


def test_closed_storage_refuses_use(storage: Storage) -> None:
    fill(storage, n=1)
    storage.close()
    storage.close()  # idempotent
    assert storage.closed  # type: ignore[attr-defined]
    with pytest.raises(InvalidStateError, match="closed"):
        storage.get(1, k(0))
    with pytest.raises(InvalidStateError, match="closed"):
        storage.begin_write()


def test_scan_iterator_survives_interleaved_writes(storage: Storage) -> None:
    fill(storage, n=500)
    it = storage.scan(1)
    first = [next(it) for _ in range(100)]
    storage.begin_write()
    storage.delete_range(1, k(400), None)
    storage.put(1, k(450), b"late")
    storage.commit()
    rest = list(it)
    got = [int.from_bytes(key, "big") for key, _ in first + rest]
    assert got == sorted(set(got))  # ordered, no duplicates, no error
    assert got[-1] == 450 and 420 not in got


def test_second_connection_sees_only_committed(tmp_path: Path) -> None:
    path = str(tmp_path / "two.db")
    a, b = SQLiteStorage(path), SQLiteStorage(path, timeout=0.1)
    a.begin_write()
    a.put(1, b"k", b"v")
    assert a.get(1, b"k") == b"v"
    assert b.get(1, b"k") is None and b.count(1) == 0  # not committed yet
    with pytest.raises(LockTimeoutError, match=r"lock timeout \(0.1 s\)"):
        b.begin_write()  # BEGIN IMMEDIATE: one writer per file
    assert not b.in_write
    a.commit()
    assert b.get(1, b"k") == b"v" and list(b.scan(1)) == [(b"k", b"v")]
    b.begin_write()  # the lock is free again
    b.put(1, b"k2", b"v2")
    b.commit()
    assert a.get(1, b"k2") == b"v2"
    a.close()
    b.close()


def test_range_queries_are_primary_key_seeks(tmp_path: Path) -> None:
    s = SQLiteStorage(str(tmp_path / "plan.db"))
    fill(s, n=50)
    for lo in (None, k(1)):
        for hi in (None, k(9)):
            plans = [*s.query_plan(1, lo, hi, False), *s.query_plan(1, lo, hi, True)]
            plans += s.query_plan(1, lo, hi, kind="count") + s.query_plan(1, lo, hi, kind="delete")
            for plan in plans:
                assert plan.startswith("SEARCH kv USING PRIMARY KEY (tree=?"), plan
                assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan  # no sort, no full scan
    assert s.query_plan(1, k(1), k(9), True) == ["SEARCH kv USING PRIMARY KEY (tree=? AND key>? AND key<?)"]
    s.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_other_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users(name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(UnknownError, match="not a pyidb one") as info:
        SQLiteStorage(str(path))
    assert str(path) in str(info.value)
    assert _digest(path) == before
    assert not (tmp_path / "other.db-wal").exists()  # not switched to WAL either


def test_non_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = _digest(path)
    with pytest.raises(UnknownError, match="not an SQLite database") as info:
        SQLiteStorage(str(path))
    assert str(path) in str(info.value)
    assert _digest(path) == before


def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "future.db")
    SQLiteStorage(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value=? WHERE name='format_version'", (str(FORMAT_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(UnknownError, match="newer pyidb"):
        SQLiteStorage(path)


def test_disk_full_is_quota_exceeded(tmp_path: Path) -> None:
    s = SQLiteStorage(str(tmp_path / "full.db"))
    # Simulate a full disk: cap the file at its current size (a private handle, test only).
    pages = s._conn.execute("PRAGMA page_count").fetchone()[0]
    s._conn.execute(f"PRAGMA max_page_count={pages}")
    s.begin_write()
    s.put(1, b"first", b"small")
    with pytest.raises(QuotaExceededError, match="cannot grow"):
        s.put_many(1, [(k(i), b"x" * 1000) for i in range(200)])
    # SQLite rolled the transaction back itself: a later write must fail, not autocommit alone.
    assert s.in_write
    with pytest.raises(QuotaExceededError, match="already rolled back"):
        s.put(2, b"after", b"error")
    s.rollback()
    assert not s.in_write
    assert s.count(1) == 0 and s.get(2, b"after") is None
    s._conn.execute("PRAGMA max_page_count=1000000")
    s.begin_write()  # usable again
    s.put(2, b"after", b"space freed")
    s.commit()
    s.close()
    again = SQLiteStorage(s.path)
    assert list(again.scan(2)) == [(b"after", b"space freed")] and again.count(1) == 0
    again.close()


def test_commit_after_lost_transaction_reports_it(tmp_path: Path) -> None:
    s = SQLiteStorage(str(tmp_path / "full2.db"))
    s._conn.execute(f"PRAGMA max_page_count={s._conn.execute('PRAGMA page_count').fetchone()[0]}")
    s.begin_write()
    with pytest.raises(QuotaExceededError):
        s.put(1, b"big", b"x" * 100_000)
    with pytest.raises(QuotaExceededError, match="already rolled back"):
        s.commit()
    assert not s.in_write
    assert s.get(1, b"big") is None
    s.close()


def test_durability_modes(tmp_path: Path) -> None:
    s = SQLiteStorage(str(tmp_path / "d.db"))
    for durability, level in (("relaxed", 1), ("strict", 2), ("default", 2)):
        s.begin_write(durability)
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == level
        s.put(1, durability.encode(), b"x")
        s.commit()
    assert s.count(1) == 3
    assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
