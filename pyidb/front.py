"""The shared front half of every backend: what a call does before the backend sees it.

:mod:`pyidb.api` declares the public classes; the proxies above it (``pyidb.wrap``, scopes, the
socket client) implement them by forwarding every call. A *backend* (the engine, the browser)
inherits these classes instead, which own, once for both, what happens between the public call
and the backend's work:

- the arguments' checks in the order the specification gives, and record preparation
  (:mod:`pyidb.records`: key vs key path, the key's conversion, the value's copy, the in-line
  key);
- the handle caches (``tx.object_store("s") is tx.object_store("s")``) and the "finished" and
  "deleted" checks of opening a store or an index;

and hand the backend one plain description through one narrow method per concern, as ``httpx``
hands a transport one request:

=========================  ===================================================================
backend method             what it gets / does
=========================  ===================================================================
``_check_usable(write)``   raise the errors the spec checks before the arguments (deleted,
                           inactive, read-only); called when an argument was refused, so
                           those errors win as in JS (the browser asks the real IndexedDB)
``_is_deleted()``          this store or index was deleted in an upgrade
``_key_rules()``           ``(name, key_path, auto_increment)`` of a store
``_store_records(...)``    check usable, then place one request storing prepared records
``_query(kind, query)``    get / get_key / count / delete / clear of a normalized query
``_query_many(kind, qs)``  get_many / delete_many
``_get_all(kind, ...)``    get_all / get_all_keys / get_all_records (limit, direction checked)
``_open_cursor(...)``      open_cursor / open_key_cursor (direction checked)
``_open_store(name)``      a new store handle (NotFoundError if not in scope)
``_open_index(name)``      a new index handle (NotFoundError if none)
``_update(copy, tags, p)``  a cursor's update of its record with a value taken at call time
``_move(...)``             a cursor's move (api.Cursor: continue_, advance, continue_primary_key)
=========================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import api
from .api_types import Key, Request
from .arguments import (
    as_list,
    check_count,
    check_direction,
    check_index_name,
    check_store_name,
    values_and_keys,
)
from .errors import InvalidStateError
from .key_range import to_query
from .keys import to_key
from .records import KeyRules, PreparedRecord, prepare_record, prepare_records, prepare_value

__all__ = ["FrontCursor", "FrontIndex", "FrontObjectStore", "FrontSource", "FrontTransaction",
           "rekey_handle"]


class FrontSource(api._Readable):
    """What object stores and indexes of a backend share: the read requests."""

    # -- reads: the shared front half -------------------------------------------------------
    def get(self, query: Any) -> Request[Any]:
        return self._query_request("get", query, False, False)

    def get_key(self, query: Any) -> Request[Any]:
        return self._query_request("get_key", query, False, False)

    def count(self, query: Any = None) -> Request[int]:
        return self._query_request("count", query, True, False)

    def _query_request(self, kind: str, query: Any, null_allowed: bool,
                       write: bool) -> Request[Any]:
        try:
            q = to_query(query, null_allowed=null_allowed)
        except Exception:
            self._check_usable(write)  # deleted, inactive (read-only): checked before the query
            raise
        return self._query(kind, q)

    def get_all(self, query: Any = None, count: int | None = None,
                direction: Any = "next") -> Request[list[Any]]:
        return self._get_all_request("value", query, count, direction)

    def get_all_keys(self, query: Any = None, count: int | None = None,
                     direction: Any = "next") -> Request[list[Any]]:
        return self._get_all_request("key", query, count, direction)

    def get_all_records(self, query: Any = None, count: int | None = None,
                        direction: Any = "next") -> Request[list[api.Record]]:
        return self._get_all_request("record", query, count, direction)

    def _get_all_request(self, kind: str, query: Any, count: Any,
                         direction: Any) -> Request[list[Any]]:
        # Spec 5.12: the options' WebIDL checks first (count, then direction), then deleted,
        # inactive, then the query.
        limit, direction = check_count(count), check_direction(direction)
        try:
            q = to_query(query)
        except Exception:
            self._check_usable(False)
            raise
        return self._get_all(kind, q, limit, direction)

    def open_cursor(self, query: Any = None,
                    direction: Any = "next") -> api.CursorRequest[Any]:
        return self._cursor_request(query, direction, False)

    def open_key_cursor(self, query: Any = None,
                        direction: Any = "next") -> api.CursorRequest[Any]:
        return self._cursor_request(query, direction, True)

    def _cursor_request(self, query: Any, direction: Any, key_only: bool) -> api.CursorRequest[Any]:
        direction = check_direction(direction)  # WebIDL: before the spec's steps
        try:
            q = to_query(query)
        except Exception:
            self._check_usable(False)
            raise
        return self._open_cursor(q, direction, key_only)

    # -- the backend's narrow methods behind the reads --------------------------------------
    # Each first checks the source and transaction itself (_check_usable), then places one
    # request. ``query`` is normalized (pyidb.key_range.to_query): None, a KeyRange or a key.
    def _query(self, kind: str, query: Any) -> Request[Any]:
        """``kind``: "get", "get_key", "count"; on a store also "delete" and "clear"."""
        raise NotImplementedError

    def _get_all(self, kind: str, query: Any, limit: int | None,
                 direction: str) -> Request[list[Any]]:
        """``kind``: "value", "key" or "record"; ``limit`` None for no limit."""
        raise NotImplementedError

    def _open_cursor(self, query: Any, direction: str, key_only: bool) -> api.CursorRequest[Any]:
        raise NotImplementedError

    def _is_deleted(self) -> bool:
        """Backend hook: this store (or this index, or its store) was deleted in an upgrade."""
        return False

    def _check_usable(self, write: bool) -> None:
        """Backend hook: raise the errors the spec checks before a request's arguments, in its
        order: the store (or index) was deleted, the transaction is not active, and for a write
        the transaction is read-only. The front half calls it when an argument is refused."""
        raise NotImplementedError



class FrontObjectStore(FrontSource, api.ObjectStore):
    """An object store's front half: record writes and index handles."""

    def delete(self, query: Any) -> Request[None]:
        return self._query_request("delete", query, False, True)

    def clear(self) -> Request[None]:
        return self._query("clear", None)

    def get_many(self, keys: Iterable[Key]) -> Request[list[Any]]:
        """The values for ``keys`` (None where a key has no record), as one request."""
        try:
            key_list = [to_key(k) for k in as_list(keys, "keys")]
        except Exception:
            self._check_usable(False)
            raise
        return self._query_many("get_many", key_list)

    def delete_many(self, keys: Iterable[Key]) -> Request[None]:
        """Delete the records for ``keys`` (or key ranges) as one request."""
        try:
            queries = [to_query(k, null_allowed=False) for k in as_list(keys, "keys")]
        except Exception:
            self._check_usable(True)
            raise
        return self._query_many("delete_many", queries)

    def _query_many(self, kind: str, queries: list[Any]) -> Request[Any]:
        """Backend hook: "get_many" (normalized keys) or "delete_many" (normalized queries)."""
        raise NotImplementedError

    # -- writes: the shared front half -----------------------------------------------------
    # Arguments are checked and records prepared here, once for every backend (records.py:
    # key vs key path, the key's conversion, the value's copy, the in-line key). When that
    # fails, the checks the spec makes *before* the arguments run first (_check_usable), so
    # their errors win as in JS. Then the backend gets plain prepared records.
    def add(self, value: Any, key: Key | None = None) -> Request[Key]:
        """Insert a record; ConstraintError if the key exists. Returns the key."""
        return self._store_one(value, key, True)

    def put(self, value: Any, key: Key | None = None) -> Request[Key]:
        """Insert or replace a record. Returns the key."""
        return self._store_one(value, key, False)

    def add_many(self, values: Iterable[Any], keys: Iterable[Key] | None = None) -> Request[list[Key]]:
        """Add many records as one request. A failing record aborts the transaction (even if
        the error is caught: a browser cannot take back the records stored before it)."""
        return self._store_many(values, keys, True)

    def put_many(self, values: Iterable[Any], keys: Iterable[Key] | None = None) -> Request[list[Key]]:
        """Put many records as one request; a failing record aborts the transaction."""
        return self._store_many(values, keys, False)

    def _store_one(self, value: Any, key: Any, no_overwrite: bool) -> Request[Key]:
        try:
            record = prepare_record(self._key_rules(), self._injects_keys, value, key)
        except Exception:
            self._check_usable(True)  # deleted, inactive, read-only: checked before arguments
            raise
        return self._store_records([record], no_overwrite, False)

    def _store_many(self, values: Iterable[Any], keys: Iterable[Key] | None,
                    no_overwrite: bool) -> Request[list[Key]]:
        try:
            value_list, key_list = values_and_keys(values, keys)
            records = prepare_records(self._key_rules(), self._injects_keys, value_list,
                                      None if keys is None else key_list)
        except Exception:
            self._check_usable(True)
            raise
        return self._store_records(records, no_overwrite, True)

    # -- the backend's narrow methods behind the front half ---------------------------------
    _injects_keys = True
    """The backend puts a generated key into the Python value it is given (the engine), so a
    key-generating in-line store's plain values are copied first; the browser sets False."""

    def _key_rules(self) -> KeyRules:
        """``(name, key_path, auto_increment)`` of this store, for :mod:`pyidb.records`."""
        raise NotImplementedError

    def _store_records(self, records: list[PreparedRecord], no_overwrite: bool,
                       batch: bool) -> Request[Any]:
        """Check the store and transaction (deleted, active, writable), then place one request
        storing ``records`` (prepared by :func:`pyidb.records.prepare_record`): its result is
        the key, or with ``batch`` the list of keys (a failing record aborts the transaction)."""
        raise NotImplementedError

    _index_handles: dict[str, FrontIndex]
    """The handles ``index()`` gave out, by name (a backend sets it up): the same name gives
    the same object, as in JS."""

    def index(self, name: str) -> FrontIndex:
        """The index ``name`` of this store (NotFoundError if it has none)."""
        name = check_index_name(name)
        if self.transaction._is_finished():
            raise InvalidStateError(f"cannot open index {name!r}: the transaction has finished")
        if self._is_deleted():
            raise InvalidStateError(f"{self!r} has been deleted")
        handle = self._index_handles.get(name)
        if handle is not None and not handle._is_deleted():
            return handle
        handle = self._index_handles[name] = self._open_index(name)
        return handle

    def _open_index(self, name: str) -> FrontIndex:
        """Backend hook: a new handle of index ``name``; NotFoundError if there is none."""
        raise NotImplementedError



