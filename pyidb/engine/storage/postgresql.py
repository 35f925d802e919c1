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

Round trips: under the write lock nothing but this transaction changes the schema, so a write
transaction's puts and deletes wait in a :class:`~.postgresql_buffer.WriteBuffer` and go out a
batch at a time: a ``COPY`` of the batch's new keys (a bulk load), else one ``INSERT ... unnest``
/ ``DELETE ... ANY`` per tree; before a read of that tree, on a helper thread while the engine
prepares the next batch once the buffer is full (:data:`~.postgresql_buffer.FLUSH_ROWS`), and in
the same pipeline as the COMMIT. A get learns the empty gap after its key, so filling a store in
key order reads once, not once per record. A
write error (a full disk, a lost connection) is then raised by the call that sends the batch
(a later read, or the commit) and the transaction is lost as before: nothing of it is kept.
Keys near PostgreSQL's index entry limit are written at once, under a savepoint, so such a key
fails alone with DataError.

::

    s = PostgreSQLStorage("postgresql://app@127.0.0.1:5432/app", schema="pyidb")
    s.begin_write(); s.put(1, b"k", b"v"); s.commit()
"""

from __future__ import annotations

import threading
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
from .postgresql_buffer import FLUSH_ROWS, WriteBuffer, pipeline, send_batches
from .postgresql_read import Reader, ReadView, params, statements
from .postgresql_schema import FORMAT_VERSION, check_schema_name, initialize, lock_key, redact

try:  # an optional dependency: pip install 'pyidb[postgresql]'
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

__all__ = ["FORMAT_VERSION", "PostgreSQLStorage", "check_schema_name"]

# Keys longer than this may exceed PostgreSQL's btree entry limit (2704 bytes after compression);
# writes of such keys run under a savepoint so a refusal fails that write alone.
_BIG_KEY = 2000

_SYNCHRONOUS = {"default": "on", "strict": "on", "relaxed": "off"}


class PostgreSQLStorage(Reader, Storage):
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
        self._lock_id = lock_key(schema)
        self._in_write = False
        self._buffer = WriteBuffer()
        # A full batch is sent by a helper thread while the engine goes on encoding records
        # (PostgreSQL stores one batch while Python prepares the next); every other use of the
        # connection first waits for it (_settle).
        self._behind: tuple[threading.Thread, list[BaseException]] | None = None
        self._lost: Error | None = None  # set when PostgreSQL aborted the open write transaction
        self._idle_readers: list[Any] = []
        self.closed = False
        self._conn = self._connect()
        try:
            self._t = statements(schema, self._conn)
            initialize(self._conn, schema, self._where())
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
                f"cannot connect to PostgreSQL ({redact(self._conninfo)}): {str(exc).strip()}"
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
            with pipeline(conn):  # BEGIN, lock and settings: one round trip
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                if level == "off":
                    conn.execute("SET LOCAL synchronous_commit = off")
                if wait:
                    wait_ms = f"{int(self._timeout * 1000)}ms"
                    conn.execute("SELECT set_config('lock_timeout', %s, true)", (wait_ms,))
                    # LockNotAvailable after the timeout
                    got_lock = conn.execute("SELECT pg_advisory_xact_lock(%s), true", (self._lock_id,))
                else:
                    got_lock = conn.execute("SELECT 0, pg_try_advisory_xact_lock(%s)", (self._lock_id,))
            if not got_lock.fetchone()[1]:
                conn.execute("ROLLBACK")
                return False
        except psycopg.errors.LockNotAvailable:
            self._quiet_rollback()
            return False
        except psycopg.Error as exc:
            self._quiet_rollback()
            raise self._map(exc) from None
        self._buffer.clear()
        self._in_write = True
        return True

    @property
    def lock_timeout(self) -> float:
        """Seconds a writer waits for another process's write lock before giving up."""
        return self._timeout

    def commit(self) -> None:
        """Send the buffered writes and COMMIT (one round trip): durable when this returns; on
        failure nothing of the transaction is kept."""
        if not self._in_write:
            raise self._not_in_write("commit")
        self._in_write = False
        if self._lost is not None:
            error, self._lost = self._lost_error("commit"), None
            self._buffer.clear()
            self._quiet_rollback()
            raise error
        try:
            self._send(None, commit=True)
        except psycopg.Error as exc:
            error = self._map(exc)
            self._quiet_rollback()
            raise error from None
        finally:
            self._buffer.clear()

    def rollback(self) -> None:
        """Undo the transaction: ``s.rollback()`` (a lost connection has undone it already)."""
        if not self._in_write:
            raise self._not_in_write("rollback")
        self._in_write = False
        self._lost = None
        self._buffer.clear()
        self._quiet_rollback()

    def _quiet_rollback(self) -> None:
        # A failed or dropped transaction: PostgreSQL keeps nothing of it either way.
        try:
            self._settle()
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

    def begin_read(self) -> ReadView:
        """A REPEATABLE READ snapshot on a pooled connection: ``view = s.begin_read()``."""
        self._check_open()
        conn = self._idle_readers.pop() if self._idle_readers else None
        if conn is None or conn.broken:
            conn = self._connect()
        return ReadView(self, conn)

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
        try:
            self._settle()
        except psycopg.Error:
            pass  # rolled back above
        self._buffer.clear()
        self.closed = True
        for conn in [*self._idle_readers, self._conn]:
            conn.close()
        self._idle_readers.clear()

    # -- the write buffer -----------------------------------------------------------------

    def _send(self, tree: int | None, commit: bool = False) -> None:
        """Send the buffered writes (of ``tree``, or all), with the COMMIT if ``commit``.
        Raises psycopg's error (also one of a batch sent behind)."""
        self._settle()
        batches = self._buffer.take(tree)
        if batches or commit:
            send_batches(self._conn, self._t, batches, commit)

    def _send_behind(self) -> None:
        """The buffer is full: send it on a helper thread (after the previous one is done)."""
        try:
            self._settle()
        except psycopg.Error as exc:
            raise self._fail(exc) from None
        batches = self._buffer.take(None)
        errors: list[BaseException] = []

        def send() -> None:
            try:
                send_batches(self._conn, self._t, batches)
            except BaseException as exc:  # raised by the next call that uses the connection
                errors.append(exc)

        thread = threading.Thread(target=send, name="pyidb-pg-send", daemon=True)
        self._behind = thread, errors
        thread.start()

    def _settle(self) -> None:
        """Wait for the batch sent behind, if any; raise its error."""
        if self._behind is not None:
            (thread, errors), self._behind = self._behind, None
            thread.join()
            if errors:
                raise errors[0]

    def _run(self, query: Any, args: tuple[Any, ...]) -> Any:
        try:
            self._settle()
            return self._conn.execute(query, args)
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def _flush(self, tree: int | None = None) -> None:
        """Send the buffered writes before a read that must see them."""
        if self._buffer.size or self._behind is not None:
            try:
                self._send(tree)
            except psycopg.Error as exc:
                raise self._fail(exc) from None

    def _writable(self, op: str) -> None:
        if not self._in_write:
            raise self._not_in_write(op)
        if self._lost is not None:
            raise self._lost_error(op)

    # -- reads inside the write transaction -------------------------------------------------

    def get(self, tree: int, key: bytes) -> bytes | None:
        """The value for ``key`` or None: ``s.get(1, b"a")`` (a write transaction's buffered
        writes included)."""
        if not self._in_write:
            return Reader.get(self, tree, key)
        if self._lost is not None:
            raise self._lost_error("get")
        known, value = self._buffer.lookup(tree, key)
        if known:
            return value
        row = self._run(self._t["get_next"], (key, tree, key)).fetchone()
        if row is None:
            self._buffer.learn_absent(tree, key, None)
            return None
        if row[0] != key:
            self._buffer.learn_absent(tree, key, row[0])
            return None
        return row[1]

    def scan(self, tree: int, lo: bytes | None = None, hi: bytes | None = None, *,
             reverse: bool = False, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with lo <= key < hi in key order: ``list(s.scan(1, b"a", b"b", reverse=True))``."""
        if self._in_write:
            self._flush(tree)
        return Reader.scan(self, tree, lo, hi, reverse=reverse, limit=limit)

    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int:
        """How many keys with lo <= key < hi: ``s.count(1, b"a")``."""
        if self._in_write:
            self._flush(tree)
        return Reader.count(self, tree, lo, hi)

    # -- writes ---------------------------------------------------------------------------

    def _direct(self, op: str, query: str, args: tuple[Any, ...]) -> Any:
        """Run a write now, under a SAVEPOINT: a key near PostgreSQL's index entry limit may be
        refused, and only this write must fail (the engine reports DataError and the
        transaction goes on, as in IndexedDB)."""
        try:
            self._settle()
            with self._conn.transaction():
                return self._conn.execute(query, args)
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def put(self, tree: int, key: bytes, value: bytes) -> None:
        """Insert or overwrite one pair: ``s.put(1, b"a", b"1")``."""
        self._writable("put")
        if len(key) > _BIG_KEY:
            self._direct("put", self._t["put"], (tree, key, value))
            self._buffer.wrote(tree, [key])
            return
        self._buffer.put(tree, key, value)
        if self._buffer.size >= FLUSH_ROWS:
            self._send_behind()

    def put_many(self, tree: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Put many pairs: ``s.put_many(1, [(b"a", b"1"), (b"b", b"2")])``."""
        self._writable("put_many")
        pairs = dict(items)  # one row per key: the last value wins, as puts one by one would
        if any(len(k) > _BIG_KEY for k in pairs):
            # All or nothing, at once: a refused key fails this call alone.
            self._direct("put_many", self._t["put_many"], (tree, list(pairs), list(pairs.values())))
            self._buffer.drop(tree, pairs)
            self._buffer.wrote(tree, pairs)
            return
        self._buffer.put_many(tree, pairs)
        if self._buffer.size >= FLUSH_ROWS:
            self._send_behind()

    def delete(self, tree: int, key: bytes) -> bool:
        """Delete one pair; True if it existed: ``s.delete(1, b"a")``."""
        self._writable("delete")
        pending = self._buffer.pending.get(tree)
        if pending is not None and key in pending:
            existed = pending[key] is not None
            if existed:
                self._buffer.put(tree, key, None)
            return existed
        if self._buffer.known_absent(tree, key):
            return False
        return self._run(self._t["delete"], (tree, key)).rowcount > 0

    def delete_range(self, tree: int, lo: bytes | None, hi: bytes | None) -> int:
        """Delete every pair with lo <= key < hi; how many: ``s.delete_range(1, None, None)``."""
        self._writable("delete_range")
        if lo is not None and hi is not None and lo >= hi:
            return 0
        self._flush(tree)
        query = self._t["delete_range", lo is not None, hi is not None]
        deleted = self._run(query, params(tree, lo, hi)).rowcount
        self._buffer.learn_absent(tree, b"" if lo is None else lo, hi)
        return deleted

    def trees(self) -> list[int]:
        """The ids of the trees holding at least one pair, ascending: ``s.trees()``."""
        if self._in_write:
            self._flush()
        return [r[0] for r in self._run(self._t["trees"], ())]

    def query_plan(self, tree: int, lo: bytes | None, hi: bytes | None, reverse: bool = False) -> list[str]:
        """PostgreSQL's EXPLAIN for a bounded scan (tests, diagnostics): ``s.query_plan(1, b"a", b"b")``."""
        query = self._t["scan", lo is not None, hi is not None, reverse]
        rows = self._run("EXPLAIN " + query, (*params(tree, lo, hi), 10)).fetchall()
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
            self._settle()
            schema = sql.Identifier(self.schema)
            self._conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        except psycopg.Error as exc:
            raise self._map(exc) from None
        self.close()
