"""``BrowserTransaction``: an ``IDBTransaction`` held by the shim, driven from Python.

``done`` is a :class:`~pyidb.sync_future.SyncFuture` completed inside the transaction's
``complete`` event, or failed inside ``abort`` with the transaction's error (AbortError when the
browser gives none: an explicit abort, or ``tx.error`` is null).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AbortError, InvalidStateError
from ..front import FrontTransaction
from ..sync_future import SyncFuture
from . import shim
from .shim import Event

if TYPE_CHECKING:
    from .database import BrowserDatabase
    from .store import BrowserObjectStore


class BrowserTransaction(FrontTransaction):
    """A transaction of the browser's IndexedDB.

    >>> async with db.transaction("notes", "readwrite") as tx:
    ...     await tx.object_store("notes").put({"id": 1})

    Package-internal (for the browser's stores, cursors and shim.py, not for users):
    ``shim_id`` (the id shim.js knows it by), ``finished``, ``delivering`` (> 0 while one of
    its request events is delivered: it is active), ``ending`` (commit()/abort() ended it
    early), ``failing_error`` / ``escaped_error`` (a request's error being delivered / that
    escaped an ``async with``), ``cursor_ids``, ``undo_on_abort``, ``on_event``,
    ``abort_quietly()``.
    """

    def __init__(self, db: BrowserDatabase, tx_id: int, mode: str, durability: str) -> None:
        self._db = db
        self.shim_id = tx_id
        self._mode: Any = mode
        self._durability: Any = durability
        self._loop = shim.running_loop()
        self._done: SyncFuture[None] = SyncFuture(self._loop)
        self._error: BaseException | None = None
        self.finished = False
        self._user_abort = False
        self._store_handles: dict[str, BrowserObjectStore] = {}  # type: ignore[assignment]
        self.cursor_ids: list[int] = []
        self._names: list[str] | None = None
        self.failing_error: BaseException | None = None
        self.escaped_error: BaseException | None = None
        # > 0 while one of its request events is being delivered (so it is active), and True
        # once commit()/abort() ended it early: cursors serving moves from a page read these.
        self.delivering = 0
        self.ending = False
        self._abort_asked = False  # abort_quietly ran; the abort event has not come yet
        self.undo_on_abort: list[Callable[[], None]] = []  # undo the handles' renames, last first
        shim.handlers[tx_id] = self.on_event

    @classmethod
    def start(cls, db: BrowserDatabase, names: list[str], mode: str,
              durability: str) -> BrowserTransaction:
        """``db.transaction(names, mode, {durability})`` in the browser (errors raised here)."""
        shim.running_loop()
        tx_id = shim.new_id()
        shim.check(shim.js().transaction(db.shim_id, tx_id, json.dumps(names), mode, durability))
        return cls(db, tx_id, mode, durability)

    # -- events ------------------------------------------------------------------------------
    def on_event(self, kind: str, text: str) -> bool:
        self.finished = True
        shim.handlers.pop(self.shim_id, None)
        for cid in self.cursor_ids:  # cursors end with their transaction
            shim.handlers.pop(cid, None)
        self.cursor_ids.clear()
        self._db.transaction_finished(self)
        if kind == Event.COMPLETE:
            self._done.set_result(None)
        else:
            for undo in reversed(self.undo_on_abort):
                undo()
            err = shim.error_from_text(text) if text else None
            if self.escaped_error is not None and err is not None and err.name == self.escaped_error.name:
                err = self.escaped_error  # type: ignore[assignment]  # the very error that escaped
            self._error = err
            self._done.set_exception(err or AbortError("the transaction was aborted"))
        return False

    # -- public API ---------------------------------------------------------------------------
    @property
    def object_store_names(self) -> list[str]:
        if self.finished and self._names is not None:
            return list(self._names)
        text = shim.js().txNames(self.shim_id)
        if text and text[0] == shim.ERR:  # finished: the names it had
            return list(self._names or [])
        self._names = json.loads(text)
        return list(self._names)

    def _open_store(self, name: str) -> BrowserObjectStore:
        from .store import BrowserObjectStore

        return BrowserObjectStore.open(self, name)

    def commit(self) -> None:
        shim.check(shim.js().commit(self.shim_id))
        self.ending = True

    def abort(self) -> None:
        if self.finished:
            raise InvalidStateError("cannot abort: the transaction has already committed or aborted")
        shim.check(shim.js().abort(self.shim_id))
        self._user_abort = self.ending = True

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if exc is not None and self._abort_asked:
            return False  # already aborting (a cancelled request): nothing left to undo
        if exc is not None and exc is self.failing_error and not self.finished:
            # A request's own error escaped the block while its error event is being
            # delivered: instead of an explicit abort (tx.error None), let the browser's default
            # action abort with that error (no preventDefault), so tx.error and ``done`` say it.
            self.escaped_error = self._error = exc  # type: ignore[assignment]
            return False
        return await super().__aexit__(exc_type, exc, tb)

    def _abort_for_exception(self, exc: BaseException) -> None:
        # The browser may have finished the transaction (auto-commit while the block awaited
        # something else) before its complete event reached Python, as in a worker: nothing is
        # left to abort, and the block's own error, not a failed abort(), is what to raise.
        if not shim.js().abort(self.shim_id):
            self._user_abort = self.ending = True

    def _is_active(self) -> bool:
        return not self.finished and bool(shim.js().txActive(self.shim_id))

    def _is_finished(self) -> bool:
        return self.finished

    # -- for stores and cursors --------------------------------------------------------------
    def abort_quietly(self) -> None:
        """Abort after an error Python did not handle (a Python exception does not reach JS)."""
        if not self.finished:
            self.ending = self._abort_asked = True
            shim.js().abort(self.shim_id)


__all__ = ["BrowserTransaction"]
