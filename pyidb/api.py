"""The public API: thin abstract classes that every backend implements.

Names follow the W3C IndexedDB API in snake_case, so MDN maps 1:1 (``objectStore`` ->
``object_store``, ``openCursor`` -> ``open_cursor``). Backends (the pure-Python engine, the
browser) subclass these; the conveniences every backend shares live here once: ``async with`` on
transactions and connections, ``async for`` over cursors, and the one-shot shortcuts on
:class:`Database` that run their own transaction (as the JS library ``idb`` does).

Requests are issued when the method is *called* (as in JS) and return a :class:`~pyidb.Request`
to await; an invalid call raises at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Sequence
from itertools import repeat
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from .errors import AbortError, InvalidStateError
from .sync_future import SyncFuture

__all__ = [
    "Cursor",
    "CursorRequest",
    "CursorWithValue",
    "Database",
    "Factory",
    "Index",
    "ObjectStore",
    "Record",
    "Request",
    "Transaction",
]

Request = SyncFuture
"""What a store, index or cursor method returns: ``await`` it for the result."""

Key = Any
"""A valid IndexedDB key: int/float (not NaN), str, bytes, datetime, or a list of keys."""
Query = Any
"""A key, a :class:`~pyidb.KeyRange`, or None for everything."""
Direction = Literal["next", "nextunique", "prev", "prevunique"]
Mode = Literal["readonly", "readwrite", "versionchange"]
Durability = Literal["default", "strict", "relaxed"]
KeyPath = str | Sequence[str] | None

UpgradeCallback = Callable[["Database", int, int, "Transaction"], Awaitable[None] | None]
"""``upgrade(db, old_version, new_version, tx)``, plain or async."""
BlockedCallback = Callable[[int, int | None], Awaitable[None] | None]
"""``blocked(old_version, new_version)``: other connections keep the database open."""
VersionChangeCallback = Callable[["Database", int, int | None], Awaitable[None] | None]
"""``on_versionchange(db, old_version, new_version)``: another connection wants to upgrade or
delete the database; close ``db`` to let it."""

C = TypeVar("C", bound="Cursor")


class Record(NamedTuple):
    """One record from ``get_all_records`` (``IDBRecord``): ``key`` is the index key for an
    index (the primary key for a store). A tuple, so ``for key, primary_key, value in ...`` works.

    >>> [r.value for r in await store.get_all_records(direction="prev")]
    """

    key: Key
    primary_key: Key
    value: Any


def make_records(keys: Iterable[Key], primary_keys: Iterable[Key], values: Iterable[Any]
                 ) -> list[Record]:
    """Records from parallel lists, as the backends build thousands at once (``tuple.__new__``
    skips the Python-level ``__new__`` of a NamedTuple: noticeably faster in Pyodide)."""
    return list(map(tuple.__new__, repeat(Record), zip(keys, primary_keys, values, strict=True)))


class Factory(ABC):
    """Where databases live (``indexedDB`` in JS). Get one with :func:`pyidb.factory`."""

    url: str

    @abstractmethod
    async def open(
        self,
        name: str,
        version: int | None = None,
        *,
        upgrade: UpgradeCallback | None = None,
        blocked: BlockedCallback | None = None,
        blocking: VersionChangeCallback | None = None,
    ) -> Database:
        """Open (creating or upgrading) database ``name``.

        >>> db = await factory.open("app", 1, upgrade=lambda db, old, new, tx:
        ...     db.create_object_store("notes", key_path="id", auto_increment=True))
        """

    @abstractmethod
    async def delete_database(self, name: str, *, blocked: BlockedCallback | None = None) -> None:
        """Delete database ``name`` (no error if it does not exist)."""

    @abstractmethod
    async def databases(self) -> list[dict[str, Any]]:
        """``[{"name": ..., "version": ...}, ...]`` for the databases of this factory."""

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release keeps this
        """Release what the factory holds (a SQLite file); it is unusable afterwards.

        >>> async with pyidb.factory("sqlite:///notes.db") as f:  # closed on leaving the block
        ...     db = await f.open("notes", 1)
        """

    async def __aenter__(self) -> Factory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def cmp(self, a: Key, b: Key) -> int:
        """Compare two keys as IndexedDB orders them: -1, 0 or 1."""
        from .keys import cmp

        return cmp(a, b)

    def scoped(self, db: str, object_stores: Iterable[str] | None = None) -> Factory:
        """This factory's databases in namespace ``db``, limited to ``object_stores``.

        >>> hub = factory.scoped(db="workplace_hub", object_stores=["tasks"])
        >>> await hub.open("main", 1, upgrade=...)   # a store outside the list: NotFoundError

        See :mod:`pyidb.scopes` for what a scope guarantees.
        """
        from .scopes import scoped

        return scoped(self, db, object_stores)

    def _scope_target(self, db: str) -> tuple[Factory, str]:
        """Where scope ``db`` lives: (factory, database-name prefix). By default this factory
        with a length-prefixed name; a backend with real namespaces (PostgreSQL schemas)
        returns a factory of its own and no prefix."""
        from .scopes import scope_prefix

        return self, scope_prefix(db)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'url', '?')!r}>"


class Database(ABC):
    """A connection to one database (``IDBDatabase``)."""

    on_versionchange: VersionChangeCallback | None = None
    """Called when another connection upgrades or deletes this database; close the connection
    in it to let the other side go on. Unset, the connection stays open and the other side's
    ``blocked`` fires, exactly as in a browser."""
    on_close: Callable[[Database], Any] | None = None
    """Called when the connection is closed by the backend (not by :meth:`close`)."""

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    @abstractmethod
    def version(self) -> int: ...

    @property
    @abstractmethod
    def object_store_names(self) -> list[str]:
        """The store names, sorted as IndexedDB sorts them."""

    @abstractmethod
    def create_object_store(
        self, name: str, *, key_path: KeyPath = None, auto_increment: bool = False
    ) -> ObjectStore:
        """Create a store; only inside ``upgrade``."""

    @abstractmethod
    def delete_object_store(self, name: str) -> None:
        """Delete a store and its records; only inside ``upgrade``."""

    @abstractmethod
    def transaction(
        self,
        store_names: str | Sequence[str],
        mode: Literal["readonly", "readwrite"] = "readonly",
        *,
        durability: Durability = "default",
    ) -> Transaction:
        """Start a transaction over ``store_names``: ``async with db.transaction("s") as tx:``."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection once its transactions finish."""

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- one-shot shortcuts: each runs its own transaction ----------------------------------
    async def get(self, store_name: str, query: Query) -> Any:
        """The value of the first record matching ``query``, or None."""
        return await self.transaction(store_name).object_store(store_name).get(query)

    async def get_key(self, store_name: str, query: Query) -> Key | None:
        return await self.transaction(store_name).object_store(store_name).get_key(query)

    async def get_all(
        self, store_name: str, query: Query = None, count: int | None = None,
        direction: Direction = "next",
    ) -> list[Any]:
        store = self.transaction(store_name).object_store(store_name)
        return await store.get_all(query, count, direction)

    async def get_all_keys(
        self, store_name: str, query: Query = None, count: int | None = None,
        direction: Direction = "next",
    ) -> list[Key]:
        store = self.transaction(store_name).object_store(store_name)
        return await store.get_all_keys(query, count, direction)

    async def get_all_records(
        self, store_name: str, query: Query = None, count: int | None = None,
        direction: Direction = "next",
    ) -> list[Record]:
        """``await db.get_all_records("notes", count=10, direction="prev")``: the last 10."""
        store = self.transaction(store_name).object_store(store_name)
        return await store.get_all_records(query, count, direction)

    async def count(self, store_name: str, query: Query = None) -> int:
        return await self.transaction(store_name).object_store(store_name).count(query)

    async def get_from_index(self, store_name: str, index_name: str, query: Query) -> Any:
        store = self.transaction(store_name).object_store(store_name)
        return await store.index(index_name).get(query)

    async def get_all_from_index(
        self, store_name: str, index_name: str, query: Query = None, count: int | None = None,
        direction: Direction = "next",
    ) -> list[Any]:
        store = self.transaction(store_name).object_store(store_name)
        return await store.index(index_name).get_all(query, count, direction)

    async def count_from_index(
        self, store_name: str, index_name: str, query: Query = None
    ) -> int:
        store = self.transaction(store_name).object_store(store_name)
        return await store.index(index_name).count(query)

    async def add(self, store_name: str, value: Any, key: Key | None = None) -> Key:
        """Add a record and wait until it is committed; returns its key."""
        async with self.transaction(store_name, "readwrite") as tx:
            return await tx.object_store(store_name).add(value, key)

    async def put(self, store_name: str, value: Any, key: Key | None = None) -> Key:
        """Insert or replace a record and wait until it is committed; returns its key."""
        async with self.transaction(store_name, "readwrite") as tx:
            return await tx.object_store(store_name).put(value, key)

    async def delete(self, store_name: str, query: Query) -> None:
        async with self.transaction(store_name, "readwrite") as tx:
            await tx.object_store(store_name).delete(query)

    async def clear(self, store_name: str) -> None:
        async with self.transaction(store_name, "readwrite") as tx:
            await tx.object_store(store_name).clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} v{self.version}>"


