"""The awaitable that keeps IndexedDB transactions alive across Python ``await``.

IndexedDB commits a transaction as soon as control returns to the event loop with no request of
the transaction pending. An ordinary :class:`asyncio.Future` resumes the awaiting task through
``loop.call_soon``, i.e. in a *later* turn of the loop, by which time the transaction has already
committed: the next request raises ``TransactionInactiveError``.

:class:`SyncFuture` is future-like (asyncio's ``Task`` accepts any object with
``_asyncio_future_blocking``, ``get_loop`` and ``add_done_callback``), but its done callbacks run
*synchronously* when the result is set. The awaiting task's ``__wakeup`` therefore runs inside the
completion itself (the IDB success event in a browser, the engine's request step elsewhere), so
the Python code after ``await request`` executes while the transaction is still active, exactly
like JavaScript code in an ``onsuccess`` handler.

Both backends use it: the pure-Python engine and the browser backend. Rules for completers:

* complete only from a loop callback or a JS event, never from inside a running task (asyncio
  refuses to step one task inside another);
* :meth:`SyncFuture.set_exception` reports whether every awaiter handled the error, which is how
  a backend decides that a failed request aborts its transaction (the browser default) or not
  (the Python code caught it, like ``event.preventDefault()`` in JS).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["SyncFuture"]

T = TypeVar("T")

_PENDING = 0
_RESULT = 1
_EXCEPTION = 2
_CANCELLED = 3


class SyncFuture(Generic[T]):
    """A future whose done callbacks run at completion, not on a later loop turn.

    >>> fut = SyncFuture()          # inside a running loop
    >>> fut.set_result(42)          # an awaiting task resumes right here
    """

    __slots__ = ("_asyncio_future_blocking", "_callbacks", "_canceller", "_loop", "_state",
                 "_value")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._asyncio_future_blocking = False
        self._loop = loop
        self._state = _PENDING
        self._value: Any = None
        self._callbacks: list[tuple[Callable[[Any], object], contextvars.Context | None]] = []
        self._canceller: Callable[[], bool] | None = None

    # -- the asyncio future protocol (what Task needs) --------------------------------------
    def get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def cancel(self, msg: object = None) -> bool:
        """Withdraw the request if the backend still can (it has not run yet): the backend's
        canceller takes it out and aborts its transaction, and the awaiting task gets
        ``CancelledError`` on the next loop turn. Otherwise False, and a cancelled task is woken
        when the request completes (a request that ran cannot be taken back)."""
        if self._state != _PENDING or self._canceller is None or not self._canceller():
            return False
        self._state = _CANCELLED
        self._value = msg
        self._canceller = None
        callbacks, self._callbacks = self._callbacks, []
        loop = self.get_loop()
        for fn, ctx in callbacks:  # on a later turn: cancel() may be called inside a task
            loop.call_soon(fn, self, context=ctx)
        return True

    def set_canceller(self, canceller: Callable[[], bool] | None) -> None:
        """Let :meth:`cancel` withdraw the request: ``canceller()`` returns True if it did."""
        self._canceller = canceller

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        if self._state == _PENDING:
            self._callbacks.append((fn, context))
        else:
            self.get_loop().call_soon(fn, self, context=context)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        before = len(self._callbacks)
        self._callbacks = [(f, c) for f, c in self._callbacks if f != fn]
        return before - len(self._callbacks)

    def result(self) -> T:
        if self._state == _RESULT:
            return self._value  # type: ignore[no-any-return]
        if self._state == _EXCEPTION:
            raise self._value
        if self._state == _CANCELLED:
            raise asyncio.CancelledError(*(() if self._value is None else (self._value,)))
        raise asyncio.InvalidStateError("the request has not completed yet")

    def exception(self) -> BaseException | None:
        if self._state == _PENDING:
            raise asyncio.InvalidStateError("the request has not completed yet")
        if self._state == _CANCELLED:
            self.result()
        return self._value if self._state == _EXCEPTION else None

    def __await__(self) -> Generator[Any, None, T]:
        if self._state == _PENDING:
            self._asyncio_future_blocking = True
            yield self
        return self.result()

    __iter__ = __await__

    # -- completion --------------------------------------------------------------------------
    def set_result(self, value: T) -> None:
        """Complete with ``value`` and run the done callbacks now."""
        if self._state == _CANCELLED:
            return  # withdrawn: nobody waits for it any more
        if self._state != _PENDING:
            raise asyncio.InvalidStateError("the request already completed")
        self._state = _RESULT
        self._value = value
        self._run_callbacks()

    def set_exception(self, exc: BaseException) -> bool:
        """Complete with ``exc``, run the done callbacks now, and say whether it was handled.

        Handled means: someone awaited it and every awaiting task caught the error (the task is
        still running or finished without an exception). No awaiter, an awaiter that is not a
        task (e.g. ``asyncio.gather``), or a task that died of it counts as unhandled.
        """
        if self._state == _CANCELLED:
            return True  # withdrawn: its error belongs to nobody
        if self._state != _PENDING:
            raise asyncio.InvalidStateError("the request already completed")
        self._state = _EXCEPTION
        self._value = exc
        tasks = [fn if type(fn) is _Forward else getattr(fn, "__self__", None)
                 for fn, _ in self._callbacks]
        self._run_callbacks()
        if not tasks:
            return False
        for task in tasks:
            if type(task) is _Forward:  # a mapped future: handled if its awaiters handled it
                if not task.handled:
                    return False
                continue
            if not isinstance(task, asyncio.Task):
                return False
            if task.done() and (task.cancelled() or _task_failed(task)):
                return False
        return True

    def _run_callbacks(self) -> None:
        self._canceller = None
        callbacks, self._callbacks = self._callbacks, []
        for fn, ctx in callbacks:
            try:
                if ctx is None:
                    fn(self)
                else:
                    # Run in the task's context so current_task() and ContextVars stay right.
                    ctx.run(fn, self)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # a callback must not break the completer
                self.get_loop().call_exception_handler(
                    {"message": "exception in a pyidb request callback", "exception": exc}
                )

    def map(self, fn: Callable[[T], Any]) -> SyncFuture[Any]:
        """A future completed with ``fn(result)`` (or the same error) when this one completes,
        in the same step: its awaiters resume synchronously, and whether they handled an error
        counts as this future's answer (``req.map(wrap_cursor)``)."""
        child: SyncFuture[Any] = SyncFuture(self._loop)
        self.add_done_callback(_Forward(child, fn))
        child._canceller = self.cancel  # cancelling the mapped request withdraws this one
        return child

    def __repr__(self) -> str:
        state = ("pending", "result", "exception", "cancelled")[self._state]
        return f"<{type(self).__name__} {state}>"


