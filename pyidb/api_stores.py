"""The public object store and index classes (``IDBObjectStore``, ``IDBIndex``), re-exported
by :mod:`pyidb.api`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .api_cursors import Cursor, CursorRequest, CursorWithValue
from .api_types import Direction, Key, Query, Record, Request

if TYPE_CHECKING:
    from .api import Transaction


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
    def add_many(self, values: Iterable[Any], keys: Iterable[Key] | None = None) -> Request[list[Key]]:
        """Add many records as one request. A failing record aborts the transaction (even if
        the error is caught: a browser cannot take back the records stored before it)."""

    @abstractmethod
    def put_many(self, values: Iterable[Any], keys: Iterable[Key] | None = None) -> Request[list[Key]]:
        """Put many records as one request; a failing record aborts the transaction."""

    @abstractmethod
    def delete(self, query: Query) -> Request[None]: ...

    @abstractmethod
    def clear(self) -> Request[None]: ...

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


