"""Spec 2.10 cursors and "iterate a cursor", on encoded keys.

Every move is a fresh seek from the cursor's position (as the spec's algorithm is written), so a
cursor sees the records its own transaction wrote meanwhile. For an index, entries are
``enc(index key) + enc(primary key)``; since encodings are prefix-free, "after entry E" is
``>= E + b"\\x00"``, "after every entry of index key K" is ``>= enc(K) + b"\\xff"``, and
"up to and including entries of K" is ``< enc(K) + b"\\xff"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import api
from ..cursor_rules import (
    CursorState,
    check_cursor_write,
    check_move,
    check_step,
    check_update_key,
)
from ..front import FrontCursor
from ..key_encoding import decode_key, encode_key
from ..wire import decode
from . import record_store
from .bounds import after, index_key_of, past
from .catalog import IndexSchema, StoreSchema
from .inline import inline_request

if TYPE_CHECKING:
    from ..sync_future import SyncFuture
    from .transaction import EngineTransaction

_UNSET = object()
_PAGE = 32  # rows a readonly cursor reads ahead at first; each further page doubles, up to:
_MAX_PAGE = 1024  # (a long walk then costs one SQL statement per ~1,000 records, not per 32)


def _max(a: bytes | None, b: bytes) -> bytes:
    return b if a is None or b > a else a


def _min(a: bytes | None, b: bytes) -> bytes:
    return b if a is None or b < a else a


class EngineCursor(FrontCursor):
    """A key cursor of the pure-Python engine; :class:`EngineCursorWithValue` adds the value."""

    def __init__(self, source: Any, tx: EngineTransaction, store: StoreSchema,
                 index: IndexSchema | None, bounds: tuple[bytes | None, bytes | None],
                 direction: str, key_only: bool) -> None:
        self._source = source
        self._tx = tx
        self._store = store
        self._index = index
        self._lo, self._hi = bounds
        self._direction: Any = direction
        self._key_only = key_only
        self._pos: bytes | None = None  # encoded key at the cursor
        self._opos: bytes | None = None  # encoded primary key (index cursors)
        self._key: Any = None
        self._primary_key: Any = None
        self._raw: bytes | None = None
        self._value: Any = _UNSET
        self._got_value = False
        # Rows read ahead (reversed, so pop() is the next one). Only in readonly transactions:
        # nothing can change the records under the cursor there, so a page read once stays true.
        self._ahead: list[tuple[bytes, bytes]] = []
        self._read_ahead = tx.mode == "readonly"
        self._page = _PAGE

    source = property(lambda self: self._source)
    direction = property(lambda self: self._direction)

    # Keys are decoded when read (a walk that reads only values never decodes them).
    @property
    def key(self) -> Any:
        if self._key is _UNSET:
            self._key = decode_key(self._pos)  # type: ignore[arg-type]
        return self._key

    @property
    def primary_key(self) -> Any:
        if self._primary_key is _UNSET:
            self._primary_key = decode_key(self._pos if self._opos is None else self._opos)  # type: ignore[arg-type]
        return self._primary_key

    def _deleted(self) -> bool:
        return self._store.deleted or (self._index is not None and self._index.deleted)

    # -- moving ------------------------------------------------------------------------------
    def _move(self, count: int, key: Any, primary_key: Any) -> SyncFuture[Any]:
        # The rules live in pyidb.cursor_rules (the host socket's client uses them too); the
        # current key is decoded only when a target key must be compared with it.
        got = self._got_value
        if key is None and primary_key is None and type(count) is int and count == 1:  # a step
            check_step(self._deleted(), self._tx.check_active, got)
            self._got_value = False
            if self._ahead and (self._index is None or self._key_only):
                # Served from the page: may complete when awaited (landing reads nothing).
                return inline_request(self._tx, lambda: self._iterate(1))
            return self._tx.request(lambda: self._iterate(1))
        state = CursorState(self._deleted(), self._index is not None, self._direction, got,
                            self.key if got and key is not None else None,
                            self.primary_key if got and primary_key is not None else None,
                            self._tx.check_active)
        key, primary_key = check_move(count, key, primary_key, state)
        key_b = None if key is None else encode_key(key)
        pk_b = None if primary_key is None else encode_key(primary_key)
        self._got_value = False
        return self._tx.request(lambda: self._iterate(count, key_b, pk_b))

    def _iterate(self, count: int, key_b: bytes | None = None,
                 pk_b: bytes | None = None) -> EngineCursor | None:
        """Spec "iterate a cursor": move ``count`` records; self, or None past the end."""
        storage = self._tx.storage
        tree = self._index.tree if self._index is not None else self._store.tree
        direction = self._direction
        hit: tuple[bytes, bytes] | None = None
        if direction in ("next", "prev") or self._index is None:
            lo, hi = self._lo, self._hi
            cur = None if self._pos is None else self._pos + (self._opos or b"")
            if count == 1 and key_b is None and self._ahead:
                hit = self._ahead.pop()
                return self._land(storage, hit)
            self._ahead.clear()
            # Read ahead from the second move on: opening a cursor just to read one record
            # (a seek) should not pay for a page.
            walking = self._pos is not None and key_b is None and count == 1
            fetch = count
            if self._read_ahead and walking:
                fetch = self._page
                self._page = min(fetch * 2, _MAX_PAGE)
            if direction.startswith("next"):
                if cur is not None:
                    lo = _max(lo, after(cur))
                if key_b is not None:
                    lo = _max(lo, key_b + (pk_b or b""))
                rows = list(storage.scan(tree, lo, hi, limit=fetch))
            else:
                if cur is not None:
                    hi = _min(hi, cur)
                if key_b is not None:
                    hi = _min(hi, after(key_b + pk_b) if pk_b is not None else past(key_b))
                rows = list(storage.scan(tree, lo, hi, reverse=True, limit=fetch))
            hit = rows[count - 1] if len(rows) >= count else None
            if fetch > count and len(rows) > 1:
                self._ahead = rows[:0:-1]
        else:
            for _ in range(count):
                hit = self._unique_step(storage, tree, key_b)
                if hit is None:
                    break
                key_b = None
                self._set_index_position(hit)
        return self._land(storage, hit)

    def _land(self, storage: Any, hit: tuple[bytes, bytes] | None) -> EngineCursor | None:
        """Put the cursor on ``hit`` (an entry of its tree), or past the end if None."""
        if hit is None:
            self._pos = self._opos = None
            self._key = self._primary_key = None
            self._raw, self._value = None, None
            return None
        self._key = self._primary_key = _UNSET
        if self._index is None:
            self._pos, self._opos = hit[0], None
            self._raw = hit[1]
        else:
            self._set_index_position(hit)
            self._raw = None if self._key_only else storage.get(self._store.tree, hit[1])
        self._value = _UNSET
        self._got_value = True
        return self

    def _set_index_position(self, hit: tuple[bytes, bytes]) -> None:
        entry, pk = hit
        self._pos, self._opos = index_key_of(entry, pk), pk

    def _unique_step(self, storage: Any, tree: int, key_b: bytes | None) -> tuple[bytes, bytes] | None:
        lo, hi = self._lo, self._hi
        if self._direction == "nextunique":
            if self._pos is not None:
                lo = _max(lo, past(self._pos))
            if key_b is not None:
                lo = _max(lo, key_b)
            return next(storage.scan(tree, lo, hi, limit=1), None)
        # prevunique: the last index key before the position, then its first entry.
        if self._pos is not None:
            hi = _min(hi, self._pos)
        if key_b is not None:
            hi = _min(hi, past(key_b))
        last = next(storage.scan(tree, lo, hi, reverse=True, limit=1), None)
        if last is None:
            return None
        ik = index_key_of(*last)
        return next(storage.scan(tree, _max(self._lo, ik), past(ik), limit=1), None)

    # -- writing through the cursor -------------------------------------------------------------
    def _check_write(self) -> None:
        check_cursor_write(self._tx.check_active, self._tx.check_writable, self._deleted(),
                           self._got_value, self._key_only)

    def _check_usable(self, what: str) -> None:  # the front half's hook
        self._check_write()

    def _update(self, copy: Any, needs_tags: bool, plain: bool) -> SyncFuture[Any]:
        self._check_write()
        store = self._store
        check_update_key(store.key_path, copy, self.primary_key)
        if plain:  # its bytes and index keys now, instead of a copy
            copy = record_store.encode_plain(tuple(store.indexes.values()), copy)
        storage, pk = self._tx.storage, self.primary_key
        return self._tx.request(
            lambda: record_store.put_one(storage, store, copy, needs_tags, pk, False)
        )

    def delete(self) -> SyncFuture[None]:
        self._check_write()
        storage, store = self._tx.storage, self._store
        pk = self._pos if self._opos is None else self._opos
        bounds = (pk, after(pk))
        return self._tx.request(lambda: record_store.delete_records(storage, store, bounds))


class EngineCursorWithValue(EngineCursor, api.CursorWithValue):
    """A cursor of the pure-Python engine that also has the record's value."""

    @property
    def value(self) -> Any:
        if self._value is _UNSET:
            self._value = None if self._raw is None else decode(self._raw)
        return self._value


def open_cursor(source: Any, tx: EngineTransaction, store: StoreSchema,
                index: IndexSchema | None, bounds: tuple[bytes | None, bytes | None],
                direction: str, *, key_only: bool) -> api.CursorRequest[Any]:
    cls = EngineCursor if key_only else EngineCursorWithValue
    cursor = cls(source, tx, store, index, bounds, direction, key_only)
    return api.CursorRequest(tx.request(lambda: cursor._iterate(1)))
