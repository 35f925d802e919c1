"""The PostgreSQL storage: every tree in one ``kv`` table keyed by (tree, key bytea), per schema.

PostgreSQL compares ``bytea`` values bytewise (memcmp, then length; no collation), which is the
order :mod:`pyidb.key_encoding` produces, so ranges and cursors are primary-key index seeks
(``WHERE tree=%s AND key>=%s AND key<%s ORDER BY key LIMIT n``); no read loads a whole store.

Transactions:

* a write transaction is one PostgreSQL transaction holding a transaction-scoped advisory lock
  for the schema (``pg_try_advisory_xact_lock``): writers of every process and machine on that
  schema run one after another, and the lock goes away with the transaction, even if the client
  dies (PostgreSQL ends the session);
* a read view (readonly transaction) is a ``REPEATABLE READ READ ONLY`` transaction on a pooled
  connection: one consistent snapshot for the whole IndexedDB transaction;
* commit is PostgreSQL's COMMIT (``synchronous_commit`` on: durable when it returns; the
  "relaxed" durability sets it off for that transaction); a rollback leaves nothing.

::

    s = PostgreSQLStorage("postgresql://app@127.0.0.1:5432/app", schema="pyidb")
    s.begin_write(); s.put(1, b"k", b"v"); s.commit()
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ...errors import (
    DataError,
    Error,
    InvalidArgumentError,
    InvalidStateError,
    QuotaExceededError,
    UnknownError,
)
from .base import Storage, StorageBusyError, not_in_write
from .chunks import chunked_scan

try:  # an optional dependency: pip install 'pyidb[postgresql]'
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

__all__ = ["FORMAT_VERSION", "PostgreSQLStorage", "check_schema_name"]

#: Bumped whenever the table layout changes; newer schemas are refused, never misread.
FORMAT_VERSION = 1
_APPLICATION = "pyidb"

# A plain lower-case identifier: never needs quoting, never truncated (PostgreSQL keeps 63
# bytes of an identifier and silently drops the rest).
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = ("public", "information_schema")

# Keys longer than this may exceed PostgreSQL's btree entry limit (2704 bytes after compression);
# writes of such keys run under a savepoint so a refusal fails that write alone.
_BIG_KEY = 2000

_SYNCHRONOUS = {"default": "on", "strict": "on", "relaxed": "off"}
# Serializes first-time schema creation between processes (CREATE SCHEMA IF NOT EXISTS races).
_INIT_LOCK = 0x70796964  # "pyid"


def check_schema_name(name: Any) -> str:
    """``name`` if it can be a pyidb schema, else InvalidArgumentError saying why.

    >>> check_schema_name("pyidb")
    'pyidb'
    """
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"a PostgreSQL schema name for pyidb must be 1-63 characters of a-z, 0-9 and _, not "
            f"starting with a digit; got {name!r}"
        )
    if name in _RESERVED or name.startswith("pg_"):
        raise InvalidArgumentError(
            f"the schema name {name!r} is reserved by PostgreSQL (public, information_schema, "
            "pg_*); pyidb keeps its tables in a schema of their own"
        )
    return name


def _lock_key(schema: str) -> int:
    """The advisory lock id of a schema's writers (a signed 64-bit int; a hash collision only
    makes two schemas' writers wait for each other, never mixes data)."""
    digest = hashlib.blake2b(f"pyidb-writer:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _bounds(lo: bytes | None, hi: bytes | None) -> str:
    return "tree=%s" + (" AND key>=%s" if lo is not None else "") + (" AND key<%s" if hi is not None else "")


def _params(tree: int, lo: bytes | None, hi: bytes | None) -> tuple[Any, ...]:
    return (tree, *(b for b in (lo, hi) if b is not None))


class _Reader:
    """The read methods of the Storage interface over ``self._conn``."""

    _conn: Any
    _t: dict[str, Any]

    def _fail(self, exc: Exception) -> Error:
        raise NotImplementedError

    def _run(self, query: Any, params: tuple[Any, ...]) -> Any:
        try:
            return self._conn.execute(query, params)
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def get(self, tree: int, key: bytes) -> bytes | None:
        """The value for ``key`` or None: ``s.get(1, b"a")``."""
        row = self._run(self._t["get"], (tree, key)).fetchone()
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
        """Pairs with lo <= key < hi in key order: ``list(s.scan(1, b"a", b"b", reverse=True))``."""
        if (lo is not None and hi is not None and lo >= hi) or (limit is not None and limit <= 0):
            return iter(())

        def fetch(lo: bytes | None, hi: bytes | None, n: int) -> list[tuple[bytes, bytes]]:
            query = self._t["scan", lo is not None, hi is not None, reverse]
            return self._run(query, (*_params(tree, lo, hi), n)).fetchall()

        if limit is not None:
            return iter(fetch(lo, hi, limit))
        return chunked_scan(fetch, lo, hi, reverse)

    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int:
        """How many keys with lo <= key < hi: ``s.count(1, b"a")``."""
        if lo is not None and hi is not None and lo >= hi:
            return 0
        query = self._t["count", lo is not None, hi is not None]
        return self._run(query, _params(tree, lo, hi)).fetchone()[0]


def _statements(schema: str) -> dict[Any, Any]:
    """Every statement the storage runs, composed once with the schema quoted by psycopg."""
    kv = sql.Identifier(schema, "kv")
    t: dict[Any, Any] = {
        "get": sql.SQL("SELECT value FROM {} WHERE tree=%s AND key=%s").format(kv),
        "put": sql.SQL(
            "INSERT INTO {} (tree, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (tree, key) DO UPDATE SET value=EXCLUDED.value"
        ).format(kv),
        "put_many": sql.SQL(
            "INSERT INTO {} (tree, key, value) SELECT %s, k, v FROM unnest(%s::bytea[], %s::bytea[]) "
            "AS u(k, v) ON CONFLICT (tree, key) DO UPDATE SET value=EXCLUDED.value"
        ).format(kv),
        "delete": sql.SQL("DELETE FROM {} WHERE tree=%s AND key=%s").format(kv),
    }
    for lo in (False, True):
        for hi in (False, True):
            where = sql.SQL(_bounds(b"" if lo else None, b"" if hi else None))
            t["count", lo, hi] = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(kv, where)
            t["delete_range", lo, hi] = sql.SQL("DELETE FROM {} WHERE {}").format(kv, where)
            for rev in (False, True):
                order = sql.SQL("DESC" if rev else "ASC")
                t["scan", lo, hi, rev] = sql.SQL(
                    "SELECT key, value FROM {} WHERE {} ORDER BY key {} LIMIT %s"
                ).format(kv, where, order)
    return t


class _ReadView(_Reader):
    """One readonly transaction's snapshot: ``view = storage.begin_read()``."""

    def __init__(self, storage: PostgreSQLStorage, conn: Any) -> None:
        self._storage = storage
        self._conn = conn
        self._t = storage._t
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def _fail(self, exc: Exception) -> Error:
        return self._storage._map(exc)

    def end(self) -> Any:
        try:
            self._conn.execute("COMMIT")
        except psycopg.Error as exc:
            raise self._fail(exc) from None
        return self._conn


class PostgreSQLStorage(_Reader, Storage):
    """Ordered ``bytes -> bytes`` trees in a PostgreSQL schema, shared by any number of processes.

    >>> s = PostgreSQLStorage("postgresql://postgres@127.0.0.1:5432/postgres", schema="app")

    ``conninfo`` is a libpq connection string or URL; ``schema`` the schema holding pyidb's
    tables (created on first use); ``timeout`` how long a writer waits for another process's
    write lock before failing with UnknownError.
    """

    durable = True
    shared = True  # other processes and machines write the same schema
    #: Every call is a network round trip: the engine runs it on its worker thread.
    blocking_io = True

    def __init__(self, conninfo: str, *, schema: str = "pyidb", timeout: float = 10.0) -> None:
        if psycopg is None:
            raise InvalidStateError(
                "the PostgreSQL storage needs psycopg 3: pip install 'pyidb[postgresql]'"
            )
        self.schema = check_schema_name(schema)
        self._conninfo = conninfo
        self._timeout = timeout
        self._lock_id = _lock_key(schema)
        self._t = _statements(schema)
        self._in_write = False
        self._lost: Error | None = None  # set when PostgreSQL aborted the open write transaction
        self._idle_readers: list[Any] = []
        self.closed = False
        self._conn = self._connect()
        try:
            self._initialize()
        except BaseException:
            self._conn.close()
            self.closed = True
            raise

    # -- connections and errors -----------------------------------------------------------

    def _where(self) -> str:
        return f"schema {self.schema!r} of PostgreSQL"

    def _closed_error(self) -> InvalidStateError:
        return InvalidStateError(f"the PostgreSQL storage for {self._where()} is closed; open a new factory")

    def _connect(self) -> Any:
        try:
            # autocommit: no implicit BEGINs; the storage issues BEGIN/COMMIT itself, so no
            # write is ever committed on its own.
            timeout = max(1, int(self._timeout))
            return psycopg.connect(self._conninfo, autocommit=True, connect_timeout=timeout)
        except psycopg.Error as exc:
            raise UnknownError(
                f"cannot connect to PostgreSQL ({_redact(self._conninfo)}): {str(exc).strip()}"
            ) from None

    def _map(self, exc: Exception) -> Error:
        """The pyidb error for a psycopg error."""
        if self.closed:
            return self._closed_error()
        state = getattr(exc, "sqlstate", None) or ""
        text = str(exc).strip()
        if state == "53100" or state == "53200":  # disk_full, out_of_memory
            return QuotaExceededError(f"PostgreSQL cannot store more ({text}); free space on the server")
        if state == "54000" and "index row" in text:  # program_limit_exceeded: btree entry size
            return DataError(
                "a key (or index key plus primary key) is too long for PostgreSQL's index "
                f"(about 2.7 KB after compression): {text}. Use shorter keys"
            )
        if isinstance(exc, psycopg.OperationalError):
            return UnknownError(
                f"the connection to PostgreSQL was lost or refused ({text}); the transaction "
                "did not commit: try again"
            )
        return UnknownError(f"PostgreSQL failed on {self._where()}: {text}")

    def _fail(self, exc: Exception) -> Error:
        """Map ``exc``; if it left the write transaction unusable, remember that (any later
        write or the commit then fails, so no part of the transaction is ever kept)."""
        error = self._map(exc)
        if self._in_write and not self.closed and self._lost is None:
            status = self._conn.info.transaction_status
            if self._conn.broken or status != psycopg.pq.TransactionStatus.INTRANS:
                self._lost = error
        return error

    def _lost_error(self, op: str) -> Error:
        lost = self._lost
        assert lost is not None
        return type(lost)(
            f"the write transaction failed earlier and PostgreSQL rolled it back, so {op}() cannot "
            f"proceed; start again. The earlier error: {lost.message}"
        )

    def _check_open(self) -> None:
        if self.closed:
            raise self._closed_error()
        if self._conn.broken and not self._in_write:
            self._conn = self._connect()  # the server restarted: start afresh between transactions

    # -- opening --------------------------------------------------------------------------

    def _initialize(self) -> None:
        """Create the schema and tables if missing; refuse a schema that is not pyidb's."""
        schema = sql.Identifier(self.schema)
        conn = self._conn
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
                exists = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname=%s", (self.schema,)
                ).fetchone()
                if exists is None:
                    conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                    conn.execute(sql.SQL(
                        "CREATE TABLE {}.meta (name text PRIMARY KEY, value text NOT NULL)"
                    ).format(schema))
                    conn.execute(sql.SQL(
                        "CREATE TABLE {}.kv (tree integer NOT NULL, key bytea NOT NULL, "
                        "value bytea NOT NULL, PRIMARY KEY (tree, key))"
                    ).format(schema))
                    conn.execute(
                        sql.SQL("INSERT INTO {}.meta (name, value) VALUES (%s, %s), (%s, %s)").format(schema),
                        ("application", _APPLICATION, "format_version", str(FORMAT_VERSION)),
                    )
                self._check_format()
        except psycopg.Error as exc:
            raise self._map(exc) from None

    def _check_format(self) -> None:
        tables = {
            r[0] for r in self._conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname=%s", (self.schema,)
            ).fetchall()
        }
        meta: dict[str, str] = {}
        if {"meta", "kv"} <= tables:
            meta = dict(self._conn.execute(
                sql.SQL("SELECT name, value FROM {}.meta").format(sql.Identifier(self.schema))
            ).fetchall())
        if meta.get("application") != _APPLICATION:
            raise UnknownError(
                f"the {self._where()} exists but is not pyidb's (it has the tables {sorted(tables)}); "
                "pyidb left it untouched. Use another schema for pyidb's data."
            )
        version = int(meta["format_version"]) if meta.get("format_version", "").isdigit() else -1
        if version > FORMAT_VERSION:
            raise UnknownError(
                f"the {self._where()} was written by a newer pyidb (storage format {version}; this "
                f"pyidb reads format {FORMAT_VERSION}); upgrade pyidb to open it"
            )
        if version < 1:
            raise UnknownError(f"the {self._where()} has an unreadable pyidb format version")

    # -- transactions ---------------------------------------------------------------------

    def begin_write(self, durability: str = "default") -> None:
        """Wait (up to the timeout) for the schema's write lock: ``s.begin_write()``."""
        if not self._begin(durability, wait=True):
            raise StorageBusyError(
                f"another process kept the write lock of the {self._where()} for more than "
                f"{self._timeout} s; try again later"
            )

    def try_begin_write(self, durability: str = "default") -> bool:
        """Open the write transaction if no other process is writing; else False at once."""
        return self._begin(durability, wait=False)

    def _begin(self, durability: str, wait: bool) -> bool:
        self._check_open()
        if self._in_write:
            raise InvalidStateError(
                "PostgreSQLStorage.begin_write() while a write transaction is already open; only "
                "one writer at a time is allowed. This is a bug in pyidb's engine, please report it."
            )
        level = _SYNCHRONOUS.get(durability)
        if level is None:
            raise InvalidArgumentError(
                f"durability must be 'default', 'strict' or 'relaxed', not {durability!r}"
            )
        conn = self._conn
        try:
            conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            if wait:
                wait_ms = f"{int(self._timeout * 1000)}ms"
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (wait_ms,))
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_id,))  # or LockNotAvailable
                got = True
            else:
                got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (self._lock_id,)).fetchone()[0]
            if not got:
                conn.execute("ROLLBACK")
                return False
            if level == "off":
                conn.execute("SET LOCAL synchronous_commit = off")
        except psycopg.errors.LockNotAvailable:
            self._quiet_rollback()
            return False
        except psycopg.Error as exc:
            self._quiet_rollback()
            raise self._map(exc) from None
        self._in_write = True
        return True

    @property
    def lock_timeout(self) -> float:
        """Seconds a writer waits for another process's write lock before giving up."""
        return self._timeout

    def commit(self) -> None:
        """COMMIT: durable when this returns; on failure nothing of the transaction is kept."""
        if not self._in_write:
            raise self._not_in_write("commit")
        self._in_write = False
        if self._lost is not None:
            error, self._lost = self._lost_error("commit"), None
            self._quiet_rollback()
            raise error
        try:
            self._conn.execute("COMMIT")
        except psycopg.Error as exc:
            error = self._map(exc)
            self._quiet_rollback()
            raise error from None

    def rollback(self) -> None:
        """Undo the transaction: ``s.rollback()`` (a lost connection has undone it already)."""
        if not self._in_write:
            raise self._not_in_write("rollback")
        self._in_write = False
        self._lost = None
        self._quiet_rollback()

    def _quiet_rollback(self) -> None:
        # A failed or dropped transaction: PostgreSQL keeps nothing of it either way.
        try:
            if not self._conn.closed and not self._conn.broken:
                self._conn.execute("ROLLBACK")
        except psycopg.Error:
            pass

    @property
    def in_write(self) -> bool:
        """True between begin_write and commit/rollback."""
        return self._in_write

    def _not_in_write(self, op: str) -> Error:
        return self._closed_error() if self.closed else not_in_write(self, op)

    def begin_read(self) -> _ReadView:
        """A REPEATABLE READ snapshot on a pooled connection: ``view = s.begin_read()``."""
        self._check_open()
        conn = self._idle_readers.pop() if self._idle_readers else None
        if conn is None or conn.broken:
            conn = self._connect()
        return _ReadView(self, conn)

    def end_read(self, view: Any) -> None:
        """Finish a read view from :meth:`begin_read`; its connection goes back to the pool."""
        conn = view.end()
        if self.closed or len(self._idle_readers) >= 8:
            conn.close()
        else:
            self._idle_readers.append(conn)

    def close(self) -> None:
        """Roll back an open transaction and disconnect: ``s.close()``."""
        if self.closed:
            return
        if self._in_write:
            self._in_write = False
            self._lost = None
            self._quiet_rollback()
        self.closed = True
        for conn in [*self._idle_readers, self._conn]:
            conn.close()
        self._idle_readers.clear()

    # -- writes ---------------------------------------------------------------------------

    def _write(self, op: str, query: Any, params: tuple[Any, ...], big: bool = False) -> Any:
        if not self._in_write:
            raise self._not_in_write(op)
        if self._lost is not None:
            raise self._lost_error(op)
        if not big:
            return self._run(query, params)
        # A key near PostgreSQL's index entry limit may be refused: only this statement must
        # fail (the engine reports DataError and the transaction goes on, as in IndexedDB).
        try:
            with self._conn.transaction():  # a SAVEPOINT inside the open transaction
                return self._conn.execute(query, params)
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def put(self, tree: int, key: bytes, value: bytes) -> None:
        """Insert or overwrite one pair: ``s.put(1, b"a", b"1")``."""
        self._write("put", self._t["put"], (tree, key, value), len(key) > _BIG_KEY)

    def put_many(self, tree: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Put many pairs in one statement: ``s.put_many(1, [(b"a", b"1"), (b"b", b"2")])``."""
        # One row per key (the last value wins, as one put after another would leave it):
        # INSERT ... ON CONFLICT may not touch a row twice in one statement.
        pairs = dict(items)
        if pairs:
            big = any(len(k) > _BIG_KEY for k in pairs)
            self._write("put_many", self._t["put_many"], (tree, list(pairs), list(pairs.values())), big)

    def delete(self, tree: int, key: bytes) -> bool:
        """Delete one pair; True if it existed: ``s.delete(1, b"a")``."""
        return self._write("delete", self._t["delete"], (tree, key)).rowcount > 0

    def delete_range(self, tree: int, lo: bytes | None, hi: bytes | None) -> int:
        """Delete every pair with lo <= key < hi; how many: ``s.delete_range(1, None, None)``."""
        if lo is not None and hi is not None and lo >= hi and self._in_write:
            return 0
        query = self._t["delete_range", lo is not None, hi is not None]
        return self._write("delete_range", query, _params(tree, lo, hi)).rowcount

    def trees(self) -> list[int]:
        """The ids of the trees holding at least one pair, ascending: ``s.trees()``."""
        kv = sql.Identifier(self.schema, "kv")
        query = sql.SQL("SELECT DISTINCT tree FROM {} ORDER BY tree").format(kv)
        return [r[0] for r in self._run(query, ())]

    def query_plan(self, tree: int, lo: bytes | None, hi: bytes | None, reverse: bool = False) -> list[str]:
        """PostgreSQL's EXPLAIN for a bounded scan (tests, diagnostics): ``s.query_plan(1, b"a", b"b")``."""
        query = self._t["scan", lo is not None, hi is not None, reverse]
        rows = self._run(sql.SQL("EXPLAIN ") + query, (*_params(tree, lo, hi), 10)).fetchall()
        return [r[0] for r in rows]

    def sibling(self, schema: str) -> PostgreSQLStorage:
        """The storage of another schema on the same server (a scope's namespace):
        ``s.sibling("workplace_hub")``. Refuses this storage's own schema."""
        if schema == self.schema:
            raise InvalidArgumentError(
                f"the scope {schema!r} would share the tables of the unscoped factory (schema "
                f"{self.schema!r}); choose another scope name"
            )
        return PostgreSQLStorage(self._conninfo, schema=schema, timeout=self._timeout)

    def drop(self) -> None:
        """Delete the schema with all its data, then close (tests, teardown): ``s.drop()``."""
        self._check_open()
        try:
            schema = sql.Identifier(self.schema)
            self._conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        except psycopg.Error as exc:
            raise self._map(exc) from None
        self.close()


def _redact(conninfo: str) -> str:
    """A connection string fit for an error message (no password)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"password=\S+", "password=***", conninfo))
