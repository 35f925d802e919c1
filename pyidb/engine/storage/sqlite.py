"""The SQLite storage: every tree in one ``kv`` table keyed by (tree, key), in WAL mode.

Range scans and counts are primary-key seeks (``WHERE tree=? AND key>=? AND key<?``); SQLite
compares BLOBs with memcmp, which is the byte order :mod:`pyidb.key_encoding` produces. A write
transaction is ``BEGIN IMMEDIATE ... COMMIT``: it takes the file's write lock up front, so two
processes sharing a file never interleave a read-modify-write, and a SIGKILL at any moment
leaves either the whole transaction or none of it::

    s = SQLiteStorage("notes.db")
    s.begin_write()
    s.put(1, b"k", b"v")
    s.commit()          # on disk (fsync'd) when this returns
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ...errors import Error, InvalidArgumentError, InvalidStateError, QuotaExceededError, UnknownError
from .base import Storage, StorageBusyError, not_in_write
from .sqlite_read import _COUNT_SQL, _SCAN_SQL, ReadSnapshot, SQLiteReader, _bounds_sql, _params

__all__ = ["FORMAT_VERSION", "SQLiteStorage"]

#: Bumped whenever the on-disk layout changes; newer files are refused, never misread.
FORMAT_VERSION = 1
_APPLICATION = "pyidb"

_SCHEMA = (
    "CREATE TABLE meta(name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE kv(tree INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY(tree, key)) WITHOUT ROWID",
)

_SYNCHRONOUS = {"default": "FULL", "strict": "FULL", "relaxed": "NORMAL"}

# SQLite result codes (primary codes, low byte of sqlite_errorcode).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 5, 6, 11, 13, 26


_DELETE_RANGE_SQL = {
    (lo, hi): f"DELETE FROM kv WHERE {_bounds_sql(lo, hi)}" for lo in (False, True) for hi in (False, True)
}
_PUT_SQL = "INSERT OR REPLACE INTO kv(tree, key, value) VALUES (?, ?, ?)"
_DELETE_SQL = "DELETE FROM kv WHERE tree=? AND key=?"


def _map_error(exc: sqlite3.Error, path: str, closed: bool = False) -> Error:
    """The pyidb error for a sqlite3 error: a quota, a lock, a damaged file, or UnknownError."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    lowered = text.lower()
    if closed or "closed database" in lowered:
        return InvalidStateError(f"the SQLite storage for {path} is closed; open a new factory")
    if code == _SQLITE_FULL or "database or disk is full" in lowered:
        return QuotaExceededError(f"the database file {path} cannot grow: {text} (free disk space)")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in lowered:
        return StorageBusyError(
            f"the database file {path} is locked by another process (or connection) that is "
            "writing to it; wait for it to finish and try again"
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in lowered or "not a database" in lowered:
        return UnknownError(
            f"the file {path} is damaged or is not an SQLite database ({text}); "
            "restore it from a backup or use another path"
        )
    return UnknownError(f"SQLite failed on {path}: {text}")


class SQLiteStorage(SQLiteReader, Storage):
    """Ordered ``bytes -> bytes`` trees in an SQLite file, shareable by several processes.

    >>> s = SQLiteStorage("/tmp/x.db"); s.begin_write(); s.put(1, b"a", b"1"); s.commit()
    >>> SQLiteStorage("/tmp/x.db").get(1, b"a")
    b'1'

    ``timeout`` (seconds) is how long to wait for another process's write lock before failing
    with UnknownError.
    """

    durable = True
    shared = True  # other processes may write the same file

    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        if not isinstance(path, str):
            raise InvalidArgumentError(f"the SQLite path must be a str, not {type(path).__name__}")
        self.path = path
        self.closed = False
        self._in_write = False
        # Set when SQLite itself rolled the open transaction back after an error (it does so on
        # e.g. a full disk): later writes must fail rather than silently autocommit one by one.
        self._lost: Error | None = None
        self._synchronous = ""
        self._timeout = timeout
        self._idle_readers: list[sqlite3.Connection] = []
        try:
            # isolation_level=None: no implicit BEGINs; we issue BEGIN IMMEDIATE/COMMIT ourselves,
            # so no write is ever autocommitted on its own. The engine serializes all calls, so
            # the connection may be used from whichever thread runs the event loop.
            self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise UnknownError(f"cannot open the database file {path}: {exc}") from None
        try:
            self._open(timeout)
        except BaseException:
            self._conn.close()
            self.closed = True
            raise

    # -- opening ----------------------------------------------------------------------------

    def _open(self, timeout: float) -> None:
        conn = self._conn
        try:
            conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            if self._is_empty():
                self._initialize()
            self._check_format()
            # WAL lets readers in other processes go on while one writes. Only switched on once
            # the file is known to be ours; some platforms (no shared memory) keep the rollback
            # journal, which is just as crash-safe.
            try:
                conn.execute("PRAGMA journal_mode=WAL").fetchall()
            except sqlite3.OperationalError:
                pass
            self._set_synchronous("FULL")
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path) from None

    def _is_empty(self) -> bool:
        # Nothing at all in the schema (not even a view or trigger): a new file, safe to claim.
        return self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    def _tables(self) -> set[str]:
        rows = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        return {r[0] for r in rows}

    def _initialize(self) -> None:
        """Create the schema in an empty file (re-checked under the write lock: another
        process may be initializing the same new file right now)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._is_empty():
                for sql in _SCHEMA:
                    conn.execute(sql)
                conn.executemany(
                    "INSERT INTO meta(name, value) VALUES (?, ?)",
                    [("application", _APPLICATION), ("format_version", str(FORMAT_VERSION))],
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _check_format(self) -> None:
        """Refuse files that are not pyidb databases, or that a newer pyidb wrote."""
        tables = self._tables()
        meta: dict[str, str] = {}
        if {"meta", "kv"} <= tables:
            try:
                meta = dict(self._conn.execute("SELECT name, value FROM meta").fetchall())
            except sqlite3.OperationalError:
                meta = {}
        if meta.get("application") != _APPLICATION:
            raise UnknownError(
                f"the file {self.path} is an SQLite database but not a pyidb one (it has the tables "
                f"{sorted(tables)}); pyidb left it untouched. Use another path for pyidb's data."
            )
        try:
            version = int(meta.get("format_version", ""))
        except ValueError:
            version = -1
        if version > FORMAT_VERSION:
            raise UnknownError(
                f"the file {self.path} was written by a newer pyidb (storage format {version}; this "
                f"pyidb reads format {FORMAT_VERSION}); upgrade pyidb to open it"
            )
        if version < 1:
            raise UnknownError(
                f"the file {self.path} has an unreadable pyidb format version "
                f"{meta.get('format_version')!r}; it is damaged: restore it from a backup"
            )

    def _set_synchronous(self, level: str) -> None:
        # PRAGMA synchronous cannot change inside a transaction: called before BEGIN only.
        if level != self._synchronous:
            self._conn.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    # -- transactions ---------------------------------------------------------------------

    def begin_write(self, durability: str = "default") -> None:
        """Take the file's write lock: ``s.begin_write("relaxed")`` (relaxed: no fsync per commit)."""
        if self.closed:
            raise _map_error(sqlite3.ProgrammingError(), self.path, closed=True)
        if self.in_write:
            raise InvalidStateError(
                "SQLiteStorage.begin_write() while a write transaction is already open; only one "
                "writer at a time is allowed. This is a bug in pyidb's engine, please report it."
            )
        level = _SYNCHRONOUS.get(durability)
        if level is None:
            raise InvalidArgumentError(
                f"durability must be 'default', 'strict' or 'relaxed', not {durability!r}"
            )
        try:
            self._set_synchronous(level)
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path) from None
        self._in_write = True

    def try_begin_write(self, durability: str = "default") -> bool:
        """Like begin_write, but False at once if another process holds the write lock, so the
        engine can wait on the event loop instead of blocking it: ``s.try_begin_write()``."""
        if self.closed or self.in_write or durability not in _SYNCHRONOUS:
            self.begin_write(durability)  # raises the right error
        try:
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                self.begin_write(durability)
            finally:
                self._conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        except StorageBusyError:
            return False
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path) from None
        return True

    @property
    def lock_timeout(self) -> float:
        """Seconds a writer waits for another process's write lock before giving up."""
        return self._timeout

    def begin_read(self) -> ReadSnapshot:
        """A consistent read view on a pooled connection: ``view = s.begin_read()``."""
        if self.closed:
            raise _map_error(sqlite3.ProgrammingError(), self.path, closed=True)
        if self._idle_readers:
            conn = self._idle_readers.pop()
        else:
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error as exc:
                raise _map_error(exc, self.path) from None
        return ReadSnapshot(conn, self._fail)

    def end_read(self, view: Any) -> None:
        """Finish a read view from :meth:`begin_read`."""
        conn = view.end()
        if self.closed:
            conn.close()
        else:
            self._idle_readers.append(conn)

    def commit(self) -> None:
        """Make the transaction durable: ``s.commit()``; on failure nothing of it is kept."""
        if not self._in_write:
            raise self._refuse_write("commit")
        self._in_write = False
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            error = _map_error(exc, self.path)
            self._abandon()
            raise error from None

    def rollback(self) -> None:
        """Undo the transaction: ``s.rollback()``."""
        if self._lost is not None:
            self._lost = None  # SQLite already rolled it back
            return
        if not self._in_write:
            raise not_in_write(self, "rollback")
        self._in_write = False
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            error = _map_error(exc, self.path)
            self._abandon()
            raise error from None

    def _abandon(self) -> None:
        # After a failed COMMIT/ROLLBACK SQLite may keep the transaction open; end it so the
        # next begin_write starts clean (and the write lock is released).
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    @property
    def in_write(self) -> bool:
        """True between begin_write and commit/rollback."""
        return self._in_write or self._lost is not None

    def _refuse_write(self, op: str) -> Error:
        if self.closed:  # the factory was closed under a running transaction: say that
            return _map_error(sqlite3.ProgrammingError(), self.path, closed=True)
        lost = self._lost
        if lost is None:
            return not_in_write(self, op)
        if op == "commit":
            self._lost = None  # the transaction is over: it was rolled back, as the error says
        return type(lost)(
            f"the write transaction was already rolled back by SQLite after an earlier error, so "
            f"{op}() cannot proceed; roll back and start again. The earlier error: {lost.message}"
        )

    def _fail(self, exc: sqlite3.Error) -> Error:
        """Map ``exc``; if SQLite rolled the write transaction back on its own, remember it."""
        error = _map_error(exc, self.path, self.closed)
        if self._in_write and not self.closed and not self._conn.in_transaction:
            self._in_write = False
            self._lost = error
        return error

    def close(self) -> None:
        """Roll back an open transaction and close the file: ``s.close()``."""
        if self.closed:
            return
        self.closed = True
        self._in_write = False
        self._lost = None
        for conn in self._idle_readers:
            conn.close()
        self._idle_readers.clear()
        try:
            self._abandon()
            self._conn.close()
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path) from None

    # -- writes ---------------------------------------------------------------------------

    def put(self, tree: int, key: bytes, value: bytes) -> None:
        """Insert or overwrite one pair: ``s.put(1, b"a", b"1")``."""
        if not self._in_write:
            raise self._refuse_write("put")
        try:
            self._conn.execute(_PUT_SQL, (tree, key, value))
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def put_many(self, tree: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Put many pairs in one executemany: ``s.put_many(1, [(b"a", b"1"), (b"b", b"2")])``."""
        if not self._in_write:
            raise self._refuse_write("put_many")
        try:
            self._conn.executemany(_PUT_SQL, [(tree, k, v) for k, v in items])
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def delete(self, tree: int, key: bytes) -> bool:
        """Delete one pair; True if it existed: ``s.delete(1, b"a")``."""
        if not self._in_write:
            raise self._refuse_write("delete")
        try:
            return self._conn.execute(_DELETE_SQL, (tree, key)).rowcount > 0
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def delete_range(self, tree: int, lo: bytes | None, hi: bytes | None) -> int:
        """Delete every pair with lo <= key < hi; how many: ``s.delete_range(1, None, None)``."""
        if not self._in_write:
            raise self._refuse_write("delete_range")
        if lo is not None and hi is not None and lo >= hi:
            return 0
        try:
            sql = _DELETE_RANGE_SQL[lo is not None, hi is not None]
            return self._conn.execute(sql, _params(tree, lo, hi)).rowcount
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def query_plan(
        self, tree: int, lo: bytes | None, hi: bytes | None, reverse: bool = False, *, kind: str = "scan"
    ) -> list[str]:
        """SQLite's EXPLAIN QUERY PLAN for a scan, count or delete_range (tests, diagnostics).

        ``s.query_plan(1, b"a", b"b")`` -> ``['SEARCH kv USING PRIMARY KEY (tree=? AND key>? AND key<?)']``
        """
        has = (lo is not None, hi is not None)
        params: tuple[Any, ...] = _params(tree, lo, hi)
        if kind == "scan":
            sql, params = _SCAN_SQL[(*has, reverse)], (*params, -1)
        elif kind == "count":
            sql = _COUNT_SQL[has]
        elif kind == "delete":
            sql = _DELETE_RANGE_SQL[has]
        else:
            raise InvalidArgumentError(f"kind must be 'scan', 'count' or 'delete', not {kind!r}")
        try:
            rows = self._conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return [row[-1] for row in rows]
