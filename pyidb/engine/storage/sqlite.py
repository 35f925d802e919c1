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

import os
import sqlite3
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ...errors import (
    Error,
    InvalidArgumentError,
    InvalidStateError,
    QuotaExceededError,
    ReadOnlyError,
    UnknownError,
)
from .base import Storage, StorageBusyError, not_in_write
from .sqlite_read import _COUNT_SQL, _SCAN_SQL, ReadSnapshot, SQLiteReader, _bounds_sql, _params
from .sqlite_reserve import Reserve
from .sqlite_turns import Turns

__all__ = ["FORMAT_VERSION", "SQLiteStorage"]

#: Bumped whenever the on-disk layout changes; newer files are refused, never misread.
FORMAT_VERSION = 1
_APPLICATION = "pyidb"

_SCHEMA = (
    "CREATE TABLE meta(name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE kv(tree INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY(tree, key)) WITHOUT ROWID",
)

# Tables SQLite itself adds when someone runs ANALYZE: statistics only, harmless.
_STAT_TABLES = {"sqlite_stat1", "sqlite_stat4"}

_WAL_KEEP_BYTES = 4 << 20

_SYNCHRONOUS = {"default": "FULL", "strict": "FULL", "relaxed": "NORMAL"}

# SQLite result codes (primary codes, low byte of sqlite_errorcode).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_CORRUPT = 5, 6, 8, 11
_SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 13, 14, 26


_DELETE_RANGE_SQL = {
    (lo, hi): f"DELETE FROM kv WHERE {_bounds_sql(lo, hi)}" for lo in (False, True) for hi in (False, True)
}
_PUT_SQL = "INSERT OR REPLACE INTO kv(tree, key, value) VALUES (?, ?, ?)"
_DELETE_SQL = "DELETE FROM kv WHERE tree=? AND key=?"


def lock_timeout_error(path: str, timeout: float) -> StorageBusyError:
    """The error for a write that waited ``timeout`` seconds for another process's lock."""
    return StorageBusyError(
        f"another process held the write lock of the database file {path} for more than the "
        f"lock timeout ({timeout:g} s), so nothing was written; try again, or open the file "
        f"with a longer timeout: 'sqlite:///{path}?timeout=SECONDS'"
    )


