"""``BrowserObjectStore`` and ``BrowserIndex``: each narrow method places one IndexedDB request.

The shared front half (:mod:`pyidb.front`) checks and converts the arguments on the Python side
first (``to_key``, records prepared by :mod:`pyidb.records`), so a bad key or value raises the same
pyidb error as on the engine, before anything is sent; when one fails, ``_check_usable`` asks the
shim's ``probe`` for the checks the browser makes *before* it looks at arguments (deleted store,
inactive transaction, read-only), so their errors win as in JS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import api, wire
from ..arguments import (
    check_flag,
    check_index_name,
    check_store_name,
)
from ..errors import Error, InvalidArgumentError, InvalidStateError, TransactionInactiveError
from ..front import FrontIndex, FrontObjectStore, FrontSource, rekey_handle
from ..keys import _utf16 as utf16
from ..records import KeyRules, PreparedRecord
from ..sync_future import SyncFuture
from . import shim
from .cursor import open_cursor

if TYPE_CHECKING:
    from .transaction import BrowserTransaction

_CHUNK = 1000  # records per chunk of a big put_many/add_many (see more() in _store_many)


def key_path_json(key_path: Any) -> str:
    """A key path as the shim's JSON (a str or list of str; the browser checks the syntax)."""
    if isinstance(key_path, str):
        return json.dumps(str.__str__(key_path))
    if isinstance(key_path, list | tuple) and all(isinstance(p, str) for p in key_path):
        return json.dumps([str.__str__(p) for p in key_path])
    from ..key_path import validate_key_path

    validate_key_path(key_path)  # raises the engine's KeyPathSyntaxError
    raise InvalidArgumentError(f"a key path must be a str or a list of str, not {key_path!r}")


class _Source(FrontSource):
    """What object stores and indexes share: placing a request on the shim."""

    _tx: BrowserTransaction
    _store_name: str
    _index_name: str

    def _request(self, op: str, build: Callable[[], str],
                 decode: Callable[[str], Any], write: bool = False,
                 more: Callable[[], Iterator[str]] | None = None) -> SyncFuture[Any]:
        """Check and encode the arguments (``build`` gives their wire text), then place ``op``;
        ``more`` gives the wire texts of the next chunks of a chunked batch, sent after it."""
        self.check_alive()
        try:
            args = build()
        except Error:
            self._probe(write)  # the browser's earlier checks win
            raise
        rid, fut = shim.new_request(decode, self._tx)
        js = shim.js()
        result = js.request(self._tx.shim_id, rid, self.store_name, self.index_name, op, args)
        if result:
            shim.forget(rid)
            shim.check(result)
        if more is not None:
            for text in more():
                result = js.batchMore(rid, text)
                if result:
                    shim.forget(rid)
                    shim.check(result)
        return fut

    def check_alive(self) -> None:
        # In an upgrade a store can be deleted and re-created under its name: the shim finds
        # stores by name, so a handle of the deleted one must refuse here (as the browser does).
        if self._is_deleted():
            raise InvalidStateError(f"{self!r} has been deleted")

    def _is_deleted(self) -> bool:
        return False

    def mark_deleted(self) -> None:
        """Package-internal: deleted in this upgrade (the shim finds stores and indexes by name,
        so this handle must refuse from now on, even if the name is used again)."""
        self._deleted = True

    def _rename(self, new_name: str) -> bool:
        """Set the real handle's name (the browser checks it); False if the name is unchanged.
        A finished transaction is gone from the shim: its errors are the spec's from here."""
        tx = self._tx
        if tx.finished:
            if tx.mode != "versionchange":
                raise InvalidStateError("renaming works only inside the upgrade callback of open()")
            raise TransactionInactiveError("the transaction is not active: it has finished")
        old = self.index_name or self.store_name
        shim.check(shim.js().rename(tx.shim_id, self.store_name, self.index_name, new_name))
        if new_name == old:
            return False
        tx.undo_on_abort.append(lambda: self._set_name(old))  # an aborted upgrade gives it back
        self._set_name(new_name)
        return True

    def _set_name(self, name: str) -> None:
        raise NotImplementedError

    def _probe(self, write: bool) -> None:
        shim.check(shim.js().probe(self._tx.shim_id, self.store_name, self.index_name, write))

    def _check_usable(self, write: bool) -> None:
        """The front half's hook: this handle's own deleted check, then the browser's."""
        self.check_alive()
        self._probe(write)

    # -- the front half's narrow methods (pyidb.front): the query is normalized ----------------
    def _query(self, kind: str, query: Any) -> SyncFuture[Any]:
        op, decode, write = _QUERY_OPS[kind]
        args = "[]" if kind == "clear" else "[" + shim.encode_query(query) + "]"
        return self._request(op, lambda: args, decode, write)

    def _get_all(self, kind: str, query: Any, limit: int | None,
                 direction: str) -> SyncFuture[list[Any]]:
        op, decode = _GET_ALL_OPS[kind]
        args = (f'[{shim.encode_query(query)},{"null" if limit is None else limit},'
                f'"{direction}"]')
        return self._request(op, lambda: args, decode)

    def _open_cursor(self, query: Any, direction: str, key_only: bool) -> api.CursorRequest[Any]:
        return open_cursor(self, query, direction, not key_only)