class _Forward:
    """Done callback of :meth:`SyncFuture.map`: completes the mapped future."""

    __slots__ = ("child", "fn", "handled")

    def __init__(self, child: SyncFuture[Any], fn: Callable[[Any], Any]) -> None:
        self.child = child
        self.fn = fn
        self.handled = False

    def __call__(self, fut: SyncFuture[Any]) -> None:
        if fut._state == _CANCELLED or self.child._state != _PENDING:
            return  # withdrawn through the child (which is cancelled already)
        if fut._state == _EXCEPTION:
            self.handled = self.child.set_exception(fut._value)
        else:
            self.child.set_result(self.fn(fut._value))


def running_loop() -> asyncio.AbstractEventLoop:
    """The running event loop, or InvalidStateError saying pyidb needs one (every backend)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        from .errors import InvalidStateError

        raise InvalidStateError(
            "pyidb needs a running asyncio event loop: call it from async code"
        ) from None


def _task_failed(task: asyncio.Task[Any]) -> bool:
    # Read the stored exception without marking it retrieved, so asyncio still reports a task
    # that nobody awaits ("Task exception was never retrieved").
    exc = getattr(task, "_exception", None)
    if exc is not None:
        return True
    if hasattr(task, "_exception"):
        return False
    return task.exception() is not None
