"""The sync server's tables, on SQLite (``sqlite:///server.db``) or PostgreSQL
(``postgresql://user@host:port/db``), through plain SQL (sqlite3 / psycopg 3).

Why SQL and not the model client on a pyidb factory: exactly-once and commit order need the
sequence check, the change, the changelog entry and the scope's version counter in ONE database
transaction with a lock that serializes writers of a scope -- a few statements here, and they work
unchanged on PostgreSQL shared by several server processes.

Tables (all ``sync_*``): ``meta`` (the database's epoch), ``scopes`` (each scope's last version:
the lock and counter of its changelog), ``clients`` (client id -> scope, last applied seq),
``events`` (every applied or rejected event with its answer: the exactly-once record),
``records`` (current record or tombstone, its version and per-field versions), ``changelog``
(every version of every record: history and replay) and ``index`` (unique values and foreign keys
of live records, for the constraint checks).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS sync_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_scopes (scope TEXT PRIMARY KEY, version BIGINT NOT NULL, "
    "min_version BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS sync_clients (client_id TEXT PRIMARY KEY, scope TEXT NOT NULL, "
    "last_seq BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_events (client_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "event_id TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (client_id, seq))",
    "CREATE TABLE IF NOT EXISTS sync_records (model TEXT NOT NULL, key TEXT NOT NULL, "
    "scope TEXT NOT NULL, version BIGINT NOT NULL, deleted INTEGER NOT NULL, data TEXT, "
    "field_versions TEXT NOT NULL, client_id TEXT, PRIMARY KEY (model, key))",
    "CREATE INDEX IF NOT EXISTS sync_records_by_version ON sync_records (scope, version)",
    "CREATE TABLE IF NOT EXISTS sync_changelog (scope TEXT NOT NULL, version BIGINT NOT NULL, "
    "model TEXT NOT NULL, key TEXT NOT NULL, deleted INTEGER NOT NULL, data TEXT, "
    "client_id TEXT, seq BIGINT, PRIMARY KEY (scope, version))",
    "CREATE INDEX IF NOT EXISTS sync_changelog_by_record ON sync_changelog (scope, model, key, version)",
    # Unique field sets, foreign keys and link sides of live records (pyidb/sync/apply.py): the
    # server's constraint and onDelete checks are index lookups, not scans.
    "CREATE TABLE IF NOT EXISTS sync_index (scope TEXT NOT NULL, model TEXT NOT NULL, name TEXT NOT NULL, "
    "value TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (scope, model, name, value, key))",
    "CREATE INDEX IF NOT EXISTS sync_index_by_record ON sync_index (model, key)",
]


class Store:
    """One database; a connection per thread. ``with store.write(scope) as db:`` is a transaction
    that holds the scope's lock until it commits; ``with store.read() as db:`` a snapshot."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.url = url
        self.postgres = parsed.scheme in ("postgresql", "postgres")
        if not self.postgres and parsed.scheme != "sqlite":
            raise ValueError(f"--db must be sqlite:///path or postgresql://..., not {url!r}")
        self._path = url[len("sqlite:///"):] if not self.postgres else ""
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        with self._init_lock() as db:
            for statement in SCHEMA:
                db.execute(statement)
            db.execute("INSERT INTO sync_meta (name, value) VALUES ('epoch', ?) ON CONFLICT DO NOTHING",
                       (uuid.uuid4().hex,))
            self.epoch = db.execute("SELECT value FROM sync_meta WHERE name = 'epoch'").fetchone()[0]

    # -- connections ------------------------------------------------------------------------
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.postgres:
                import psycopg  # optional dependency: pip install 'pyidb[sync]'

                conn = psycopg.connect(self.url, autocommit=True)
            else:
                conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False,
                                       timeout=60)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # an acknowledged push survives a power cut
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[_Db]:
        conn = self._conn()
        db = _Db(conn, self.postgres)
        conn.execute(begin)
        try:
            yield db
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _init_lock(self) -> Iterator[_Db]:
        # Several server processes may start on one PostgreSQL at once: CREATE TABLE IF NOT EXISTS
        # is not safe against itself there, so table creation runs under an advisory lock.
        with self._transaction("BEGIN IMMEDIATE" if not self.postgres else "BEGIN") as db:
            if self.postgres:
                db.execute("SELECT pg_advisory_xact_lock(7316001)")
            yield db

    @contextmanager
    def write(self, scope: str) -> Iterator[_Db]:
        """A write transaction holding the lock of ``scope`` until it commits.

        Why a pull never skips a late commit: a version is taken from ``sync_scopes.version`` of
        the scope while holding that row's lock (SQLite: ``BEGIN IMMEDIATE`` is the single-writer
        lock of the whole file; PostgreSQL: ``SELECT ... FOR UPDATE`` locks the scope's row), and
        the lock is only released by COMMIT. So a transaction that takes version v+1 can only
        start after the one that took v has committed: versions become visible in the order they
        were assigned, and a reader that sees v+1 necessarily sees v. A pull answering "everything
        up to v+1" can therefore never have missed v. (A plain sequence or autoincrement would
        not give this: v could commit after v+1 and a reader that already moved to v+1 misses it.)
        """
        with self._transaction("BEGIN IMMEDIATE" if not self.postgres else "BEGIN") as db:
            db.execute("INSERT INTO sync_scopes (scope, version) VALUES (?, 0) ON CONFLICT DO NOTHING",
                       (scope,))
            if self.postgres:
                db.execute("SELECT version FROM sync_scopes WHERE scope = ? FOR UPDATE", (scope,))
            yield db
            db.flush_version()

    def migrate(self, name: str, value: str, fn: Any) -> None:
        """Run ``fn(db)`` once per ``value`` of ``sync_meta[name]`` (under the creation lock, so
        several servers starting on one database do it once)."""
        with self._init_lock() as db:
            row = db.execute("SELECT value FROM sync_meta WHERE name = ?", (name,)).fetchone()
            if row is None or row[0] != value:
                fn(db)
                db.execute("INSERT INTO sync_meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                           "DO UPDATE SET value = excluded.value", (name, value))

    @contextmanager
    def read(self) -> Iterator[_Db]:
        """A consistent snapshot over several statements."""
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if self.postgres else "BEGIN"
        with self._transaction(begin) as db:
            yield db


class _Db:
    """A transaction's connection with ``?`` placeholders on both databases."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn, self.postgres = conn, postgres
        self._scope: str | None = None
        self._version = self._stored_version = 0
        self._changes: list[tuple] = []  # changelog rows, inserted together before the commit

    def execute(self, sql: str, params: tuple = ()) -> Any:
        if self.postgres:
            sql = sql.replace("?", "%s")
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.postgres:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)
        else:
            self.conn.executemany(sql, rows)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo one event's statements on error without losing the batch's others."""
        self.execute("SAVEPOINT event")
        version, changes = self._version, len(self._changes)
        try:
            yield
        except BaseException:
            self._version = version  # the versions taken inside are given back with the writes
            del self._changes[changes:]
            self.execute("ROLLBACK TO SAVEPOINT event")
            self.execute("RELEASE SAVEPOINT event")
            raise
        self.execute("RELEASE SAVEPOINT event")

    def next_version(self, scope: str) -> int:
        """The scope's next changelog version (under the lock taken by :meth:`Store.write`, which
        is held until COMMIT: the counter is read once and written back once, by
        :meth:`flush_version` just before the commit)."""
        if self._scope is None:
            self._scope = scope
            self._version = self._stored_version = self.execute(
                "SELECT version FROM sync_scopes WHERE scope = ?", (scope,)).fetchone()[0]
        elif scope != self._scope:
            raise ValueError("one write transaction takes the versions of one scope")
        self._version += 1
        return self._version

    def log_change(self, row: tuple) -> None:
        """A changelog row ``(scope, version, model, key, deleted, data, client_id, seq)``: nothing
        reads the changelog inside a write transaction, so the rows go in at its end."""
        self._changes.append(row)

    def flush_version(self) -> None:
        """Before the commit: the changelog rows and the scope's version counter."""
        self.executemany("INSERT INTO sync_changelog (scope, version, model, key, deleted, data, "
                         "client_id, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._changes)
        self._changes.clear()
        if self._scope is not None and self._version != self._stored_version:
            self.execute("UPDATE sync_scopes SET version = ? WHERE scope = ?", (self._version, self._scope))
            self._stored_version = self._version