class Transaction(ABC):
    """A transaction (``IDBTransaction``); use it as an async context manager::

        async with db.transaction(["notes"], "readwrite") as tx:
            await tx.object_store("notes").put({"id": 1, "text": "hi"})
        # committed here; an exception in the block aborts it and is re-raised
    """

    @property
    @abstractmethod
    def db(self) -> Database: ...

    @property
    @abstractmethod
    def mode(self) -> Mode: ...

    @property
    @abstractmethod
    def durability(self) -> Durability: ...

    @property
    @abstractmethod
    def object_store_names(self) -> list[str]: ...

    @property
    @abstractmethod
    def error(self) -> BaseException | None:
        """The error that aborted the transaction, if any."""

    @property
    @abstractmethod
    def done(self) -> Request[None]:
        """Await it: returns once committed, raises the abort's error if aborted."""

    @abstractmethod
    def object_store(self, name: str) -> ObjectStore: ...

    @abstractmethod
    def commit(self) -> None:
        """Commit now, without waiting for auto-commit."""

    @abstractmethod
    def abort(self) -> None:
        """Roll back every change this transaction made."""

    # Backend hooks for ``async with``.
    @abstractmethod
    def _is_active(self) -> bool:
        """True while requests may still be placed."""

    @abstractmethod
    def _is_finished(self) -> bool:
        """True once committed or aborted."""

    @abstractmethod
    def _aborted_by_user(self) -> bool:
        """True if :meth:`abort` was called (so leaving the block normally is no error)."""

    async def __aenter__(self) -> Transaction:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if exc is None:
            if self._is_active():
                self.commit()
            try:
                await self.done
            except AbortError:
                if not self._aborted_by_user():
                    raise
            return False
        if not self._is_finished():
            self._abort_for_exception(exc)  # type: ignore[arg-type]
        return False

    def _hold(self) -> None:
        """Keep the transaction open until commit() or abort() (the host socket's server side);
        only the engine can."""
        raise InvalidStateError(f"{type(self).__name__} cannot hold a transaction open")

    def _abort_for_exception(self, exc: BaseException) -> None:
        """Abort because ``exc`` escaped the ``async with`` block.

        Backends override this to keep a failed request's own error as ``tx.error`` when that
        error is what escaped (the browser's default action for an unhandled error event).
        """
        self.abort()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.mode} {self.object_store_names}>"