_QUERY_OPS: dict[str, tuple[str, Callable[[str], Any], bool]] = {
    "get": ("get", wire.loads, False), "get_key": ("getKey", shim.loads_key, False),
    "count": ("count", wire.loads, False), "delete": ("delete", shim.decode_none, True),
    "clear": ("clear", shim.decode_none, True),
}
_GET_ALL_OPS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "value": ("getAll", wire.loads), "key": ("getAllKeys", shim.loads_keys),
    "record": ("getAllRecords", shim.loads_records),
}


class BrowserObjectStore(_Source, FrontObjectStore):
    """An object store of the browser's IndexedDB, within a transaction."""

    def __init__(self, tx: BrowserTransaction, name: str, key_path: Any, auto_increment: bool,
                 index_names: list[str]) -> None:
        self._tx = tx
        self.store_name = name
        self.index_name = ""
        self._key_path = key_path
        self._auto_increment = auto_increment
        self._index_names = index_names
        self._index_handles: dict[str, BrowserIndex] = {}  # type: ignore[assignment]
        self._deleted = False

    @classmethod
    def open(cls, tx: BrowserTransaction, name: str) -> BrowserObjectStore:
        name = check_store_name(name)
        key_path, auto_increment, index_names = json.loads(
            shim.check(shim.js().storeInfo(tx.shim_id, name))
        )
        return cls(tx, name, key_path, auto_increment, index_names)

    def _is_deleted(self) -> bool:
        return self._deleted

    key_path = property(lambda self: self._key_path)
    auto_increment = property(lambda self: self._auto_increment)

    @property
    def name(self) -> str:
        return self.store_name

    @name.setter
    def name(self, new_name: str) -> None:
        new_name = check_store_name(new_name)
        self.check_alive()  # a deleted store's error comes first (then upgrade, active)
        self._rename(new_name)

    def _set_name(self, name: str) -> None:
        rekey_handle(self._tx._store_handles, self.store_name, name, self)
        self.store_name = name
        for index in self._index_handles.values():
            index.store_name = name
    transaction = property(lambda self: self._tx)

    @property
    def index_names(self) -> list[str]:
        if self._tx.mode == "versionchange" and not self._tx.finished:
            text = shim.js().storeInfo(self._tx.shim_id, self.store_name)
            if text and text[0] != shim.ERR:
                self._index_names = json.loads(text)[2]
        return list(self._index_names)

    # -- writes: the front half (api.ObjectStore) prepared the records ----------------------
    _injects_keys = False  # the browser puts a generated key into its own copy

    def _key_rules(self) -> KeyRules:
        return self.store_name, self._key_path, self._auto_increment

    def _store_records(self, records: list[PreparedRecord], no_overwrite: bool,
                       batch: bool) -> SyncFuture[Any]:
        # In-line keys were extracted for the checks only: the browser extracts them again.
        out_of_line = self._key_path is None
        if not batch:
            copy, tags, key, _ = records[0]
            args = wire.dumps(copy, tags, ensure_ascii=True)
            if out_of_line and key is not None:
                args += "," + shim.encode_valid_key(key)
            return self._request("add" if no_overwrite else "put", lambda: "[" + args + "]",
                                 shim.loads_key, write=True)
        copies = [r[0] for r in records]
        tags = any(r[1] for r in records)
        keys_given = out_of_line and any(r[2] is not None for r in records)

        def chunk(start: int, end: int) -> str:
            part = copies if start == 0 and end == len(copies) else copies[start:end]
            keys_text = "null" if not keys_given else "[" + ",".join(
                "null" if r[2] is None else shim.encode_valid_key(r[2])
                for r in records[start:end]) + "]"
            return shim.encode_args(wire.dumps(part, tags, ensure_ascii=True), keys_text)

        def first() -> str:
            if len(copies) <= _CHUNK:
                return chunk(0, len(copies))
            return chunk(0, _CHUNK)[:-1] + f",{len(copies)}]"  # [values, keys, total]

        def more() -> Iterator[str]:
            # every record was checked before the first chunk went out; now the browser
            # stores the first records while the next chunks are encoded
            for start in range(_CHUNK, len(copies), _CHUNK):
                yield chunk(start, start + _CHUNK)

        return self._request("addMany" if no_overwrite else "putMany", first, shim.loads_keys,
                             write=True, more=more)

    def _query_many(self, kind: str, queries: list[Any]) -> SyncFuture[Any]:
        if kind == "get_many":
            args = "[[" + ",".join(map(shim.encode_valid_key, queries)) + "]]"
            return self._request("getMany", lambda: args, wire.loads)
        args = "[[" + ",".join(map(shim.encode_query, queries)) + "]]"
        return self._request("deleteMany", lambda: args, shim.decode_none, write=True)

    # -- indexes -----------------------------------------------------------------------------
    def _open_index(self, name: str) -> BrowserIndex:
        key_path, unique, multi_entry = json.loads(
            shim.check(shim.js().indexInfo(self._tx.shim_id, self.store_name, name))
        )
        return BrowserIndex(self, name, key_path, unique, multi_entry)

    def create_index(self, name: str, key_path: str | Sequence[str], *, unique: bool = False,
                     multi_entry: bool = False) -> BrowserIndex:
        name = check_index_name(name)
        unique = check_flag(unique, "unique")
        multi_entry = check_flag(multi_entry, "multi_entry")
        shim.check(shim.js().createIndex(self._tx.shim_id, self.store_name, name,
                                         key_path_json(key_path), unique, multi_entry))
        self._index_handles.pop(name, None)
        return self.index(name)  # type: ignore[return-value]

    def delete_index(self, name: str) -> None:
        name = check_index_name(name)
        shim.check(shim.js().deleteIndex(self._tx.shim_id, self.store_name, name))
        handle = self._index_handles.pop(name, None)
        if handle is not None:
            handle.mark_deleted()


