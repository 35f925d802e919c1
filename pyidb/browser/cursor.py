"""Browser cursors: one ``IDBRequest`` whose success event fires again after every move.

The shim sends records in pages (see ``trackCursor`` in shim.js): ``[flag, [key, primary_key,
value], ...]``. In a readwrite or versionchange transaction a page is one record, so every move
is a real ``IDBCursor`` move and sees the transaction's own writes. In a readonly transaction
nothing can change the records in the cursor's range, so the shim reads ahead and a move that
lands inside the page is served here, without crossing to JS: its SyncFuture is already done
(awaiting it does not yield, so the transaction stays active), and the cursor takes the record
when the move is awaited, as it would in the browser's success event. The checks a move makes
(transaction active, cursor not being iterated, keys valid and past the position) are made here
in the browser's order; moves past the page go to the ``IDBCursor``, which stands on the page's
last record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import api, wire
from ..arguments import show
from ..errors import (
    DataError,
    Error,
    InvalidAccessError,
    InvalidArgumentError,
    InvalidStateError,
    TransactionInactiveError,
)
from ..front import FrontCursor
from ..keys import compare_keys, to_key
from ..sync_future import SyncFuture
from . import shim
from .shim import Event

if TYPE_CHECKING:
    import asyncio

    from .store import _Source
    from .transaction import BrowserTransaction

_NO_VALUE = object()


class _Served(SyncFuture[Any]):
    """A move served from the page: done at once; the cursor takes the record when the result is
    read (``await``), because the browser's success event could only come after the caller's
    synchronous code: until then the cursor keeps its position and is "being iterated"."""

    __slots__ = ("_cursor", "_record")

    def __init__(self, loop: asyncio.AbstractEventLoop, cursor: BrowserCursor,
                 record: list[Any] | None) -> None:
        super().__init__(loop)
        self._cursor: BrowserCursor | None = cursor
        self._record = record
        self.set_result(None if record is None else cursor)  # nobody is waiting on it yet

    def result(self) -> Any:
        cursor = self._cursor
        if cursor is not None:
            self._cursor = None
            cursor._take(self, self._record)
        return super().result()


class BrowserCursor(FrontCursor):
    """A key cursor over the browser's IndexedDB (``open_key_cursor``)."""

    def __init__(self, source: _Source, tx: BrowserTransaction, rid: int, direction: str,
                 with_value: bool) -> None:
        self._source = source
        self._tx = tx
        self.shim_id = rid
        self._direction: Any = direction
        self._with_value = with_value
        self._key: Any = None
        self._primary_key: Any = None
        self._value: Any = _NO_VALUE
        self._pending: SyncFuture[Any] | None = None
        self._page: list[Any] = [0]  # [flag, record...]; records from index 1
        self._pos = 0  # the current record's index in the page
        self._unseen: _Served | None = None  # a served move not awaited yet
        self._at_end = False  # a move gave None: the cursor cannot move again

    source = property(lambda self: self._source)
    direction = property(lambda self: self._direction)
    key = property(lambda self: self._key)
    primary_key = property(lambda self: self._primary_key)

    # -- events ------------------------------------------------------------------------------
    def on_event(self, kind: str, text: str) -> bool:
        fut, self._pending = self._pending, None
        if fut is None:  # nobody moved it (cannot happen with the shim): ignore
            return False
        tx = self._tx
        tx.delivering += 1  # the transaction is active while the awaiting task runs here
        try:
            if kind == Event.ERROR:
                return fut.set_exception(shim.error_from_text(text))
            try:
                if kind == Event.UNSENDABLE:  # the shim could not encode the record
                    raise shim.error_from_text(text)
                page = wire.loads(text)
            except Error as exc:
                if not fut.set_exception(exc):
                    tx.abort_quietly()
                return False
            self._page = page
            if len(page) == 1:  # past the end
                self._pos = 0
                self._at_end = True
                fut.set_result(None)
                return False
            self._pos = 1
            self._set(page[1])
            fut.set_result(self)
            return False
        finally:
            tx.delivering -= 1

    def _set(self, record: list[Any]) -> None:
        self._key, self._primary_key = shim.fix_key(record[0]), shim.fix_key(record[1])
        if self._with_value:
            self._value = record[2]

    def _take(self, served: _Served, record: list[Any] | None) -> None:
        if self._unseen is served:
            self._unseen = None
            if record is None:
                self._at_end = True
            else:
                self._set(record)

    def _expect(self) -> SyncFuture[Any]:
        fut: SyncFuture[Any] = SyncFuture(self._tx._loop)
        self._pending = fut
        return fut

    # -- moves -------------------------------------------------------------------------------
    def continue_(self, key: Any = None) -> SyncFuture[Any]:
        """The common step, kept short: the next record of the page, inside one of the
        transaction's events (so it is active) while nothing else is moving the cursor."""
        if key is None:
            page, pos, tx = self._page, self._pos + 1, self._tx
            if (pos < len(page) - 1 or (pos == len(page) - 1 and type(page[0]) is not str)) \
                    and self._unseen is None and tx.delivering and not tx.ending:
                self._pos = pos
                self._last_move = self._unseen = served = _Served(tx._loop, self, page[pos])
                return served
        self._last_move = move = self._move(1, key, None)
        return move

    def _move(self, count: int, key: Any, primary_key: Any) -> SyncFuture[Any]:
        loop = shim.running_loop()
        if count != 1:  # advance(count); advance(1) is continue()
            if type(count) is not int or not 1 <= count <= 2**32 - 1:
                raise InvalidArgumentError(
                    f"advance() needs an int from 1 to 2**32-1, not {show(count)}"
                )
        page = self._page
        if self._pos + 1 < len(page) or page[0] == 1 or self._unseen is not None:
            return self._move_in_page(loop, count, key, primary_key)
        try:
            op, args = _real_move(count, count, key, primary_key)
        except Error:
            shim.check(shim.js().cursorProbe(self.shim_id, "move"))
            raise
        shim.check(shim.js().cursorMove(self.shim_id, op, args))
        return self._expect()

    def _move_in_page(self, loop: asyncio.AbstractEventLoop, count: int, key: Any,
                      primary_key: Any) -> SyncFuture[Any]:
        """A move in a readonly transaction while the page has records ahead (or its end)."""
        tx = self._tx
        if tx.delivering == 0 or tx.ending:  # not inside one of its events: ask the browser
            if not shim.js().txActive(tx.shim_id):
                raise TransactionInactiveError(
                    "the transaction is not active: move the cursor in the code that awaited "
                    "its last result, without awaiting anything else in between"
                )
        forward = self._direction in ("next", "nextunique")
        if primary_key is not None:
            if not self._source.index_name:
                raise InvalidAccessError("continue_primary_key() needs a cursor on an index")
            if self._direction not in ("next", "prev"):
                raise InvalidAccessError(
                    f"continue_primary_key() needs direction 'next' or 'prev', not "
                    f"{self._direction!r}"
                )
        if self._unseen is not None or self._pending is not None or self._at_end:
            raise InvalidStateError(
                "the cursor is being iterated or has iterated past its end: await its last "
                "move before moving it again"
            )
        page, pos, last = self._page, self._pos, len(self._page) - 1
        if count != 1:
            target = pos + count
        elif key is None:
            target = pos + 1
        else:
            k = to_key(key)
            c = compare_keys(k, self._key)
            if primary_key is None:
                if (c <= 0) if forward else (c >= 0):
                    raise DataError(
                        f"continue_({key!r}) must move {'past' if forward else 'before'} the "
                        f"cursor's key {self._key!r}"
                    )
            else:
                pk = to_key(primary_key)
                if c == 0:
                    c = compare_keys(pk, self._primary_key)
                    if (c <= 0) if forward else (c >= 0):
                        raise DataError(
                            f"continue_primary_key({key!r}, {primary_key!r}) must move "
                            f"{'past' if forward else 'before'} the cursor's primary key "
                            f"{self._primary_key!r}"
                        )
                elif (c < 0) if forward else (c > 0):
                    raise DataError(
                        f"continue_primary_key({key!r}, ...) must not move "
                        f"{'before' if forward else 'past'} the cursor's key {self._key!r}"
                    )
            target = pos + 1
            while target <= last:
                rk = shim.fix_key(page[target][0])
                c = compare_keys(rk, k)
                if c == 0 and primary_key is not None:
                    c = compare_keys(shim.fix_key(page[target][1]), pk)
                if (c >= 0) if forward else (c <= 0):
                    break
                target += 1
        if target > last:
            if page[0] == 1:  # the records ran out after the page
                self._pos = last
                self._unseen = served = _Served(loop, self, None)
                return served
            # the IDBCursor stands on the page's last record, before the target
            self._page, self._pos = [0], 0
            op, args = _real_move(count, target - last, key, primary_key)
            shim.check(shim.js().cursorMove(self.shim_id, op, args))
            return self._expect()
        self._pos = target
        if target == last and type(page[0]) is str:  # a record Python cannot hold
            self._key, self._primary_key = shim.fix_key(page[target][0]), shim.fix_key(page[target][1])
            self._page, self._pos = [0], 0
            shim.check(shim.js().cursorMove(self.shim_id, "fail", "[]"))
            return self._expect()
        self._unseen = served = _Served(loop, self, page[target])
        return served

    def _check_usable(self, what: str) -> None:  # the front half's hook: ask the real cursor
        shim.check(shim.js().cursorProbe(self.shim_id, what))

    def _update(self, copy: Any, needs_tags: bool, plain: bool) -> SyncFuture[Any]:
        args = "[" + wire.dumps(copy, needs_tags, ensure_ascii=True) + "]"
        rid, fut = shim.new_request(shim.loads_key, self._tx)
        result = shim.js().cursorUpdate(self.shim_id, rid, args)
        if result:
            shim.forget(rid)
            shim.check(result)
        return fut

    def delete(self) -> SyncFuture[None]:
        rid, fut = shim.new_request(shim.decode_none, self._tx)
        result = shim.js().cursorDelete(self.shim_id, rid)
        if result:
            shim.forget(rid)
            shim.check(result)
        return fut