class _Readable(ABC):
    """Read methods shared by object stores and indexes."""

    @abstractmethod
    def get(self, query: Query) -> Request[Any]:
        """The value of the first record matching ``query`` (a key or KeyRange), or None."""

    @abstractmethod
    def get_key(self, query: Query) -> Request[Key | None]:
        """The primary key of the first record matching ``query``, or None."""

    @abstractmethod
    def get_all(
        self, query: Query = None, count: int | None = None, direction: Direction = "next"
    ) -> Request[list[Any]]:
        """Values of the records matching ``query`` in key order (``direction="prev"``:
        reversed; the ``*unique`` ones keep the first record of each index key), at most
        ``count``: ``await store.get_all(KeyRange.lower_bound(10), 5, "prev")``."""

    @abstractmethod
    def get_all_keys(
        self, query: Query = None, count: int | None = None, direction: Direction = "next"
    ) -> Request[list[Key]]:
        """Primary keys of the records matching ``query``, at most ``count``, in ``direction``."""

    @abstractmethod
    def get_all_records(
        self, query: Query = None, count: int | None = None, direction: Direction = "next"
    ) -> Request[list[Record]]:
        """Records (key, primary key, value: :class:`Record`) of the records matching ``query``, at
        most ``count``, in ``direction``: ``await index.get_all_records("Fred", 10, "prevunique")``.
        ``count`` above 2**32-1 or below 0 raises InvalidArgumentError (a TypeError in JS)."""

    @abstractmethod
    def count(self, query: Query = None) -> Request[int]: ...

    @abstractmethod
    def open_cursor(
        self, query: Query = None, direction: Direction = "next"
    ) -> CursorRequest[CursorWithValue]:
        """``await`` it for the first cursor (or None), or ``async for cursor in ...``."""

    @abstractmethod
    def open_key_cursor(
        self, query: Query = None, direction: Direction = "next"
    ) -> CursorRequest[Cursor]: ...