def _map_error(exc: sqlite3.Error, path: str, closed: bool = False, timeout: float = 0.0) -> Error:
    """The pyidb error for a sqlite3 error: a quota, a lock, a damaged file, or UnknownError."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    lowered = text.lower()
    if closed or "closed database" in lowered:
        return InvalidStateError(f"the SQLite storage for {path} is closed; open a new factory")
    if code == _SQLITE_FULL or "database or disk is full" in lowered:
        return QuotaExceededError(f"the database file {path} cannot grow: {text} (free disk space)")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in lowered:
        return lock_timeout_error(path, timeout)
    if code == _SQLITE_READONLY or "readonly database" in lowered:
        return ReadOnlyError(
            f"the database file {path} cannot be written here ({text}): the file or its "
            "directory is read-only. Reads work; make both writable to write"
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in lowered or "not a database" in lowered:
        return UnknownError(
            f"the file {path} is damaged or is not an SQLite database ({text}); "
            "restore it from a backup or use another path"
        )
    return UnknownError(f"SQLite failed on {path}: {text}")


def _not_writable(path: str) -> bool:
    directory = os.path.dirname(path) or "."
    if os.path.exists(path):
        return not (os.access(path, os.W_OK) and os.access(directory, os.W_OK))
    return os.path.isdir(directory) and not os.access(directory, os.W_OK)


def _uri(path: str, readonly: bool, create: bool) -> str:
    uri = "file:" + quote(path)
    if not readonly:
        return uri + ("?mode=rwc" if create else "?mode=rw")
    if os.path.exists(path + "-wal") or os.access(os.path.dirname(path) or ".", os.W_OK):
        return uri + "?mode=ro"
    # A WAL file cannot be read without its -shm file, which cannot be made in a read-only
    # directory; with no -wal there is no uncommitted log to read and nobody can write the file
    # from here, so SQLite may read it as an immutable file.
    return uri + "?mode=ro&immutable=1"


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

    def __init__(
        self, path: str, *, timeout: float = 5.0, create: bool = True, readonly: bool | None = None
    ) -> None:
        if not isinstance(path, str):
            raise InvalidArgumentError(f"the SQLite path must be a str, not {type(path).__name__}")
        if type(timeout) not in (int, float) or not 0 <= timeout <= 86400:
            raise InvalidArgumentError(f"the lock timeout must be 0 to 86400 seconds, not {timeout!r}")
        self.path = path
        #: Opened read-only: asked for, or the file or its directory is not writable (SQLite
        #: needs to create its -wal and -shm files next to it even to read a WAL file).
        self.readonly = _not_writable(path) if readonly is None else bool(readonly)
        self._uri = _uri(path, self.readonly, create)
        self._turns = None if self.readonly else Turns.for_file(path)
        self._reserve = None if self.readonly else Reserve(path)
        self.closed = False
        self._in_write = False
        # Set when SQLite itself rolled the open transaction back after an error (it does so on
        # e.g. a full disk): later writes must fail rather than silently autocommit one by one.
        self._lost: Error | None = None
        self._synchronous = ""
        self._timeout = timeout
        self._idle_readers: list[sqlite3.Connection] = []
        self._schema_version = -1
        try:
            # isolation_level=None: no implicit BEGINs; we issue BEGIN IMMEDIATE/COMMIT ourselves,
            # so no write is ever autocommitted on its own. The engine serializes all calls, so
            # the connection may be used from whichever thread runs the event loop.
            self._conn = self._connect()
        except sqlite3.Error as exc:
            if self._turns is not None:
                self._turns.close()
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):  # SQLite only says "unable to open database file"
                raise UnknownError(
                    f"cannot open the database file {path}: its folder {folder} does not exist "
                    f"(create it first, e.g. os.makedirs({folder!r}))") from None
            raise UnknownError(f"cannot open the database file {path}: {exc}") from None
        try:
            self._open(timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._uri, uri=True, timeout=self._timeout, isolation_level=None,
                               check_same_thread=False)

    # -- opening ----------------------------------------------------------------------------

    def _open(self, timeout: float) -> None:
        conn = self._conn
        try:
            conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            # Defence in depth: SQL functions with side effects may not run from the file's schema.
            conn.execute("PRAGMA trusted_schema=OFF")
            if self._is_empty():
                if self.readonly:
                    raise UnknownError(
                        f"the file {self.path} holds no pyidb database and cannot be written "
                        "here (read-only file or directory), so none can be made in it"
                    )
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                if pages > 1:  # an empty new file has 0 pages (1 after a bare VACUUM)
                    raise UnknownError(
                        f"the file {self.path} has {pages} pages of data but no tables: its schema "
                        "was truncated or damaged. pyidb refuses to re-create an empty database "
                        "over it; restore it from a backup"
                    )
                self._initialize()
            self._check_format()
            self._check_schema()
            # WAL lets readers in other processes go on while one writes. Only switched on once
            # the file is known to be ours; some platforms (no shared memory) keep the rollback
            # journal, which is just as crash-safe.
            if not self.readonly:
                try:
                    conn.execute("PRAGMA journal_mode=WAL").fetchall()
                except sqlite3.OperationalError:
                    pass
                # A readonly transaction pins the WAL (SQLite cannot checkpoint past a reader's
                # snapshot), so it grows with every write meanwhile. Once no reader needs it,
                # SQLite's automatic checkpoint (every ~1000 pages at commit) copies it back and
                # the next writer restarts it; this limit then cuts the file back to 4 MiB.
                conn.execute(f"PRAGMA journal_size_limit={_WAL_KEEP_BYTES}").fetchall()
            self._set_synchronous("FULL")
            if self._reserve is not None:
                self._reserve.keep()
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path, timeout=self._timeout) from None

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

    def _check_schema(self) -> None:
        """Refuse a file whose schema holds anything but pyidb's two tables, exactly as pyidb
        made them: a trigger, view, index or altered table could act on pyidb's statements."""
        rows = self._conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        extra = sorted(
            f"{kind} {name!r}" for kind, name, sql in rows
            if sql not in _SCHEMA and not (kind == "table" and name in _STAT_TABLES)
        )
        if extra:
            raise UnknownError(
                f"the file {self.path} holds schema objects pyidb did not make ({', '.join(extra)}); "
                "they could act on pyidb's writes, so pyidb refuses the file. Remove them (or "
                "restore a backup), then open it again"
            )
        self._schema_version = self._conn.execute("PRAGMA schema_version").fetchone()[0]

    def _schema_unchanged(self) -> None:
        # Under the write lock: another process may have changed the schema since we looked.
        if self._conn.execute("PRAGMA schema_version").fetchone()[0] != self._schema_version:
            self._check_schema()

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
        if self.readonly:
            raise ReadOnlyError(
                f"the database file {self.path} was opened read-only (the file or its directory "
                "is not writable, or the URL asked for mode=ro); reads work, writes are refused"
            )
        turns = self._turns
        if turns is None:
            self._begin(level)
            return
        start = time.monotonic()
        if not turns.wait(self._timeout):
            raise self.lock_timeout_error()
        left = max(0.0, self._timeout - (time.monotonic() - start))  # one timeout for both waits
        try:
            self._conn.execute(f"PRAGMA busy_timeout={int(left * 1000)}")
            self._begin(level)
        finally:
            turns.release()
            self._conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")

    def _begin(self, level: str) -> None:
        """BEGIN IMMEDIATE (waiting up to the busy timeout), then check the schema again."""
        try:
            self._set_synchronous(level)
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path, timeout=self._timeout) from None
        try:
            self._schema_unchanged()
        except sqlite3.Error as exc:
            self._abandon()
            raise _map_error(exc, self.path, timeout=self._timeout) from None
        except BaseException:
            self._abandon()
            raise
        self._in_write = True

    def try_begin_write(self, durability: str = "default") -> bool:
        """Like begin_write, but False at once if another process holds the write lock, so the
        engine can wait on the event loop instead of blocking it: ``s.try_begin_write()``."""
        if self.closed or self.in_write or durability not in _SYNCHRONOUS or self.readonly:
            self.begin_write(durability)  # raises the right error
        turns = self._turns
        if turns is not None and not turns.try_take():
            return False  # another process is first in line: wait for our turn
        try:
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                self._begin(_SYNCHRONOUS[durability])
            finally:
                self._conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        except StorageBusyError:
            return False  # keep the turn: the holder cannot take the lock again before us
        except sqlite3.Error as exc:
            self.stop_waiting()
            raise _map_error(exc, self.path, timeout=self._timeout) from None
        except BaseException:
            self.stop_waiting()
            raise
        self.stop_waiting()  # we have the lock: the next process in line may queue for it
        return True

    def stop_waiting(self) -> None:
        """Give up this storage's place in line for the write lock (its writer got it, failed,
        or was aborted while waiting): ``s.stop_waiting()``."""
        if self._turns is not None:
            self._turns.release()

    def lock_timeout_error(self) -> StorageBusyError:
        """The error for a writer that waited the whole lock timeout for another process."""
        return lock_timeout_error(self.path, self._timeout)

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
                conn = self._connect()
            except sqlite3.Error as exc:
                raise _map_error(exc, self.path, timeout=self._timeout) from None
        return ReadSnapshot(conn, self._fail, self.path)

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
            error = self._out_of_space(_map_error(exc, self.path, timeout=self._timeout))
            self._abandon()
            raise error from None
        if self._reserve is not None and not self._reserve.kept:
            self._reserve.keep()  # space was freed, or more disk came: keep some aside again

    def _out_of_space(self, error: Error) -> Error:
        # The disk is full: free the reserve now, so the writes that follow (deleting records
        # to make room) can still append to the WAL.
        if isinstance(error, QuotaExceededError) and self._reserve is not None:
            self._reserve.release()
        return error

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
            error = _map_error(exc, self.path, timeout=self._timeout)
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
        error = self._out_of_space(_map_error(exc, self.path, self.closed, self._timeout))
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
        if self._turns is not None:
            self._turns.close()
        try:
            self._abandon()
            self._conn.close()
        except sqlite3.Error as exc:
            raise _map_error(exc, self.path, timeout=self._timeout) from None

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
