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
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from .api_cursors import Cursor, CursorRequest, CursorWithValue
from .api_stores import Index, ObjectStore, _Readable
from .api_types import (
    BlockedCallback,
    Direction,
    Durability,
    Key,
    KeyPath,
    Mode,
    Query,
    Record,
    Request,
    UpgradeCallback,
    VersionChangeCallback,
    make_records,
)
from .errors import AbortError, InvalidStateError

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

# re-exported: the names backends and wrappers reach as ``api.X``
_REEXPORTED = (Direction, KeyPath, Mode, Query, make_records, _Readable, Cursor)


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

