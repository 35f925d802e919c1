"""Requests that may complete when they are awaited, without a loop turn of their own.

A request of the engine normally runs from the transaction's loop callback, and its completion
wakes the awaiting task: two trips through the event loop's machinery per ``await``, most of the
cost of a get+put loop or a cursor walk. An :class:`InlineRequest` is queued like any request,
but when it is awaited while

* it is first in its transaction's queue (so requests still complete in the order they were made),
* the transaction is active (the awaiting code runs inside the previous request's completion, or
  in the task that made the transaction) and runs on this thread (no offloaded storage),
* and no other transaction of the factory waits to run (they would otherwise interleave),

its operation runs right there and ``await`` returns its result. If the operation fails, it stays
queued and runs again the usual way, which reports the error with the usual abort rules: only
operations that leave nothing behind when they fail (reads, ``put_one``, cursor moves) use this.
Each one spends the transaction's budget of requests per loop callback (``_budget``), so a loop
of awaited requests still gives other tasks a turn every ``transaction._BATCH`` requests.

>>> fut = inline_request(tx, lambda: record_store.get_value_at(storage, store, pk))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..sync_future import _PENDING, _RESULT, SyncFuture

if TYPE_CHECKING:
    from .transaction import EngineTransaction


class InlineRequest(SyncFuture[Any]):
    """A request that completes when awaited if it may (see the module docstring)."""

    __slots__ = ("_op", "_tx")

    def __await__(self) -> Any:
        tx = self._tx
        if tx is not None:
            self._tx = None
            if self._state == _PENDING and not self._callbacks:
                _try_now(self, tx)
        return (yield from SyncFuture.__await__(self))


def _try_now(fut: InlineRequest, tx: EngineTransaction) -> None:
    queue = tx._queue
    if not (queue and queue[0][1] is fut and tx.running and tx._is_active()
            and tx._offload is None and tx._abort_pending is None
            and tx._budget > 0 and not tx.db_state.factory.scheduled):
        return
    try:
        result = fut._op()
    except Exception:
        return  # still queued: it runs again the usual way, which reports the error
    tx._budget -= 1
    queue.popleft()
    fut._op = None
    fut._canceller = None
    fut._state = _RESULT
    fut._value = result


def inline_request(tx: EngineTransaction, operation: Callable[[], Any]) -> SyncFuture[Any]:
    """Queue ``operation`` on ``tx`` like ``tx.request``; it may run when awaited."""
    fut = InlineRequest(tx._loop)
    fut._tx = tx
    fut._op = operation
    fut.set_canceller(lambda: tx._withdraw(fut))
    tx._queue.append((operation, fut))
    if tx.running:
        tx._schedule()
    return fut