class BrowserIndex(_Source, FrontIndex):
    """An index of the browser's IndexedDB."""

    def __init__(self, store: BrowserObjectStore, name: str, key_path: Any, unique: bool,
                 multi_entry: bool) -> None:
        self._parent = store
        self._tx = store._tx
        self.store_name = store.store_name
        self.index_name = name
        self._key_path = key_path
        self._unique = unique
        self._multi_entry = multi_entry
        self._deleted = False

    def _is_deleted(self) -> bool:
        return self._deleted or self._parent._is_deleted()

    key_path = property(lambda self: self._key_path)

    @property
    def name(self) -> str:
        return self.index_name

    @name.setter
    def name(self, new_name: str) -> None:
        new_name = check_index_name(new_name)
        if self._is_deleted():  # the shim finds indexes by name: decide here, in spec order
            tx = self._tx
            if tx.mode == "versionchange" and not tx._is_active():
                raise TransactionInactiveError("the transaction is not active")
            raise InvalidStateError(f"{self!r} has been deleted")
        self._rename(new_name)

    def _set_name(self, name: str) -> None:
        parent, old = self._parent, self.index_name
        rekey_handle(parent._index_handles, old, name, self)
        parent._index_names = sorted((name if n == old else n for n in parent._index_names),
                                     key=utf16)  # sorted as a DOMStringList is
        self.index_name = name
    unique = property(lambda self: self._unique)
    multi_entry = property(lambda self: self._multi_entry)
    object_store = property(lambda self: self._parent)


__all__ = ["BrowserIndex", "BrowserObjectStore"]