class BrowserCursorWithValue(BrowserCursor, api.CursorWithValue):
    """A cursor with the record's value (``open_cursor``)."""

    @property
    def value(self) -> Any:
        return self._value


def open_cursor(source: _Source, query: Any, direction: str,
                with_value: bool) -> api.CursorRequest[Any]:
    """``source.openCursor(query, direction)`` (or ``openKeyCursor``) as a CursorRequest."""
    tx = source._tx
    source.check_alive()
    q = shim.encode_query(query)  # normalized by the front half
    rid = shim.new_id()
    cls = BrowserCursorWithValue if with_value else BrowserCursor
    cursor = cls(source, tx, rid, direction, with_value)
    first = cursor._expect()
    shim.handlers[rid] = cursor.on_event
    op = "openCursor" if with_value else "openKeyCursor"
    result = shim.js().request(tx.shim_id, rid, source.store_name, source.index_name, op,
                               shim.encode_args(q, f'"{direction}"'))
    if result:
        shim.handlers.pop(rid, None)
        shim.check(result)
    tx.cursor_ids.append(rid)
    return api.CursorRequest(first)


__all__ = ["BrowserCursor", "BrowserCursorWithValue", "open_cursor"]


def _real_move(count: int, advance_by: int, key: Any, primary_key: Any) -> tuple[str, str]:
    """The shim call (operation, wire args) that moves the real IDBCursor: ``advance`` by
    ``advance_by`` for a multi-step move, else ``continuePrimaryKey`` / ``continue``."""
    if count != 1:
        return "advance", f"[{advance_by}]"
    if primary_key is not None:
        return "continuePrimaryKey", shim.encode_args(shim.encode_key(key), shim.encode_key(primary_key))
    if key is None:
        return "continue", "[]"
    return "continue", shim.encode_args(shim.encode_key(key))
