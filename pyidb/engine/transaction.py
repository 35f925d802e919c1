"""Spec 2.7 transactions: lifetime, request queue, commit and abort, for the engine.

Lifetime, exactly as in browsers: a transaction is *active* from its creation until control
returns to the event loop, and again while a completion of one of its requests runs the code that
awaited it (the awaiting task is resumed synchronously by :class:`~pyidb.sync_future.SyncFuture`).
When it is inactive with no request pending, it commits. So awaiting anything that is not one
of its own requests (``asyncio.sleep``, a network call) lets it commit, and the next request
raises ``TransactionInactiveError`` — as a browser does.

Requests run in order inside loop callbacks (never inside a task), a batch of them per callback
so that a tight read-modify-write loop does not pay one loop turn per request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import (
    AbortError,
    Error,
    InvalidStateError,
    LockTimeoutError,
    NotFoundError,
    ReadOnlyError,
    TransactionInactiveError,
)
from ..front import FrontTransaction
from ..sync_future import SyncFuture, running_loop
from . import catalog
from .transaction_start import (
    ACTIVE,
    COMMITTING,
    FINISHED,
    INACTIVE,
    TransactionStart,
    internal_error,
)

if TYPE_CHECKING:
    from .connection import DatabaseState, EngineDatabase
    from .object_store import EngineObjectStore

# Requests run per loop callback. While another transaction of the factory waits, one at a time,
# so concurrent transactions interleave as in browsers; alone, up to _BATCH (a loop turn per
# request would double the cost of a read-modify-write loop).
_BATCH = 64


_COMMIT = object()  # in flight on the worker thread: the commit


def _run(operation: Callable[[], Any]) -> tuple[Any, Error | None]:
    """Run a request's operation: (result, None), or (None, the pyidb error it failed with)."""
    try:
        return operation(), None
    except Error as exc:
        return None, exc
    except Exception as exc:  # a bug or an unexpected storage failure
        return None, internal_error(exc)


