"""What an ``async`` upgrade callback may await: its own requests, nothing else.

The versionchange transaction commits as soon as control returns to the event loop with no request
pending, so an upgrade that awaits ``asyncio.sleep``, a network call or any other foreign future
would let a half-done schema commit (the rest of the callback then fails, too late). Both backends
run an async upgrade through :func:`only_requests`, which sees each object the coroutine waits on
*before* the event loop does, and raises :class:`~pyidb.errors.InvalidStateError` naming it at the
first one that is not a pyidb request; the backend aborts the versionchange transaction right
there, while it is still active, so the database keeps its old version and schema::

    async def upgrade(db, old, new, tx):
        db.create_object_store("notes")
        await asyncio.sleep(0)    # open() fails: InvalidStateError, database left at `old`
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any

from .errors import InvalidStateError
from .sync_future import SyncFuture

__all__ = ["only_requests"]


class only_requests:  # used like a function: await only_requests(...)
    """``await`` ``awaitable`` (the upgrade's coroutine) the way a task would, but stop it with
    InvalidStateError when it waits on anything other than a pyidb request.

    ``await only_requests(upgrade(db, old, new, tx))`` inside the backend's own coroutine.
    """

    __slots__ = ("_awaitable",)

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self._awaitable = awaitable

    def __await__(self) -> Generator[Any, Any, Any]:
        return _drive(self._awaitable)


def _drive(awaitable: Awaitable[Any]) -> Generator[Any, Any, Any]:
    inner = awaitable.__await__()
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            waited = inner.send(value) if error is None else inner.throw(error)
        except StopIteration as stop:
            return stop.value
        value = error = None
        if not isinstance(waited, SyncFuture):
            what = _describe(awaitable, waited)
            _close(inner)
            raise InvalidStateError(
                f"the upgrade callback awaited {what}, which is not one of its own requests: "
                "the upgrade transaction would commit at that point with the schema half done, "
                "so it was aborted and the database keeps its old version. Await only requests "
                "of the upgrade (store.put(...), cursor moves, ...); do other work before open()"
            )
        try:
            value = yield waited
        except BaseException as exc:  # thrown in by the task (cancellation): pass it on
            error = exc


def _describe(awaitable: Any, waited: Any) -> str:
    """The innermost coroutine the upgrade is suspended in (``sleep``), and what it yielded."""
    inner = awaitable
    names = []
    while True:
        nxt = getattr(inner, "cr_await", None) or getattr(inner, "gi_yieldfrom", None)
        if nxt is None:
            break
        code = getattr(nxt, "cr_code", None) or getattr(nxt, "gi_code", None)
        if code is not None and not code.co_name.startswith("__"):  # asyncio's __sleep0
            names.append(f"{getattr(code, 'co_qualname', code.co_name)}()")
        inner = nxt
    where = " -> ".join(names) or type(waited).__name__
    if waited is None:
        return f"{where} (a bare yield to the event loop, as asyncio.sleep does)"
    return f"{where} (waiting on {type(waited).__name__}: {waited!r:.80})"


def _close(inner: Any) -> None:
    try:
        inner.close()  # runs the callback's finally blocks
    except Exception:  # a finally block that fails has nothing left to clean up in pyidb
        pass
