"""The storage interface under the engine: ordered byte-string trees, one writer at a time.

The engine keeps everything (catalog, records, index entries) as ``bytes -> bytes`` pairs in
numbered *trees*. Keys are encoded with :mod:`pyidb.key_encoding`, whose byte order is IndexedDB
key order, so a storage only has to compare bytes: range scans are seeks.

Transactions: reads are allowed at any time and see the open write transaction's changes (the
engine's scheduler never lets a reader overlap a writer's scope, so no reader can observe data it
should not). Writes happen only between :meth:`Storage.begin_write` and
:meth:`Storage.commit` / :meth:`Storage.rollback`; at most one write transaction is open at a
time. A committed write transaction is durable (per ``durability``); a rolled-back one leaves no
trace.

Bounds: ``lo`` is inclusive, ``hi`` exclusive; ``None`` means unbounded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any


class Storage(ABC):
    """An ordered key-value store of byte strings, grouped in integer-numbered trees."""

    #: True if the data outlives the process (the engine then re-reads its catalog on open).
    durable: bool = False

    @abstractmethod
    def begin_write(self, durability: str = "default") -> None:
        """Open the write transaction (``durability``: "default", "strict" or "relaxed")."""

    def try_begin_write(self, durability: str = "default") -> bool:
        """Open the write transaction if that needs no waiting for another process; else False."""
        self.begin_write(durability)
        return True

    #: Seconds a writer may wait for another process's write lock.
    lock_timeout: float = 0.0

    def begin_read(self) -> Any:
        """A consistent read view for a readonly transaction (has get/scan/count)."""
        return self

    def end_read(self, view: Any) -> None:  # noqa: B027 - nothing to finish by default
        """Finish a view from :meth:`begin_read`."""

    @abstractmethod
    def commit(self) -> None:
        """Make the write transaction's changes durable and close it."""

    @abstractmethod
    def rollback(self) -> None:
        """Undo every change of the write transaction and close it."""

    @property
    @abstractmethod
    def in_write(self) -> bool:
        """True between begin_write and commit/rollback."""

    @abstractmethod
    def get(self, tree: int, key: bytes) -> bytes | None: ...

    @abstractmethod
    def put(self, tree: int, key: bytes, value: bytes) -> None: ...

    def put_many(self, tree: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Put many pairs (a storage may do this faster than one by one)."""
        for key, value in items:
            self.put(tree, key, value)

    @abstractmethod
    def delete(self, tree: int, key: bytes) -> bool:
        """Delete one pair; True if it existed."""

    @abstractmethod
    def delete_range(self, tree: int, lo: bytes | None, hi: bytes | None) -> int:
        """Delete every pair with lo <= key < hi; returns how many."""

    @abstractmethod
    def scan(
        self,
        tree: int,
        lo: bytes | None = None,
        hi: bytes | None = None,
        *,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with lo <= key < hi in key order (descending if ``reverse``), at most ``limit``.

        The caller consumes the iterator before making any write.
        """

    @abstractmethod
    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int: ...

    @abstractmethod
    def close(self) -> None:
        """Release the storage (an open write transaction is rolled back)."""
