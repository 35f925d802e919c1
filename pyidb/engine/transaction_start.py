"""How an engine transaction starts: the scheduler lets it, then it takes what it needs of the
storage (the write lock, or a read view of a shared storage) and, on a shared storage, checks that
no other process upgraded the database meanwhile. Only then do its requests run.

If another process holds the write lock, it retries from the event loop (never blocking it) until
the storage's lock timeout, then aborts. With a blocking storage (``blocking_io``: a network
database) all of this runs on the factory's worker thread (:mod:`.offload`) and goes on from the
loop in :meth:`TransactionStart._begun`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import Error, InvalidStateError, UnknownError
from . import catalog

if TYPE_CHECKING:
    from .transaction import EngineTransaction

    _Base = EngineTransaction
else:
    _Base = object

__all__ = ["ACTIVE", "COMMITTING", "FINISHED", "INACTIVE", "TransactionStart", "internal_error"]

ACTIVE, INACTIVE, COMMITTING, FINISHED = range(4)
"""A transaction's phase (``EngineTransaction._phase``): requests may be placed only while ACTIVE;
INACTIVE between; COMMITTING once commit() was called or it auto-commits; FINISHED after."""


def internal_error(exc: BaseException) -> Error:
    """A failure that is no pyidb error (a bug, an unexpected storage failure) as UnknownError."""
    error = UnknownError(f"internal error while running a request: {exc!r}")
    error.__cause__ = exc
    return error


class TransactionStart(_Base):
    """The starting half of :class:`~.transaction.EngineTransaction` (a mixin of it)."""

    def start(self) -> None:
        """Called by the scheduler when the transaction may run."""
        self.started = True  # the scheduler counts it now, even while it waits for a lock
        if self._offload is not None:
            self._begin_on_worker()
            return
        storage = self.db_state.factory.storage
        if self.mode == "readonly":
            if storage.shared:
                try:
                    self._view = storage.begin_read()  # one snapshot for the whole transaction
                except Error as exc:
                    self._loop.call_soon(self._abort_if_unfinished, exc)
                    return
            self._ready()
        elif self._begin_write():
            self._ready()

    def _begin_write(self) -> bool:
        """Take the storage's write lock; if another process holds it, retry from the event
        loop (never block it) until the storage's lock timeout, then abort."""
        storage = self.db_state.factory.storage
        try:
            if storage.try_begin_write(self._durability):
                return True
        except Error as exc:
            self._loop.call_soon(self._abort_if_unfinished, exc)
            return False
        delay = self._lock_delay
        if not self._lock_busy():
            storage.stop_waiting()
            self._loop.call_soon(self._abort_if_unfinished, storage.lock_timeout_error())
            return False
        self._loop.call_later(delay, self._retry_write)
        return False

    def _lock_busy(self) -> bool:
        """The write lock is taken by another process: True to try again after a short delay
        (the storage keeps this writer's place in line meanwhile), False once the storage's
        lock timeout has passed (then the transaction aborts)."""
        storage = self.db_state.factory.storage
        now = self._loop.time()
        if self._lock_deadline is None:
            self._lock_deadline = now + storage.lock_timeout
        if now >= self._lock_deadline:
            return False
        self._lock_delay = min(self._lock_delay * 2, 0.02)
        return True

    def _retry_write(self) -> None:
        if self._phase == FINISHED:
            return
        if self._offload is not None:
            self._begin_on_worker()
        elif self._begin_write():
            self._ready()

    # -- a blocking storage: the same on the worker thread -----------------------------------
    def _begin_on_worker(self) -> None:
        """Take the read view or the write lock, and check the schema of a shared storage, on
        the worker thread; :meth:`_begun` goes on from the loop."""
        storage = self.db_state.factory.storage
        mode, durability = self.mode, self._durability
        check_schema = mode != "versionchange" and storage.shared
        schema = self.db_state.schema
        scope = self.scope_set if mode == "readwrite" else frozenset()

        def begin() -> tuple[bool, Any, bool]:  # on the worker: (began, view, schema current)
            view = None
            if mode == "readonly":
                if storage.shared:
                    view = storage.begin_read()
            elif not storage.try_begin_write(durability):
                return False, None, True
            current = not check_schema or catalog.refresh_for_writer(
                view if view is not None else storage, schema, scope)
            return True, view, current

        self._offload.submit(self._loop, begin, self._begun)  # type: ignore[union-attr]

    def _begun(self, outcome: tuple[bool, Any, bool] | None, exc: BaseException | None) -> None:
        storage = self.db_state.factory.storage
        if outcome is None:
            self._abort_if_unfinished(exc if isinstance(exc, Error) else internal_error(exc))  # type: ignore[arg-type]
            return
        began, view, current = outcome
        if self._phase == FINISHED:  # aborted meanwhile; its rollback was queued after us
            if view is not None:
                self._on_worker(lambda: storage.end_read(view), "ending the read")
            return
        if not began:
            delay = self._lock_delay
            if self._lock_busy():
                self._loop.call_later(delay, self._retry_write)
            else:
                self._on_worker(storage.stop_waiting, "giving up the wait for the lock")
                self.abort_with(storage.lock_timeout_error())
            return
        self._view = view
        if not current:
            self.abort_with(self._stale_error())
            return
        self._start_running()

    def _ready(self) -> None:
        shared = self.db_state.factory.storage.shared
        if self.mode != "versionchange" and shared and not self._schema_is_current():
            return
        self._start_running()

    def _start_running(self) -> None:
        """It holds what it needs: run its requests."""
        self.running = True
        if self.on_start is not None:
            self.on_start()
        self._schedule()

    def _schema_is_current(self) -> bool:
        """Another process may have upgraded or deleted the database of a shared storage: check
        (a writer also re-reads its stores' key generators under the lock); abort if stale."""
        scope = self.scope_set if self.mode == "readwrite" else frozenset()
        try:
            if catalog.refresh_for_writer(self.storage, self.db_state.schema, scope):
                return True
            error: Error = self._stale_error()
        except Error as exc:
            error = exc
        self._loop.call_soon(self._abort_if_unfinished, error)
        return False

    def _stale_error(self) -> Error:
        return InvalidStateError(
            f"database {self.db_state.name!r} was upgraded or deleted by another process; "
            "close this connection and open the database again"
        )
