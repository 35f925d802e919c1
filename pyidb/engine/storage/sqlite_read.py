"""Reads of the SQLite storage, shared by its main connection and its read snapshots.

A readonly transaction reads through a :class:`ReadSnapshot`: a pooled connection holding one
SQLite read transaction (``BEGIN`` plus a first read pins the WAL snapshot) from the start of the
IndexedDB transaction to its end, so it never sees part of another process's commit (spec
2.7.2). The main connection stays free for the writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import Error
from .chunks import chunked_scan


def _bounds_sql(lo: bool, hi: bool) -> str:
    return "tree=?" + (" AND key>=?" if lo else "") + (" AND key<?" if hi else "")


# Constant SQL strings, one per bounds variant, so sqlite3's statement cache always hits.
# Index: (lo is not None, hi is not None[, reverse]).
_SCAN_SQL = {
    (lo, hi, rev): f"SELECT key, value FROM kv WHERE {_bounds_sql(lo, hi)} "
    f"ORDER BY key {'DESC' if rev else 'ASC'} LIMIT ?"
    for lo in (False, True)
    for hi in (False, True)
    for rev in (False, True)
}
_COUNT_SQL = {
    (lo, hi): f"SELECT count(*) FROM kv WHERE {_bounds_sql(lo, hi)}"
    for lo in (False, True)
    for hi in (False, True)
}
_GET_SQL = "SELECT value FROM kv WHERE tree=? AND key=?"
_IN_CHUNK = 500  # keys per IN (...) query, well under SQLite's limit of bound parameters


def _any_sql(n: int) -> str:
    return f"SELECT 1 FROM kv WHERE tree=? AND key IN ({','.join('?' * n)}) LIMIT 1"


_ANY_SQL = _any_sql(_IN_CHUNK)
_NEXT_TREE_SQL = "SELECT tree FROM kv WHERE tree>? ORDER BY tree LIMIT 1"

# Unbounded scans are fetched in chunks (chunks.py) that each re-seek after the last key, so no
# SQLite statement (and its read snapshot) stays open while the engine holds the iterator.


def _params(tree: int, lo: bytes | None, hi: bytes | None) -> tuple[Any, ...]:
    if lo is None:
        return (tree,) if hi is None else (tree, hi)
    return (tree, lo) if hi is None else (tree, lo, hi)


class SQLiteReader:
    """The read methods of the Storage interface over ``self._conn``."""

    _conn: sqlite3.Connection
    _fail: Callable[[sqlite3.Error], Error]

    def get(self, tree: int, key: bytes) -> bytes | None:
        """The value for ``key`` or None: ``s.get(1, b"a")``."""
        try:
            row = self._conn.execute(_GET_SQL, (tree, key)).fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return None if row is None else row[0]

    def scan(
        self,
        tree: int,
        lo: bytes | None = None,
        hi: bytes | None = None,
        *,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with lo <= key < hi in key order: ``list(s.scan(1, b"a", b"b", reverse=True))``.

        With ``limit`` the (bounded) result is fetched at once; without it, in chunks.
        """
        if (lo is not None and hi is not None and lo >= hi) or (limit is not None and limit <= 0):
            return iter(())
        if limit is not None:
            return iter(self._fetch(tree, lo, hi, reverse, limit))
        return self._scan_chunks(tree, lo, hi, reverse)

    def _fetch(
        self, tree: int, lo: bytes | None, hi: bytes | None, reverse: bool, limit: int
    ) -> list[tuple[bytes, bytes]]:
        sql = _SCAN_SQL[lo is not None, hi is not None, reverse]
        try:
            return self._conn.execute(sql, (*_params(tree, lo, hi), limit)).fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def _scan_chunks(
        self, tree: int, lo: bytes | None, hi: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        return chunked_scan(lambda lo, hi, n: self._fetch(tree, lo, hi, reverse, n), lo, hi, reverse)

    def contains_any(self, tree: int, keys: list[bytes]) -> bool:
        """True if any of ``keys`` is in ``tree``, one query per 500 keys:
        ``s.contains_any(1, [b"a", b"b"])``."""
        try:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start:start + _IN_CHUNK]
                if len(chunk) == _IN_CHUNK:
                    sql = _ANY_SQL
                else:
                    sql = _any_sql(len(chunk))
                if self._conn.execute(sql, (tree, *chunk)).fetchone() is not None:
                    return True
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return False

    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int:
        """How many keys with lo <= key < hi: ``s.count(1, b"a")``."""
        if lo is not None and hi is not None and lo >= hi:
            return 0
        try:
            sql = _COUNT_SQL[lo is not None, hi is not None]
            return self._conn.execute(sql, _params(tree, lo, hi)).fetchone()[0]
        except sqlite3.Error as exc:
            raise self._fail(exc) from None


    def integrity_check(self) -> list[str]:
        """SQLite's own full check of the file's structure (pages, B-trees, free list); empty if
        sound: ``s.integrity_check()``. It cannot see a changed byte inside a stored value."""
        try:
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.Error as exc:
            return [f"SQLite cannot check the file: {exc}"]
        return [f"SQLite: {r[0]}" for r in rows if r[0] != "ok"]

    def trees(self) -> list[int]:
        """Ids of the non-empty trees: ``s.trees()`` (one primary-key seek per tree)."""
        out: list[int] = []
        try:
            while True:
                row = self._conn.execute(_NEXT_TREE_SQL, (out[-1] if out else -(2**63),)).fetchone()
                if row is None:
                    return out
                out.append(row[0])
        except sqlite3.Error as exc:
            raise self._fail(exc) from None


class ReadSnapshot(SQLiteReader):
    """One readonly transaction's consistent view: ``view = storage.begin_read()``."""

    def __init__(self, conn: sqlite3.Connection, fail: Callable[[sqlite3.Error], Error],
                 path: str = "") -> None:
        self.path = path  # named in errors about the file's content
        self._conn = conn
        self._fail = fail  # type: ignore[assignment]
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise fail(exc) from None

    def end(self) -> sqlite3.Connection:
        """Close the read transaction; the connection goes back to the pool."""
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return self._conn
