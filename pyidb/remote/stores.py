"""Object stores, indexes and cursors of a plugin, backed by the host socket.

Every call runs the same argument checks as the engine, from the shared rule modules
(:mod:`pyidb.arguments`, :mod:`pyidb.records`, :mod:`pyidb.keys`, :mod:`pyidb.key_range`,
:mod:`pyidb.cursor_rules`), in the spec's order, against the schema the host sent: an invalid
call raises at once, before anything is sent. The host checks everything again (it trusts no
client).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .. import api
from ..arguments import (
    as_list,
    check_count,
    check_direction,
    check_flag,
    check_index_name,
    values_and_keys,
)
from ..clone import clone
from ..cursor_rules import CursorState, check_cursor_write, check_move, check_update_key
from ..errors import (
    InvalidStateError,
    NotFoundError,
)
from ..key_range import KeyRange, to_key_range
from ..keys import _utf16, to_key  # names sort as a DOMStringList: by UTF-16 code units
from ..records import prepare_record
from ..schema_rules import check_index_rename, check_new_index, check_store_rename
from .frames import encode_query

if TYPE_CHECKING:
    from ..sync_future import SyncFuture
    from .objects import RemoteTransaction

__all__ = ["RemoteCursor", "RemoteCursorWithValue", "RemoteIndex", "RemoteObjectStore"]


def wire_query(query: Any, null_allowed: bool = True) -> Any:
    """Spec "convert a value to a key range" at the call (DataError at once), in wire form."""
    if query is not None and not isinstance(query, KeyRange):
        return ["key", to_key(query)]
    return encode_query(to_key_range(query, null_allowed=null_allowed))


def _records(rows: Any) -> list[api.Record]:
    return api.make_records(*zip(*rows, strict=True)) if rows else []


class _Source:
    """What stores and indexes share: the transaction, the checks of every call, the reads."""

    _tx: RemoteTransaction
    _schema: dict[str, Any]  # the store's schema (as the host sent it; "deleted" set here)
    _base: dict[str, Any]

    def _deleted(self) -> bool:
        return bool(self._schema.get("deleted"))

    def _check(self, write: bool = False) -> None:
        if self._deleted():
            raise InvalidStateError(f"{self!r} has been deleted")
        self._tx._check_active()
        if write:
            self._tx._check_writable()

    def _read(self, method: str, *args: Any, convert: Any = None) -> SyncFuture[Any]:
        return self._tx._request({**self._base, "method": method, "args": list(args)}, convert=convert)

    def get(self, query: Any) -> SyncFuture[Any]:
        self._check()
        return self._read("get", wire_query(query, null_allowed=False))

    def get_key(self, query: Any) -> SyncFuture[Any]:
        self._check()
        return self._read("get_key", wire_query(query, null_allowed=False))

    def _get_all(self, method: str, query: Any, count: Any, direction: Any, convert: Any = None
                 ) -> SyncFuture[Any]:
        # spec 5.12: the options' WebIDL checks (count, direction), then source and transaction
        limit, direction = check_count(count), check_direction(direction)
        self._check()
        return self._read(method, wire_query(query), limit, direction, convert=convert)

    def get_all(self, query: Any = None, count: int | None = None, direction: Any = "next"
                ) -> SyncFuture[Any]:
        return self._get_all("get_all", query, count, direction)

    def get_all_keys(self, query: Any = None, count: int | None = None, direction: Any = "next"
                     ) -> SyncFuture[Any]:
        return self._get_all("get_all_keys", query, count, direction)

    def get_all_records(self, query: Any = None, count: int | None = None, direction: Any = "next"
                        ) -> SyncFuture[Any]:
        return self._get_all("get_all_records", query, count, direction, convert=_records)

    def count(self, query: Any = None) -> SyncFuture[Any]:
        self._check()
        return self._read("count", wire_query(query))

    def _cursor(self, query: Any, direction: Any, key_only: bool) -> api.CursorRequest[Any]:
        self._check()
        wired = wire_query(query)
        direction = check_direction(direction)
        message = {**self._base, "op": "cursor", "query": wired, "direction": direction,
                   "key_only": key_only}
        message.pop("method", None)
        return api.CursorRequest(self._tx._request(
            message,
            convert=lambda state: None if state is None else (
                RemoteCursor if key_only else RemoteCursorWithValue)(self, state, key_only, direction),
        ))

    def open_cursor(self, query: Any = None, direction: Any = "next") -> api.CursorRequest[Any]:
        return self._cursor(query, direction, False)

    def open_key_cursor(self, query: Any = None, direction: Any = "next") -> api.CursorRequest[Any]:
        return self._cursor(query, direction, True)


class RemoteObjectStore(_Source, api.ObjectStore):
    """A store of a remote transaction (properties answered from the schema the host sent)."""

    def __init__(self, tx: RemoteTransaction, name: str, schema: dict[str, Any]) -> None:
        self._tx, self._name, self._schema = tx, name, schema
        self._indexes: dict[str, RemoteIndex] = {}

    @property
    def _base(self) -> dict[str, Any]:  # type: ignore[override]
        return {"op": "store", "store": self._name}

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        tx, old = self._tx, self._name
        schemas = tx.db._schemas
        checked = check_store_rename(self, old, new_name, deleted=self._deleted(),
                                     upgrade=tx.mode == "versionchange",
                                     check_active=tx._check_active, taken=schemas)
        if checked is None:
            return
        new_name = checked
        tx._request({"op": "rename_store", "name": old, "new": new_name}, fatal=True)
        schemas[new_name] = schemas.pop(old)
        self._name = new_name
        tx._renamed(self, old)

    @property
    def key_path(self) -> Any:
        return self._schema["key_path"]

    @property
    def auto_increment(self) -> bool:
        return bool(self._schema["auto_increment"])

    @property
    def index_names(self) -> list[str]:
        return sorted(self._schema["indexes"], key=_utf16)

    @property
    def transaction(self) -> RemoteTransaction:
        return self._tx

    # -- writes ------------------------------------------------------------------------------
    def _prepare(self, value: Any, key: Any) -> tuple[Any, Any]:
        """The checks of "add or put" (DataError at once); (value to send, key to send): an
        in-line key travels inside the value, as the host takes it from there again."""
        copy, _, key, _ = prepare_record((self._name, self.key_path, self.auto_increment), False,
                                         value, key)
        return copy, None if self.key_path is not None else key

    def _write(self, method: str, *args: Any) -> SyncFuture[Any]:
        return self._tx._request({**self._base, "method": method, "args": list(args)}, write=True)

    def _store_one(self, method: str, value: Any, key: Any) -> SyncFuture[Any]:
        self._check(write=True)
        copy, key = self._prepare(value, key)
        return self._write(method, copy, key)

    def add(self, value: Any, key: Any = None) -> SyncFuture[Any]:
        return self._store_one("add", value, key)

    def put(self, value: Any, key: Any = None) -> SyncFuture[Any]:
        return self._store_one("put", value, key)

    def _store_many(self, method: str, values: Iterable[Any], keys: Iterable[Any] | None
                    ) -> SyncFuture[Any]:
        self._check(write=True)
        value_list, key_list = values_and_keys(values, keys)
        records = [self._prepare(v, k) for v, k in zip(value_list, key_list, strict=True)]
        copies = [c for c, _ in records]
        given = None if keys is None else [k for _, k in records]
        return self._write(method, copies, given)

    def add_many(self, values: Iterable[Any], keys: Iterable[Any] | None = None) -> SyncFuture[Any]:
        return self._store_many("add_many", values, keys)

    def put_many(self, values: Iterable[Any], keys: Iterable[Any] | None = None) -> SyncFuture[Any]:
        return self._store_many("put_many", values, keys)

    def delete(self, query: Any) -> SyncFuture[Any]:
        self._check(write=True)
        return self._write("delete", wire_query(query, null_allowed=False))

    def delete_many(self, keys: Iterable[Any]) -> SyncFuture[Any]:
        self._check(write=True)
        return self._write("delete_many", [wire_query(k, null_allowed=False)
                                           for k in as_list(keys, "keys")])

    def clear(self) -> SyncFuture[Any]:
        self._check(write=True)
        return self._write("clear")

    def get_many(self, keys: Iterable[Any]) -> SyncFuture[Any]:
        self._check()
        return self._read("get_many", [to_key(k) for k in as_list(keys, "keys")])

    # -- indexes -----------------------------------------------------------------------------
    def index(self, name: str) -> RemoteIndex:
        name = check_index_name(name)
        if self._tx._is_finished():
            raise InvalidStateError(f"cannot open index {name!r}: the transaction has finished")
        if self._deleted():
            raise InvalidStateError(f"{self!r} has been deleted")
        handle = self._indexes.get(name)
        if handle is not None and not handle._deleted():
            return handle
        schema = self._schema["indexes"].get(name)
        if schema is None:
            raise NotFoundError(
                f"object store {self._name!r} has no index named {name!r} "
                f"(it has {', '.join(map(repr, self.index_names)) or 'no indexes'})"
            )
        handle = self._indexes[name] = RemoteIndex(self, name, schema)
        return handle

    def _upgrade_check(self, what: str) -> None:
        if self._tx.mode != "versionchange":
            raise InvalidStateError(f"{what} works only inside the upgrade callback of open()")
        if self._deleted():
            raise InvalidStateError(f"{self!r} has been deleted")
        self._tx._check_active()

    def create_index(self, name: str, key_path: str | Sequence[str], *, unique: bool = False,
                     multi_entry: bool = False) -> RemoteIndex:
        name = check_index_name(name)
        unique = check_flag(unique, "unique")
        multi_entry = check_flag(multi_entry, "multi_entry")
        self._upgrade_check("create_index()")
        path = check_new_index(self._name, name, key_path, multi_entry,
                               exists=name in self._schema["indexes"])
        self._tx._request({"op": "create_index", "store": self._name, "name": name, "key_path": path,
                           "unique": unique, "multi_entry": multi_entry}, fatal=True)
        self._schema["indexes"][name] = {"key_path": path, "unique": unique, "multi_entry": multi_entry}
        return self.index(name)

    def delete_index(self, name: str) -> None:
        name = check_index_name(name)
        self._upgrade_check("delete_index()")
        schema = self._schema["indexes"].get(name)
        if schema is None:
            raise NotFoundError(f"object store {self._name!r} has no index named {name!r}")
        self._tx._request({"op": "delete_index", "store": self._name, "name": name}, fatal=True)
        del self._schema["indexes"][name]
        schema["deleted"] = True


class RemoteIndex(_Source, api.Index):
    """An index of a remote store."""

    def __init__(self, store: RemoteObjectStore, name: str, schema: dict[str, Any]) -> None:
        self._store, self._name, self._index = store, name, schema
        self._tx = store._tx
        self._schema = store._schema

    @property
    def _base(self) -> dict[str, Any]:  # type: ignore[override]
        return {"op": "index", "store": self._store._name, "index": self._name}

    def _deleted(self) -> bool:
        return bool(self._index.get("deleted") or self._schema.get("deleted"))

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        tx = self._tx
        old, indexes = self._name, self._schema["indexes"]
        checked = check_index_rename(self, self._store._name, old, new_name,
                                     deleted=self._deleted(), upgrade=tx.mode == "versionchange",
                                     check_active=tx._check_active, taken=indexes)
        if checked is None:
            return
        new_name = checked
        tx._request({"op": "rename_index", "store": self._store._name, "name": old,
                     "new": new_name}, fatal=True)
        indexes[new_name] = indexes.pop(old)
        self._name = new_name
        handles = self._store._indexes
        if handles.get(old) is self:
            del handles[old]
        handles[new_name] = self
        tx._renamed(self, old)

    @property
    def key_path(self) -> Any:
        return self._index["key_path"]

    @property
    def unique(self) -> bool:
        return bool(self._index["unique"])

    @property
    def multi_entry(self) -> bool:
        return bool(self._index["multi_entry"])

    @property
    def object_store(self) -> RemoteObjectStore:
        return self._store


class RemoteCursor(api.Cursor):
    """A key cursor the host keeps; each move is one round trip, checked here first.
    :class:`RemoteCursorWithValue` adds the value (a key cursor is no ``CursorWithValue``)."""

    def __init__(self, source: Any, state: dict[str, Any], key_only: bool, direction: Any) -> None:
        self._source = source
        self._tx: RemoteTransaction = source._tx
        self._key_only = key_only
        self._direction = direction
        self._number = state["cursor"]
        self._set(state)

    def _set(self, state: dict[str, Any]) -> RemoteCursor:
        self._key, self._primary_key = state["key"], state["primary_key"]
        self._value = state.get("value")
        self._got_value = True
        return self

    @property
    def source(self) -> Any:
        return self._source

    @property
    def direction(self) -> Any:
        return self._direction

    @property
    def key(self) -> Any:
        return self._key

    @property
    def primary_key(self) -> Any:
        return self._primary_key

    def _gone(self, state: Any) -> RemoteCursor | None:
        if state is None:
            self._key = self._primary_key = self._value = None
            return None
        return self._set(state)

    def _move(self, count: int, key: Any, primary_key: Any) -> SyncFuture[Any]:
        key, primary_key = check_move(count, key, primary_key, CursorState(
            self._source._deleted(), isinstance(self._source, RemoteIndex), self._direction,
            self._got_value, self._key, self._primary_key, self._tx._check_active))
        self._got_value = False
        return self._tx._request(
            {"op": "cursor_move", "cursor": self._number, "count": count, "key": key,
             "primary_key": primary_key},
            convert=self._gone,
        )

    def _check_write(self) -> None:
        check_cursor_write(self._tx._check_active, self._tx._check_writable,
                           self._source._deleted(), self._got_value, self._key_only)

    def update(self, value: Any) -> SyncFuture[Any]:
        self._check_write()
        copy, _ = clone(value)
        check_update_key(self._source._schema["key_path"], copy, self._primary_key)
        return self._tx._request({"op": "cursor_update", "cursor": self._number, "value": copy},
                                 write=True)

    def delete(self) -> SyncFuture[Any]:
        self._check_write()
        return self._tx._request({"op": "cursor_delete", "cursor": self._number}, write=True)


class RemoteCursorWithValue(RemoteCursor, api.CursorWithValue):
    """A cursor of the host that also has the record's value."""

    @property
    def value(self) -> Any:
        return self._value
