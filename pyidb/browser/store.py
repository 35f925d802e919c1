"""``BrowserObjectStore`` and ``BrowserIndex``: each method places one IndexedDB request.

Arguments are checked and converted on the Python side first (``to_key``, ``clone``), so a
bad key or value raises the same pyidb error as on the engine. Those checks run before anything
is sent; when one fails, the shim's ``probe`` first runs the checks the browser makes *before* it
looks at arguments (deleted store, inactive transaction, read-only), so their errors win as in JS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import api, wire
from ..arguments import (
    as_list,
    check_count,
    check_direction,
    check_flag,
    check_index_name,
    check_store_name,
)
from ..clone import clone, is_plain
from ..errors import Error, InvalidArgumentError, InvalidStateError
from ..records import check_key_use, record_key
from ..sync_future import SyncFuture
from . import shim
from .cursor import open_cursor

if TYPE_CHECKING:
    from .transaction import BrowserTransaction

_MISSING = object()
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


class _Source(api._Readable):
    """What object stores and indexes share: placing a request on the shim."""

    _tx: BrowserTransaction
    _store_name: str
    _index_name: str

    def _request(self, op: str, build: Callable[[], str],
                 decode: Callable[[str], Any], write: bool = False,
                 more: Callable[[], Iterator[str]] | None = None) -> SyncFuture[Any]:
        """Check and encode the arguments (``build`` gives their wire text), then place ``op``;
        ``more`` gives the wire texts of the next chunks of a chunked batch, sent after it."""
        self._check_alive()
        try:
            args = build()
        except Error:
            self._probe(write)  # the browser's earlier checks win
            raise
        rid, fut = shim.new_request(decode, self._tx)
        js = shim.js()
        result = js.request(self._tx._id, rid, self._store_name, self._index_name, op, args)
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

    def _check_alive(self) -> None:
        # In an upgrade a store can be deleted and re-created under its name: the shim finds
        # stores by name, so a handle of the deleted one must refuse here (as the browser does).
        if self._is_deleted():
            raise InvalidStateError(f"{self!r} has been deleted")

    def _is_deleted(self) -> bool:
        return False

    def _probe(self, write: bool) -> None:
        shim.check(shim.js().probe(self._tx._id, self._store_name, self._index_name, write))

    def _query_op(self, op: str, query: Any, null_allowed: bool,
                  decode: Callable[[str], Any] = wire.loads, write: bool = False) -> SyncFuture[Any]:
        return self._request(op, lambda: shim.encode_args(shim.encode_query(query, null_allowed)),
                             decode, write)

    # -- reads -------------------------------------------------------------------------------
    def get(self, query: Any) -> SyncFuture[Any]:
        return self._query_op("get", query, False)

    def get_key(self, query: Any) -> SyncFuture[Any]:
        return self._query_op("getKey", query, False, shim.loads_key)

    def count(self, query: Any = None) -> SyncFuture[int]:
        return self._query_op("count", query, True)

    def _get_all(self, op: str, query: Any, count: Any, direction: Any,
                 decode: Callable[[str], Any]) -> SyncFuture[list[Any]]:
        # the options' WebIDL checks come first (count, then direction), as in JS
        limit = check_count(count)
        options = f',{"null" if limit is None else limit},"{check_direction(direction)}"'
        return self._request(op, lambda: "[" + shim.encode_query(query) + options + "]", decode)

    def get_all(self, query: Any = None, count: int | None = None,
                direction: Any = "next") -> SyncFuture[list[Any]]:
        return self._get_all("getAll", query, count, direction, wire.loads)

    def get_all_keys(self, query: Any = None, count: int | None = None,
                     direction: Any = "next") -> SyncFuture[list[Any]]:
        return self._get_all("getAllKeys", query, count, direction, shim.loads_keys)

    def get_all_records(self, query: Any = None, count: int | None = None,
                        direction: Any = "next") -> SyncFuture[list[api.Record]]:
        return self._get_all("getAllRecords", query, count, direction, shim.loads_records)

    def open_cursor(self, query: Any = None, direction: Any = "next") -> api.CursorRequest[Any]:
        return open_cursor(self, query, check_direction(direction), True)

    def open_key_cursor(self, query: Any = None, direction: Any = "next") -> api.CursorRequest[Any]:
        return open_cursor(self, query, check_direction(direction), False)


class BrowserObjectStore(_Source, api.ObjectStore):
    """An object store of the browser's IndexedDB, within a transaction."""

    def __init__(self, tx: BrowserTransaction, name: str, key_path: Any, auto_increment: bool,
                 index_names: list[str]) -> None:
        self._tx = tx
        self._store_name = name
        self._index_name = ""
        self._key_path = key_path
        self._auto_increment = auto_increment
        self._index_names = index_names
        self._indexes: dict[str, BrowserIndex] = {}
        self._deleted = False

    @classmethod
    def open(cls, tx: BrowserTransaction, name: str) -> BrowserObjectStore:
        name = check_store_name(name)
        key_path, auto_increment, index_names = json.loads(
            shim.check(shim.js().storeInfo(tx._id, name))
        )
        return cls(tx, name, key_path, auto_increment, index_names)

    def _is_deleted(self) -> bool:
        return self._deleted

    name = property(lambda self: self._store_name)
    key_path = property(lambda self: self._key_path)
    auto_increment = property(lambda self: self._auto_increment)
    transaction = property(lambda self: self._tx)

    @property
    def index_names(self) -> list[str]:
        if self._tx.mode == "versionchange" and not self._tx._finished:
            text = shim.js().storeInfo(self._tx._id, self._store_name)
            if text and text[0] != shim.ERR:
                self._index_names = json.loads(text)[2]
        return list(self._index_names)

    # -- writes ------------------------------------------------------------------------------
    def _store_one(self, op: str, value: Any, key: Any) -> SyncFuture[Any]:
        def build() -> str:
            # spec order: the key is converted before the value is cloned
            if key is None:
                return shim.encode_args(shim.encode_value(value))
            k = shim.encode_key(key)
            return shim.encode_args(shim.encode_value(value), k)

        return self._request(op, build, shim.loads_key, write=True)

    def add(self, value: Any, key: Any = None) -> SyncFuture[Any]:
        return self._store_one("add", value, key)

    def put(self, value: Any, key: Any = None) -> SyncFuture[Any]:
        return self._store_one("put", value, key)

    def _store_many(self, op: str, values_in: Iterable[Any],
                    keys: Iterable[Any] | None) -> SyncFuture[list[Any]]:
        def build() -> str:
            vals = as_list(values_in, "values")
            key_list = None if keys is None else as_list(keys, "keys")
            if key_list is not None and len(key_list) != len(vals):
                raise InvalidArgumentError(
                    f"got {len(vals)} values but {len(key_list)} keys; pass one key per value"
                )
            copies: list[Any] = []
            tags = False
            key_texts: list[str] = []
            path = self._key_path
            # the common batch: plain dicts whose key is one top-level int/str/float property
            # ("id"); what this does not settle (no key, other key types) goes to _prepare
            simple = key_list is None and type(path) is str and path != "" and "." not in path
            for i, v in enumerate(vals):
                if simple and type(v) is dict and is_plain(v):
                    found = v.get(path, _MISSING)
                    tf = type(found)
                    if tf is int or tf is str or tf is float:  # plain: a valid key as it is
                        copies.append(v)
                        continue
                k = None if key_list is None else key_list[i]
                copy, vt, kw = self._prepare(v, k)
                copies.append(copy)
                if kw is not None:
                    key_texts.append(kw)
                tags = tags or vt
            checked[:] = copies, tags, key_texts, key_list is None
            if len(copies) <= _CHUNK:
                return chunk(0, len(copies))
            return chunk(0, _CHUNK)[:-1] + f",{len(copies)}]"  # [values, keys, total]

        def chunk(start: int, end: int) -> str:
            copies, tags, key_texts, no_keys = checked
            keys_text = "null" if no_keys else shim.encode_args(*key_texts[start:end])
            part = copies if start == 0 and end == len(copies) else copies[start:end]
            return shim.encode_args(wire.dumps(part, tags, ensure_ascii=True), keys_text)

        def more() -> Iterator[str]:
            # every record was checked before the first chunk went out; now the browser
            # stores the first records while the next chunks are encoded
            n = len(checked[0])
            for start in range(_CHUNK, n, _CHUNK):
                yield chunk(start, start + _CHUNK)

        checked: list[Any] = []
        return self._request(op, build, shim.loads_keys, write=True, more=more)

    def _prepare(self, value: Any, key: Any) -> tuple[Any, bool, str | None]:
        """The engine's checks of one record of a batch, so a bad record raises at call time
        and nothing is sent (the browser would find it only after placing earlier records)."""
        path, auto = self._key_path, self._auto_increment
        check_key_use(self._store_name, path, auto, key)
        k = None if key is None else shim.encode_key(key)
        # The wire text is the browser's copy: a plain value is dumped as it is (same text,
        # same key extraction as its clone would give), only the others are cloned first.
        copy, vt = (value, False) if is_plain(value) else clone(value)
        if path is not None:
            record_key(self._store_name, path, auto, copy)
        return copy, vt, k

    def add_many(self, values: Iterable[Any], keys: Iterable[Any] | None = None) -> SyncFuture[list[Any]]:
        return self._store_many("addMany", values, keys)

    def put_many(self, values: Iterable[Any], keys: Iterable[Any] | None = None) -> SyncFuture[list[Any]]:
        return self._store_many("putMany", values, keys)

    def get_many(self, keys: Iterable[Any]) -> SyncFuture[list[Any]]:
        def build() -> str:
            return shim.encode_args(
                shim.encode_args(*[shim.encode_key(k) for k in as_list(keys, "keys")]))

        return self._request("getMany", build, wire.loads)

    def delete_many(self, keys: Iterable[Any]) -> SyncFuture[None]:
        def build() -> str:
            return shim.encode_args(shim.encode_args(
                *[shim.encode_query(k, False) for k in as_list(keys, "keys")]))

        return self._request("deleteMany", build, shim.decode_none, write=True)

    def delete(self, query: Any) -> SyncFuture[None]:
        return self._query_op("delete", query, False, shim.decode_none, write=True)

    def clear(self) -> SyncFuture[None]:
        return self._request("clear", lambda: "[]", shim.decode_none, write=True)

    # -- indexes -----------------------------------------------------------------------------
    def index(self, name: str) -> BrowserIndex:
        name = check_index_name(name)
        if self._tx._finished:
            raise InvalidStateError(f"cannot open index {name!r}: the transaction has finished")
        if self._deleted:
            raise InvalidStateError(f"{self!r} has been deleted")
        handle = self._indexes.get(name)
        if handle is not None:
            return handle
        key_path, unique, multi_entry = json.loads(
            shim.check(shim.js().indexInfo(self._tx._id, self._store_name, name))
        )
        handle = self._indexes[name] = BrowserIndex(self, name, key_path, unique, multi_entry)
        return handle

    def create_index(self, name: str, key_path: str | Sequence[str], *, unique: bool = False,
                     multi_entry: bool = False) -> BrowserIndex:
        name = check_index_name(name)
        unique = check_flag(unique, "unique")
        multi_entry = check_flag(multi_entry, "multi_entry")
        shim.check(shim.js().createIndex(self._tx._id, self._store_name, name,
                                         key_path_json(key_path), unique, multi_entry))
        self._indexes.pop(name, None)
        return self.index(name)

    def delete_index(self, name: str) -> None:
        name = check_index_name(name)
        shim.check(shim.js().deleteIndex(self._tx._id, self._store_name, name))
        handle = self._indexes.pop(name, None)
        if handle is not None:
            handle._deleted = True


class BrowserIndex(_Source, api.Index):
    """An index of the browser's IndexedDB."""

    def __init__(self, store: BrowserObjectStore, name: str, key_path: Any, unique: bool,
                 multi_entry: bool) -> None:
        self._parent = store
        self._tx = store._tx
        self._store_name = store._store_name
        self._index_name = name
        self._key_path = key_path
        self._unique = unique
        self._multi_entry = multi_entry
        self._deleted = False

    def _is_deleted(self) -> bool:
        return self._deleted or self._parent._deleted

    name = property(lambda self: self._index_name)
    key_path = property(lambda self: self._key_path)
    unique = property(lambda self: self._unique)
    multi_entry = property(lambda self: self._multi_entry)
    object_store = property(lambda self: self._parent)


__all__ = ["BrowserIndex", "BrowserObjectStore"]
