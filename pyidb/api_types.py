"""The public API's type names and the :class:`Record` tuple (re-exported by :mod:`pyidb.api`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .sync_future import SyncFuture

if TYPE_CHECKING:
    from .api import Database, Transaction

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