class ObjectStore(_Readable):
    """An object store (``IDBObjectStore``) within a transaction."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The store's name. Set it inside ``upgrade`` to rename the store (records, indexes and
        key generator stay): ``tx.object_store("notes").name = "memos"``."""

    @name.setter
    @abstractmethod
    def name(self, new_name: str) -> None: ...

    @property
    @abstractmethod
    def key_path(self) -> str | list[str] | None: ...

    @property
    @abstractmethod
    def auto_increment(self) -> bool: ...

    @property
    @abstractmethod
    def index_names(self) -> list[str]: ...

    @property
    @abstractmethod
    def transaction(self) -> Transaction: ...

    @abstractmethod
    def add(self, value: Any, key: Key | None = None) -> Request[Key]:
        """Insert a record; ConstraintError if the key exists. Returns the key."""

    @abstractmethod
    def put(self, value: Any, key: Key | None = None) -> Request[Key]:
        """Insert or replace a record. Returns the key."""

    @abstractmethod
    def delete(self, query: Query) -> Request[None]: ...

    @abstractmethod
    def clear(self) -> Request[None]: ...

    @abstractmethod
    def add_many(self, values: Iterable[Any], keys: Iterable[Key] | None = None) -> Request[list[Key]]:
        """Add many records as one request. A failing record aborts the transaction (even if
        the error is caught: a browser cannot take back the records stored before it)."""

    @abstractmethod
    def put_many(self, values: Iterable[Any], keys: Iterable[Key] | None = None) -> Request[list[Key]]:
        """Put many records as one request; a failing record aborts the transaction."""

    @abstractmethod
    def get_many(self, keys: Iterable[Key]) -> Request[list[Any]]:
        """The values for ``keys`` (None where a key has no record), as one request."""

    @abstractmethod
    def delete_many(self, keys: Iterable[Key]) -> Request[None]:
        """Delete the records for ``keys`` (or key ranges) as one request."""

    @abstractmethod
    def index(self, name: str) -> Index: ...

    @abstractmethod
    def create_index(
        self, name: str, key_path: str | Sequence[str], *, unique: bool = False,
        multi_entry: bool = False,
    ) -> Index:
        """Create an index; only inside ``upgrade``. Existing records are indexed."""

    @abstractmethod
    def delete_index(self, name: str) -> None: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Index(_Readable):
    """An index (``IDBIndex``) of an object store."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The index's name. Set it inside ``upgrade`` to rename the index:
        ``store.index("by_date").name = "by_day"``."""

    @name.setter
    @abstractmethod
    def name(self, new_name: str) -> None: ...

    @property
    @abstractmethod
    def key_path(self) -> str | list[str]: ...

    @property
    @abstractmethod
    def unique(self) -> bool: ...

    @property
    @abstractmethod
    def multi_entry(self) -> bool: ...

    @property
    @abstractmethod
    def object_store(self) -> ObjectStore: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Cursor(ABC):
    """A key cursor (``IDBCursor``). Moving it returns it again, or None at the end."""

    _last_move: Request[Any] | None = None

    @property
    @abstractmethod
    def source(self) -> ObjectStore | Index: ...

    @property
    @abstractmethod
    def direction(self) -> Direction: ...

    @property
    @abstractmethod
    def key(self) -> Key: ...

    @property
    @abstractmethod
    def primary_key(self) -> Key: ...

    @abstractmethod
    def _move(self, count: int, key: Key | None, primary_key: Key | None) -> Request[Any]:
        """Backend hook behind continue_/advance/continue_primary_key."""

    def continue_(self, key: Key | None = None) -> Request[Cursor | None]:
        """Move to the next record (or the first at or past ``key``)."""
        self._last_move = move = self._move(1, key, None)
        return move

    def continue_primary_key(self, key: Key, primary_key: Key) -> Request[Cursor | None]:
        """Move an index cursor to ``key`` and ``primary_key`` (or just past them)."""
        self._last_move = move = self._move(1, key, primary_key)
        return move

    def advance(self, count: int) -> Request[Cursor | None]:
        """Skip ``count`` records."""
        self._last_move = move = self._move(count, None, None)
        return move

    @abstractmethod
    def update(self, value: Any) -> Request[Key]:
        """Replace the current record's value."""

    @abstractmethod
    def delete(self) -> Request[None]:
        """Delete the current record."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key={self.key!r} primary_key={self.primary_key!r}>"


class CursorWithValue(Cursor):
    """A cursor that also has the record's ``value`` (``IDBCursorWithValue``)."""

    @property
    @abstractmethod
    def value(self) -> Any: ...


class CursorRequest(Generic[C]):
    """What ``open_cursor`` returns: await it, or iterate it with ``async for``.

    >>> async for cursor in store.open_cursor(KeyRange.lower_bound(10)):
    ...     print(cursor.key, cursor.value)
    """

    __slots__ = ("_request",)

    def __init__(self, request: Request[C | None]) -> None:
        self._request = request

    def __await__(self) -> Generator[Any, None, C | None]:
        return self._request.__await__()

    def __aiter__(self) -> AsyncIterator[C]:
        return self._iterate()

    def map(self, fn: Callable[[Any], Any]) -> CursorRequest[Any]:
        """The same request with its cursor passed through ``fn`` (None stays None); for
        wrappers that hand out their own cursor objects."""
        return CursorRequest(self._request.map(lambda c: None if c is None else fn(c)))

    async def _iterate(self) -> AsyncIterator[C]:
        cursor = await self._request
        while cursor is not None:
            before = cursor._last_move
            yield cursor
            if cursor._last_move is not before:  # the loop body moved it already
                cursor = await cursor._last_move  # type: ignore[misc]
            else:
                cursor = await cursor.continue_()  # type: ignore[assignment]