class FrontIndex(FrontSource, api.Index):
    """An index's front half (its reads are still the backend's own)."""


class FrontCursor(api.Cursor):
    """A cursor's front half: ``update`` takes the value at call time for every backend."""

    def update(self, value: Any) -> Request[Key]:
        """Replace the current record's value."""
        try:
            copy, needs_tags, plain = prepare_value(value)
        except Exception:
            self._check_usable("update")  # the cursor's and transaction's state win, as in JS
            raise
        return self._update(copy, needs_tags, plain)

    def _check_usable(self, what: str) -> None:
        """Backend hook: raise the errors the spec checks before ``what``'s argument."""
        raise NotImplementedError

    def _update(self, copy: Any, needs_tags: bool, plain: bool) -> Request[Key]:
        """Backend hook: check the cursor and transaction, then place one request replacing the
        current record's value with ``copy`` (the caller's own value when ``plain``)."""
        raise NotImplementedError


class FrontTransaction(api.Transaction):
    """A transaction's front half: store handles, and the attributes every backend keeps."""

    _db: Any
    _mode: Any
    _durability: Any
    _error: BaseException | None
    _done: Request[None]
    _user_abort: bool

    db = property(lambda self: self._db)
    mode = property(lambda self: self._mode)
    durability = property(lambda self: self._durability)
    error = property(lambda self: self._error, doc="The error that aborted it, if any.")
    done = property(lambda self: self._done, doc="Await it: returns once committed, raises "
                    "the abort's error if aborted.")

    def _aborted_by_user(self) -> bool:
        return self._user_abort

    _store_handles: dict[str, FrontObjectStore]
    """The handles ``object_store()`` gave out, by name (a backend sets it up)."""

    def object_store(self, name: str) -> FrontObjectStore:
        """The object store ``name`` in this transaction's scope (NotFoundError if it is not)."""
        name = check_store_name(name)
        if self._is_finished():
            raise InvalidStateError(
                f"cannot open object store {name!r}: the transaction has already finished"
            )
        handle = self._store_handles.get(name)
        if handle is not None and not handle._is_deleted():
            return handle
        handle = self._store_handles[name] = self._open_store(name)
        return handle

    def _open_store(self, name: str) -> FrontObjectStore:
        """Backend hook: a new handle of store ``name``; NotFoundError if it is not in scope."""
        raise NotImplementedError



def rekey_handle(handles: dict[str, Any], old: str, new: str, handle: Any) -> None:
    """A store or index was renamed: its handle is found under ``new`` from now on (and no
    longer under ``old``, unless another handle is there), as in JS."""
    if handles.get(old) is handle:
        del handles[old]
    handles[new] = handle
