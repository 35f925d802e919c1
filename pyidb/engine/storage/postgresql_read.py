"""Reads of the PostgreSQL storage (shared by its writer connection and its read views) and
every SQL statement the storage runs.

A readonly transaction reads through a :class:`ReadView`: a pooled connection holding one
``REPEATABLE READ READ ONLY`` transaction, one consistent snapshot for the whole IndexedDB
transaction. Statements are composed once per schema (the schema quoted by psycopg, never
interpolated by hand) and rendered to plain strings, so psycopg's query cache and its automatic
server-side prepare (after a few executions) apply to every call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...errors import Error
from .chunks import chunked_scan

try:  # an optional dependency: pip install 'pyidb[postgresql]'
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]


def _bounds(lo: bytes | None, hi: bytes | None) -> str:
    return "tree=%s" + (" AND key>=%s" if lo is not None else "") + (" AND key<%s" if hi is not None else "")


def params(tree: int, lo: bytes | None, hi: bytes | None) -> tuple[Any, ...]:
    """The parameters of a bounded statement of :func:`statements`."""
    return (tree, *(b for b in (lo, hi) if b is not None))


def statements(schema: str, conn: Any) -> dict[Any, Any]:
    """Every statement the storage runs on ``schema``'s ``kv`` table, as strings."""
    kv = sql.Identifier(schema, "kv")
    t: dict[Any, Any] = {
        "get": sql.SQL("SELECT value FROM {} WHERE tree=%s AND key=%s").format(kv),
        # A write transaction's get: the key's value, or the next key (the gap before it is
        # empty, which the write buffer remembers) -- the same index seek as a plain get.
        "get_next": sql.SQL(
            "SELECT key, CASE WHEN key=%s THEN value END FROM {} WHERE tree=%s AND key>=%s "
            "ORDER BY key LIMIT 1"
        ).format(kv),
        "put": sql.SQL(
            "INSERT INTO {} (tree, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (tree, key) DO UPDATE SET value=EXCLUDED.value"
        ).format(kv),
        # Arrays of bytea go binary (%b): psycopg's text form escapes each element in Python.
        "put_many": sql.SQL(
            "INSERT INTO {} (tree, key, value) SELECT %s, k, v FROM unnest(%b::bytea[], %b::bytea[]) "
            "AS u(k, v) ON CONFLICT (tree, key) DO UPDATE SET value=EXCLUDED.value"
        ).format(kv),
        # Rows known to be new (see probe) are copied: COPY is PostgreSQL's fastest insert.
        "copy": sql.SQL("COPY {} (tree, key, value) FROM STDIN (FORMAT BINARY)").format(kv),
        # Is any row stored between a batch's least and greatest key? If not, all are new.
        "probe": sql.SQL("SELECT 1 FROM {} WHERE tree=%s AND key>=%s AND key<=%s LIMIT 1").format(kv),
        "delete": sql.SQL("DELETE FROM {} WHERE tree=%s AND key=%s").format(kv),
        "delete_many": sql.SQL("DELETE FROM {} WHERE tree=%s AND key=ANY(%b::bytea[])").format(kv),
        "trees": sql.SQL("SELECT DISTINCT tree FROM {} ORDER BY tree").format(kv),
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
    return {name: query.as_string(conn) for name, query in t.items()}


class Reader:
    """The read methods of the Storage interface over ``self._conn``."""

    _conn: Any
    _t: dict[Any, str]

    def _fail(self, exc: Exception) -> Error:
        raise NotImplementedError

    def _run(self, query: Any, args: tuple[Any, ...]) -> Any:
        try:
            return self._conn.execute(query, args)
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
            return self._run(query, (*params(tree, lo, hi), n)).fetchall()

        if limit is not None:
            return iter(fetch(lo, hi, limit))
        return chunked_scan(fetch, lo, hi, reverse)

    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int:
        """How many keys with lo <= key < hi: ``s.count(1, b"a")``."""
        if lo is not None and hi is not None and lo >= hi:
            return 0
        query = self._t["count", lo is not None, hi is not None]
        return self._run(query, params(tree, lo, hi)).fetchone()[0]


class ReadView(Reader):
    """One readonly transaction's snapshot: ``view = storage.begin_read()``."""

    def __init__(self, storage: Any, conn: Any) -> None:
        self._storage = storage
        self._conn = conn
        self._t = storage._t
        # One cursor for every read of the view (each result is read out before the next
        # statement): no cursor object made per point get.
        self._cursor = conn.cursor()
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def _run(self, query: Any, args: tuple[Any, ...]) -> Any:
        try:
            return self._cursor.execute(query, args)
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
