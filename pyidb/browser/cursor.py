"""Browser cursors: one ``IDBRequest`` whose success event fires again after every move.

The shim keeps the ``IDBCursor`` under the request's id and sends ``[key, primary_key, value]``
(or ``null`` at the end) as one wire text per move; each move's SyncFuture resolves, inside that
event, with this same Python cursor object or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import api, values
from ..errors import Error, InvalidArgumentError
from ..sync_future import SyncFuture
from . import shim

if TYPE_CHECKING:
    from .store import _Source
    from .transaction import BrowserTransaction

_NO_VALUE = object()


class BrowserCursor(api.Cursor):
    """A key cursor over the browser's IndexedDB (``open_key_cursor``)."""

    def __init__(self, source: _Source, tx: BrowserTransaction, rid: int, direction: str,
                 with_value: bool) -> None:
        self._source = source
        self._tx = tx
        self._id = rid
        self._direction: Any = direction
        self._with_value = with_value
        self._key: Any = None
        self._primary_key: Any = None
        self._value: Any = _NO_VALUE
        self._pending: SyncFuture[Any] | None = None

    source = property(lambda self: self._source)
    direction = property(lambda self: self._direction)
    key = property(lambda self: self._key)
    primary_key = property(lambda self: self._primary_key)

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, kind: str, text: str) -> bool:
        fut, self._pending = self._pending, None
        if fut is None:  # nobody moved it (cannot happen with the shim): ignore
            return False
        if kind == "e":
            return fut.set_exception(shim.error_from_text(text))
        try:
            if kind == "x":  # the shim could not encode the record
                raise shim.error_from_text(text)
            record = values.loads(text)
        except Error as exc:
            if not fut.set_exception(exc):
                self._tx._abort_quietly()
            return False
        if record is None:
            fut.set_result(None)
            return False
        self._key, self._primary_key = shim.fix_key(record[0]), shim.fix_key(record[1])
        if self._with_value:
            self._value = record[2]
        fut.set_result(self)
        return False

    def _expect(self) -> SyncFuture[Any]:
        fut: SyncFuture[Any] = SyncFuture(self._tx._loop)
        self._pending = fut
        return fut

    # -- moves -------------------------------------------------------------------------------
    def _move(self, count: int, key: Any, primary_key: Any) -> SyncFuture[Any]:
        shim.running_loop()
        try:
            if count != 1:  # advance(count); advance(1) is continue()
                if type(count) is not int or not 1 <= count <= 2**32 - 1:
                    raise InvalidArgumentError(
                        f"advance() needs an int from 1 to 2**32-1, not {count!r}"
                    )
                op, args = "advance", f"[{count}]"
            elif primary_key is not None:
                op = "continuePrimaryKey"
                args = shim.encode_args(shim.encode_key(key), shim.encode_key(primary_key))
            elif key is None:
                op, args = "continue", "[]"
            else:
                op, args = "continue", shim.encode_args(shim.encode_key(key))
        except InvalidArgumentError:
            raise
        except Error:
            shim.check(shim.js().cursorProbe(self._id, "move"))
            raise
        shim.check(shim.js().cursorMove(self._id, op, args))
        return self._expect()

    def update(self, value: Any) -> SyncFuture[Any]:
        try:
            args = shim.encode_args(shim.encode_value(value))
        except Error:
            shim.check(shim.js().cursorProbe(self._id, "update"))
            raise
        rid, fut = shim.new_request(shim.loads_key, self._tx)
        result = shim.js().cursorUpdate(self._id, rid, args)
        if result:
            shim.forget(rid)
            shim.check(result)
        return fut

    def delete(self) -> SyncFuture[None]:
        rid, fut = shim.new_request(shim.decode_none, self._tx)
        result = shim.js().cursorDelete(self._id, rid)
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
    source._check_alive()
    try:
        q = shim.encode_query(query, True)
    except Error:
        source._probe(False)
        raise
    rid = shim.new_id()
    cls = BrowserCursorWithValue if with_value else BrowserCursor
    cursor = cls(source, tx, rid, direction, with_value)
    first = cursor._expect()
    shim.handlers[rid] = cursor._on_event
    op = "openCursor" if with_value else "openKeyCursor"
    result = shim.js().request(tx._id, rid, source._store_name, source._index_name, op,
                               shim.encode_args(q, f'"{direction}"'))
    if result:
        shim.handlers.pop(rid, None)
        shim.check(result)
    tx._cursor_ids.append(rid)
    return api.CursorRequest(first)


__all__ = ["BrowserCursor", "BrowserCursorWithValue", "open_cursor"]
