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

The whole contract, each point checked by ``tests/test_storage.py`` and
``tests/test_storage_contract.py`` on every storage (a new storage adds itself to their lists):

* **closed** -- :attr:`Storage.closed` is a plain bool; :meth:`Storage.close` is idempotent and
  rolls back an open write; afterwards every call raises :class:`~pyidb.errors.InvalidStateError`.
* **private or shared** -- :attr:`Storage.shared` False: only this object changes the data (memory).
  True: other processes or connections may write it too (a SQLite file, a database server); the
  engine then re-reads its catalog when it (re)opens a database, checks the schema under the write
  lock, and runs every readonly transaction on a read view.
* **read views** -- :meth:`Storage.begin_read` returns a :class:`ReadView` (get/scan/count) that
  sees one consistent committed state until :meth:`Storage.end_read`; a private storage may return
  itself (the engine's scheduler never lets a reader overlap a writer of its scope).
* **busy** -- when another process holds the write lock, :meth:`Storage.try_begin_write` returns
  False at once, and :meth:`Storage.begin_write` waits up to :attr:`Storage.lock_timeout` then raises
  :class:`StorageBusyError`. Nothing else signals a lock (no message matching).
* **errors** -- every failure is a :class:`pyidb.errors.Error` (QuotaExceededError for a full disk,
  UnknownError for damage or I/O), never a driver's own exception.
* **lost transaction** -- if the storage itself loses the open write transaction (SQLite rolls back
  on a full disk, a server drops the connection), the call that noticed raises its error; then
  :attr:`Storage.in_write` stays True, every later write and :meth:`Storage.commit` raises an error of
  the same class saying the transaction was lost, and :meth:`Storage.rollback` succeeds. Nothing of a
  lost transaction is ever kept.
* **blocking I/O** -- :attr:`Storage.blocking_io` True (a network database) makes the engine run the
  storage's calls on a worker thread (:mod:`pyidb.engine.offload`), one at a time, so the event loop
  never waits on the network; False (memory, a local file) runs them inline.

A storage is used from one thread at a time (the engine serializes every call).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from ...errors import InvalidStateError, LockTimeoutError

__all__ = ["ReadView", "Storage", "StorageBusyError", "not_in_write"]


class StorageBusyError(LockTimeoutError):
    """Another process (or connection) holds the storage's write lock; try again later.

    The program sees :class:`pyidb.LockTimeoutError`, an ``UnknownError`` (as a browser reports a
    database it cannot lock).
    """


class ReadView(Protocol):
    """What :meth:`Storage.begin_read` returns: the read methods, on one consistent state."""

    def get(self, tree: int, key: bytes) -> bytes | None: ...

    def scan(self, tree: int, lo: bytes | None = None, hi: bytes | None = None, *,
             reverse: bool = False, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]: ...

    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int: ...


def not_in_write(storage: Storage, op: str) -> InvalidStateError:
    """The error for a write call outside begin_write/commit: a bug of the caller (the engine)."""
    return InvalidStateError(
        f"{type(storage).__name__}.{op}() was called outside a write transaction; writes are only "
        "allowed between begin_write() and commit()/rollback(). This is a bug in pyidb's engine, "
        "please report it."
    )


class Storage(ABC):
    """An ordered key-value store of byte strings, grouped in integer-numbered trees."""

    #: True if the data outlives the process.
    durable: bool = False
    #: True if other processes or connections may change the data (see the module docstring).
    shared: bool = False
    #: True if calls wait on the network: the engine then runs them on a worker thread.
    blocking_io: bool = False
    #: True once :meth:`close` was called.
    closed: bool = False

    @abstractmethod
    def begin_write(self, durability: str = "default") -> None:
        """Open the write transaction (``durability``: "default", "strict" or "relaxed");
        StorageBusyError if another process keeps the write lock past :attr:`lock_timeout`."""

    def try_begin_write(self, durability: str = "default") -> bool:
        """Open the write transaction if that needs no waiting for another process; else False."""
        self.begin_write(durability)
        return True

    #: Seconds a writer may wait for another process's write lock.
    lock_timeout: float = 0.0

    def stop_waiting(self) -> None:  # noqa: B027 - only a storage shared by processes waits
        """The writer that got False from :meth:`try_begin_write` no longer waits."""

    def lock_timeout_error(self) -> StorageBusyError:
        """The error for a writer that waited :attr:`lock_timeout` in vain."""
        return StorageBusyError(
            f"another process held the write lock for more than the lock timeout "
            f"({self.lock_timeout:g} s); nothing was written, try again"
        )

    def begin_read(self) -> ReadView:
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

    def contains_any(self, tree: int, keys: list[bytes]) -> bool:
        """True if any of ``keys`` is in ``tree`` (a storage may ask for them all at once)."""
        return any(self.get(tree, key) is not None for key in keys)

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

    def integrity_check(self) -> list[str]:
        """Problems in the storage's own structure (a SQLite file's pages); [] if none found."""
        return []

    def trees(self) -> list[int]:
        """The ids of the trees holding at least one pair, ascending (checks of a file's catalog)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its trees")

    @abstractmethod
    def close(self) -> None:
        """Release the storage (an open write transaction is rolled back)."""