class EngineTransaction(TransactionStart, FrontTransaction):
    """A transaction of the pure-Python engine.

    Package-internal (for the engine's factory, stores, indexes and cursors): ``db_state``,
    ``scope``, ``storage`` (the read view or the storage), ``started`` (the scheduler let it
    start), ``running`` (it holds the write lock or read view), ``check_active()``,
    ``check_writable()``, ``request(operation)``, ``abort_later(error)``, ``abort_with(error)``,
    ``reactivate()``, ``start()``.
    """

    def __init__(
        self, connection: EngineDatabase, scope: list[str], mode: str, durability: str
    ) -> None:
        self._db = connection
        self.db_state: DatabaseState = connection.db_state
        self.scope = catalog.sort_names(set(scope))
        self.scope_set = frozenset(self.scope)
        self._mode: Any = mode
        self._durability = durability
        self._loop = running_loop()
        self._phase = ACTIVE
        self.started = False  # the scheduler let it start
        self.running = False  # ...and it holds what it needs (write lock, read snapshot)
        self._view: Any = None
        self._lock_deadline: float | None = None
        self._lock_delay = 0.005
        self._queue: deque[tuple[Callable[[], Any], SyncFuture[Any]]] = deque()
        self._scheduled = False
        # Requests this loop callback may still run; engine.inline spends it too, so a loop of
        # awaited requests gives other tasks a turn every _BATCH requests either way.
        self._budget = 0
        self._error: BaseException | None = None
        self._user_abort = False
        self._done: SyncFuture[None] = SyncFuture(self._loop)
        self._store_handles: dict[str, EngineObjectStore] = {}  # type: ignore[assignment]
        self.on_start: Callable[[], None] | None = None
        self._abort_pending: Error | None = None
        self._failing: BaseException | None = None  # a request error being delivered
        # A blocking storage's worker thread (engine.offload), and what it runs for us now.
        self._offload = self.db_state.factory.offload
        self._in_flight: SyncFuture[Any] | object | None = None
        self._held = False  # see _hold()
        self._loop.call_soon(self._end_of_task)
        connection.transactions.add(self)
        self.db_state.factory.scheduler.add(self)

    # -- public API ---------------------------------------------------------------------------
    @property
    def object_store_names(self) -> list[str]:
        if self.mode == "versionchange":
            return self._db.object_store_names
        return list(self.scope)

    def _open_store(self, name: str) -> EngineObjectStore:
        from .object_store import EngineObjectStore

        schema = self.db_state.schema.stores.get(name)
        if schema is None or (self.mode != "versionchange" and name not in self.scope_set):
            raise NotFoundError(
                f"object store {name!r} is not in this transaction's scope "
                f"({', '.join(map(repr, self.object_store_names)) or 'no stores'})"
            )
        return EngineObjectStore(self, schema)

    def commit(self) -> None:
        if self._phase != ACTIVE:
            raise InvalidStateError(
                "cannot commit: the transaction is not active (it is already committing, "
                "finished, or its code awaited something that was not one of its requests)"
            )
        self._phase = COMMITTING
        self._schedule()

    def abort(self) -> None:
        if self._phase in (COMMITTING, FINISHED):
            raise InvalidStateError("cannot abort: the transaction has already committed or aborted")
        self._user_abort = True
        self.abort_with(None)

    def _abort_for_exception(self, exc: BaseException) -> None:
        if exc is self._failing:  # the request's error was not handled: abort with it
            self.abort_with(exc)
        elif self._phase != COMMITTING:
            # Committing already (it auto-committed while the block awaited something else, and
            # a threaded storage is still writing): nothing to abort; the block's error is raised.
            self.abort()

    def _hold(self) -> None:
        """Keep the transaction active until commit() or abort(), across loop turns.

        For the host socket: a remote client's requests arrive over the network, long after
        the turn that created the transaction; the client decides when it commits.
        """
        if self._phase == INACTIVE:
            self._phase = ACTIVE
        self._held = True

    def _is_active(self) -> bool:
        return self._phase == ACTIVE

    def _is_finished(self) -> bool:
        return self._phase == FINISHED

    # -- for the engine's stores, indexes and cursors -----------------------------------------
    @property
    def storage(self) -> Any:
        return self._view if self._view is not None else self.db_state.factory.storage

    def check_active(self) -> None:
        if self._phase != ACTIVE:
            if self._phase == FINISHED:
                why = "it has already committed or aborted"
            elif self._phase == COMMITTING:
                why = "commit() was called"
            else:
                why = (
                    "it committed when your code awaited something that is not one of its "
                    "requests (keep all awaits inside a transaction on its own requests)"
                )
            raise TransactionInactiveError(f"the transaction is not active: {why}")

    def check_writable(self) -> None:
        if self.mode == "readonly":
            raise ReadOnlyError(
                "the transaction is read-only; open it with db.transaction(..., 'readwrite')"
            )

    def request(self, operation: Callable[[], Any]) -> SyncFuture[Any]:
        """Queue ``operation`` (run later, in order); its result completes the returned future."""
        fut: SyncFuture[Any] = SyncFuture(self._loop)
        fut.set_canceller(lambda: self._withdraw(fut))
        self._queue.append((operation, fut))
        if self.running:
            self._schedule()
        return fut

    def _withdraw(self, fut: SyncFuture[Any]) -> bool:
        """A task awaiting ``fut`` was cancelled (``asyncio.wait_for`` timed out, say) before the
        request ran: take it out and abort the transaction, so none of its changes are kept and
        the task need not wait for the transactions ahead of it. False once the request runs."""
        if self._phase in (COMMITTING, FINISHED):
            return False  # commit() was asked for: its requests run and it commits anyway
        for item in self._queue:
            if item[1] is fut:
                self._queue.remove(item)
                break
        else:
            return False  # running (on the worker thread) or done: it cannot be taken back
        self.abort_with(AbortError(
            "a request of this transaction was cancelled before it ran (its task was cancelled "
            "or timed out), so the transaction was aborted and none of its changes are kept"
        ))
        return True

    def abort_later(self, error: Error) -> None:
        """Abort with ``error`` once the running code returns (e.g. createIndex on duplicates)."""
        self._abort_pending = error

    def release(self) -> None:
        """End a :meth:`_hold`: from the end of the task running now, the transaction goes
        inactive (and commits with nothing pending) as usual."""
        self._held = False
        self._loop.call_soon(self._end_of_task)

    def reactivate(self) -> None:
        """Make the transaction active for a callback the engine runs (the upgrade function)."""
        if self._phase == INACTIVE:
            self._phase = ACTIVE
            self._loop.call_soon(self._end_of_task)

    # -- scheduling -----------------------------------------------------------------------------
    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.db_state.factory.scheduled.add(self)
            self._loop.call_soon(self._process)

    def _end_of_task(self) -> None:
        if self._phase == ACTIVE and not self._held:
            self._phase = INACTIVE
        self._maybe_commit()

    def _process(self) -> None:
        waiting = self.db_state.factory.scheduled
        waiting.discard(self)
        if self._offload is not None:
            self._scheduled = False
            self._send_next()
            return
        self._budget = _BATCH
        queue = self._queue
        # _scheduled stays True meanwhile: a request the resumed code makes (the next await of
        # a get+put loop or a cursor walk) joins this pass instead of scheduling a loop turn and
        # putting this transaction in `waiting`, which would end the batch after one request.
        yielded = False
        try:
            while queue and self._phase != FINISHED and self.running:
                if self._budget <= 0 or (self._budget < _BATCH and waiting):
                    yielded = True
                    break
                self._budget -= 1
                operation, fut = queue.popleft()
                result, error = _run(operation)
                # Drop the operation (and the batch it may hold) before the awaiting code resumes.
                operation = None  # type: ignore[assignment]
                self._complete(fut, result, error)
                if self._abort_pending is not None:
                    break
        finally:
            self._scheduled = False
        if yielded:
            self._schedule()
            return
        self._maybe_commit()

    def _complete(self, fut: SyncFuture[Any], result: Any, error: Error | None) -> None:
        """Complete a request: its awaiting code runs now, with the transaction active."""
        committing = self._phase == COMMITTING
        self._phase = COMMITTING if committing else ACTIVE
        if error is None:
            fut.set_result(result)
        else:
            self._failing = error
            try:
                handled = fut.set_exception(error)
            finally:
                self._failing = None
            # A held transaction's client decides (it aborts if its own code did not catch it).
            if not handled and self._phase != FINISHED and not self._held:
                self.abort_with(error)
        if self._phase == ACTIVE and not self._held:
            self._phase = INACTIVE

    # -- a blocking storage: requests and the commit run on the worker thread (engine.offload)
    def _send_next(self) -> None:
        """Run the next request on the worker thread; one at a time, in order."""
        if self._in_flight is not None or self._phase == FINISHED or not self.running:
            return
        if not self._queue or self._abort_pending is not None:
            self._maybe_commit()
            return
        operation, fut = self._queue.popleft()
        self._in_flight = fut
        self._offload.submit(self._loop, lambda: _run(operation), self._arrived)  # type: ignore[union-attr]

    def _arrived(self, outcome: tuple[Any, Error | None] | None, exc: BaseException | None) -> None:
        fut, self._in_flight = self._in_flight, None
        if fut is None or self._phase == FINISHED:
            return  # aborted meanwhile: _abort failed the request already
        if outcome is None:  # not even _run caught it (KeyboardInterrupt on the worker)
            outcome = (None, internal_error(exc))  # type: ignore[arg-type]
        self._complete(fut, *outcome)  # type: ignore[arg-type]
        self._send_next()

    def _maybe_commit(self) -> None:
        if self._in_flight is not None:
            return
        if self._abort_pending is not None and self._phase != FINISHED:
            self.abort_with(self._abort_pending)
            return
        if self._phase in (INACTIVE, COMMITTING) and not self._queue and self.running:
            self._commit_now()

    def _commit_now(self) -> None:
        if self._offload is not None and self.mode != "readonly":
            self._phase = COMMITTING
            self._in_flight = _COMMIT
            self._offload.submit(self._loop, self._write_commit, self._committed)
            return
        try:
            self._write_commit()
        except Error as exc:
            self.abort_with(exc)
            return
        self._committed_ok()

    def _write_commit(self) -> None:
        if self.mode != "readonly":
            storage = self.storage
            catalog.flush_generators(storage, self.db_state.schema)
            storage.commit()

    def _committed(self, _: Any, exc: BaseException | None) -> None:
        self._in_flight = None
        if self._phase == FINISHED:
            return
        if exc is None:
            self._committed_ok()
        else:
            self.abort_with(exc if isinstance(exc, Error) else internal_error(exc))

    def _committed_ok(self) -> None:
        self._phase = FINISHED
        self._finish()
        self._done.set_result(None)

    def _on_worker(self, fn: Callable[[], Any], step: str) -> None:
        """Run a cleanup step on the worker thread; report it if it fails."""
        def done(_: Any, exc: BaseException | None) -> None:
            if exc is not None and not isinstance(exc, Error):
                self._cleanup_failed(step, exc)

        self._offload.submit(self._loop, fn, done)  # type: ignore[union-attr]

    def _abort_if_unfinished(self, error: Error) -> None:
        if self._phase != FINISHED:
            self.abort_with(error)

    def abort_with(self, error: BaseException | None) -> None:
        """Spec "abort a transaction": undo everything, fail pending requests and ``done``."""
        self._phase = FINISHED
        self._error = error
        pending = list(self._queue)
        self._queue.clear()
        in_flight, self._in_flight = self._in_flight, None
        if isinstance(in_flight, SyncFuture):
            pending.insert(0, (None, in_flight))
        if self.started and self.mode == "readwrite" and self._offload is not None:
            # On the worker, after whatever it runs for us now (a request, the beginning); the
            # requests and ``done`` fail once it rolled back. An aborted upgrade stays inline
            # below: its names come back before abort() returns.
            def released(_: Any, exc: BaseException | None) -> None:
                if exc is not None:
                    self._cleanup_failed("rolling back", exc)
                self._finish()
                self._deliver_abort(pending, error)

            self._offload.submit(self._loop, self._release_write(self.running), released)
            return
        if self.started and self.mode != "readonly":
            try:
                storage = self.storage
                if storage.in_write:
                    storage.rollback()
                elif not self.running:
                    storage.stop_waiting()  # aborted while waiting for another process's lock
                self.db_state.after_abort(self.mode == "versionchange")
            except BaseException as exc:  # the scheduler must be released below
                self._cleanup_failed("rolling back", exc)
        self._finish()
        self._loop.call_soon(self._deliver_abort, pending, error)

    def _release_write(self, running: bool) -> Callable[[], None]:
        """What an abort gives back of the storage: the rolled-back write, or this writer's
        place in the line for the lock; and the key generators as stored."""
        storage, state = self.db_state.factory.storage, self.db_state

        def release() -> None:
            if storage.in_write:
                storage.rollback()
            elif not running:
                storage.stop_waiting()
            state.after_abort(False)

        return release

    def _deliver_abort(self, pending: list[tuple[Any, SyncFuture[Any]]],
                       error: BaseException | None) -> None:
        why = f": {error}" if error is not None else ""
        for _, fut in pending:
            if isinstance(error, (LockTimeoutError, ReadOnlyError)) and not self.running:
                # The storage refused to begin it (lock timeout, read-only file): nothing ran,
                # say why by its own name rather than as a bare AbortError.
                fut.set_exception(type(error)(error.message))
                continue
            fut.set_exception(AbortError(f"the transaction was aborted before this request ran{why}"))
        self._done.set_exception(error or AbortError("the transaction was aborted"))

    def _finish(self) -> None:
        """Release the read view, the scheduler and the connection: each step runs even if
        another fails, so one failure can never leave later transactions waiting forever."""
        view, self._view = self._view, None
        if view is not None and self._offload is not None:
            storage = self.db_state.factory.storage
            self._on_worker(lambda: storage.end_read(view), "ending the read")
        elif view is not None:
            try:
                self.db_state.factory.storage.end_read(view)
            except Error:
                pass  # ending a read can only fail on a closed or broken file: nothing to keep
            except BaseException as exc:
                self._cleanup_failed("ending the read", exc)
        try:
            self.db_state.factory.scheduler.finished(self)
        finally:
            self._db.transaction_finished(self)

    def _cleanup_failed(self, step: str, exc: BaseException) -> None:
        """A cleanup step failed (a bug or a broken storage): report it without stopping the
        others; the transaction's own error stays what aborted it."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        self._loop.call_exception_handler({
            "message": f"pyidb: {step} after the abort of a transaction on database "
                       f"{self.db_state.name!r} failed",
            "exception": exc,
        })
