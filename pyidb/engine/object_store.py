"""The engine's ``ObjectStore`` and ``Index``: the narrow methods behind the shared front half.

:mod:`pyidb.front` checks the arguments in spec order and prepares records and queries at call
time (raising at once, as the browser throws); the methods here check the store and transaction
(deleted, active, read-only), take a plain value's bytes now, and queue the storage operation from
:mod:`.record_store` on the transaction. Schema changes (create/delete/rename) are here in full.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import api
from ..arguments import (
    check_flag,
    check_index_name,
)
from ..errors import (
    ConstraintError,
    Error,
    InvalidStateError,
    NotFoundError,
)
from ..front import FrontIndex, FrontObjectStore, FrontSource, rekey_handle
from ..key_encoding import encode_key
from ..key_range import KeyRange
from ..records import KeyRules, PreparedRecord
from ..schema_rules import check_index_rename, check_new_index, check_store_rename
from . import catalog, record_store
from .bounds import query_bounds, range_bounds
from .catalog import IndexSchema, StoreSchema
from .cursor import EngineCursor, open_cursor
from .inline import inline_request

if TYPE_CHECKING:
    from ..sync_future import SyncFuture
    from .transaction import EngineTransaction

class _Source(FrontSource):
    """What object stores and indexes share: the transaction and the checks of every call."""

    _tx: EngineTransaction
    _store: StoreSchema

    def _check(self, write: bool = False) -> None:
        """The checks before any argument: deleted, inactive, read-only (for a write)."""
        if self._is_deleted():
            raise InvalidStateError(f"{self!r} has been deleted")
        self._tx.check_active()
        if write:
            self._tx.check_writable()

    _check_usable = _check  # the front half's hook (api._Readable._check_usable)

    def _is_deleted(self) -> bool:
        return self._store.deleted

    def _index_schema(self) -> IndexSchema | None:
        return None

    # -- the front half's narrow methods (pyidb.front): the query is normalized ----------------
    def _get_all(self, kind: str, query: Any, limit: int | None,
                 direction: str) -> SyncFuture[list[Any]]:
        if limit is not None and limit > sys.maxsize:  # 2**32-1 in 32-bit Pyodide: no limit at all
            limit = None
        self._check()
        bounds = query_bounds(query)
        tx, store, index = self._tx, self._store, self._index_schema()
        return tx.request(lambda: record_store.get_all_items(
            tx.storage, store, index, bounds, direction, limit, kind))

    def _open_cursor(self, query: Any, direction: str, key_only: bool) -> api.CursorRequest[Any]:
        self._check()
        return open_cursor(self, self._tx, self._store, self._index_schema(), query_bounds(query),
                           direction, key_only=key_only)


class EngineObjectStore(_Source, FrontObjectStore):
    """An object store of the pure-Python engine."""

    def __init__(self, tx: EngineTransaction, schema: StoreSchema) -> None:
        self._tx = tx
        self._store = self._schema = schema
        self._index_handles: dict[str, EngineIndex] = {}

    key_path = property(lambda self: self._schema.key_path)
    auto_increment = property(lambda self: self._schema.auto_increment)
    transaction = property(lambda self: self._tx)

    @property
    def name(self) -> str:
        return self._schema.name

    @name.setter
    def name(self, new_name: str) -> None:
        """Spec ``IDBObjectStore.name`` setter: deleted, not an upgrade, inactive; then nothing
        if unchanged, ConstraintError if taken. Records live in numbered trees: only the catalog
        changes (and an aborted upgrade reloads it, so the old name comes back)."""
        tx = self._tx
        old, schema = self._schema.name, tx.db_state.schema
        checked = check_store_rename(self, old, new_name, deleted=self._schema.deleted,
                                     upgrade=tx.mode == "versionchange",
                                     check_active=tx.check_active, taken=schema.stores)
        if checked is None:
            return
        new_name = checked
        schema.stores[new_name] = schema.stores.pop(old)
        self._schema.name = new_name
        rekey_handle(tx._store_handles, old, new_name, self)
        catalog.save_schema(tx.storage, schema)

    @property
    def index_names(self) -> list[str]:
        return catalog.sort_names(self._schema.indexes)

    # -- writes: the front half (api.ObjectStore) prepared the records ----------------------
    def _key_rules(self) -> KeyRules:
        schema = self._schema
        return schema.name, schema.key_path, schema.auto_increment

    def _store_records(self, records: list[PreparedRecord], no_overwrite: bool,
                       batch: bool) -> SyncFuture[Any]:
        self._check(write=True)
        schema, tx = self._schema, self._tx
        storage = tx.storage
        if not batch:
            copy, tags, key, plain = records[0]
            if plain:  # its bytes and index keys now, instead of a copy
                copy = record_store.encode_plain(tuple(schema.indexes.values()), copy)
            # put_one takes back its writes if it fails: it may run when awaited (engine.inline)
            return inline_request(
                tx, lambda: record_store.put_one(storage, schema, copy, tags, key, no_overwrite))
        indexes = tuple(schema.indexes.values())
        encode_plain = record_store.encode_plain
        triples = [(encode_plain(indexes, copy) if plain else copy, tags, key)
                   for copy, tags, key, plain in records]
        del records

        def run() -> list[Any]:
            try:
                return record_store.store_many(storage, schema, triples, no_overwrite)
            except Error as exc:
                # A browser cannot take back the records of the batch stored before the failing
                # one, so it aborts the transaction even if the error is caught: so do we.
                tx.abort_later(exc)
                raise

        return tx.request(run)

    # Reads take tx.storage when they run: a blocking storage's read view arrives from the
    # worker thread after the first requests may have been placed.
    def _query(self, kind: str, query: Any) -> SyncFuture[Any]:
        tx, schema = self._tx, self._schema
        self._check(write=kind == "delete" or kind == "clear")
        storage = tx.storage
        if kind == "get":
            if query is not None and not isinstance(query, KeyRange):  # the common case: one key
                pk = encode_key(query)
                return inline_request(tx, lambda: record_store.get_value_at(tx.storage, schema, pk))
            bounds = range_bounds(query)
            return tx.request(lambda: record_store.get_value(tx.storage, schema, bounds))
        if kind == "clear":
            return tx.request(lambda: record_store.clear_store(storage, schema))
        bounds = query_bounds(query)
        if kind == "get_key":
            return tx.request(lambda: record_store.get_key(tx.storage, schema, bounds))
        if kind == "count":
            tree = schema.tree
            return tx.request(lambda: record_store.count_records(tx.storage, tree, bounds))
        assert kind == "delete", kind
        return tx.request(lambda: record_store.delete_records(storage, schema, bounds))

    def _query_many(self, kind: str, queries: list[Any]) -> SyncFuture[Any]:
        tx, schema = self._tx, self._schema
        storage = tx.storage
        if kind == "get_many":
            self._check()
            return tx.request(lambda: record_store.get_many(tx.storage, schema, queries))
        assert kind == "delete_many", kind
        self._check(write=True)
        all_bounds = [query_bounds(q) for q in queries]

        def run() -> None:
            for bounds in all_bounds:
                record_store.delete_records(storage, schema, bounds)

        return tx.request(run)

    # -- indexes -----------------------------------------------------------------------------
    def _open_index(self, name: str) -> EngineIndex:
        schema = self._schema.indexes.get(name)
        if schema is None:
            raise NotFoundError(
                f"object store {self.name!r} has no index named {name!r} "
                f"(it has {', '.join(map(repr, self.index_names)) or 'no indexes'})"
            )
        return EngineIndex(self, schema)

    def _check_in_upgrade(self, what: str) -> EngineTransaction:
        """Spec createIndex/deleteIndex steps 1-5: an upgrade, not deleted, active."""
        tx = self._tx
        if tx.mode != "versionchange":
            raise InvalidStateError(f"{what}() works only inside the upgrade callback of open()")
        if self._schema.deleted:
            raise InvalidStateError(f"{self!r} has been deleted")
        tx.check_active()
        return tx

    def create_index(self, name: str, key_path: str | Sequence[str], *, unique: bool = False,
                     multi_entry: bool = False) -> EngineIndex:
        name = check_index_name(name)
        unique = check_flag(unique, "unique")
        multi_entry = check_flag(multi_entry, "multi_entry")
        tx = self._check_in_upgrade("create_index")
        path = check_new_index(self.name, name, key_path, multi_entry,
                               exists=name in self._schema.indexes)
        storage = tx.storage
        index = IndexSchema(name, catalog.allocate_tree(storage), path, bool(unique),
                            bool(multi_entry))
        self._schema.indexes[name] = index
        catalog.save_schema(storage, tx.db_state.schema)
        try:
            record_store.populate_index(storage, self._schema, index)
        except ConstraintError as exc:
            tx.abort_later(exc)  # the spec aborts the upgrade after createIndex returns
        return self.index(name)  # type: ignore[return-value]

    def delete_index(self, name: str) -> None:
        name = check_index_name(name)
        tx = self._check_in_upgrade("delete_index")
        index = self._schema.indexes.pop(name, None)
        if index is None:
            raise NotFoundError(f"object store {self.name!r} has no index named {name!r}")
        index.deleted = True
        tx.storage.delete_range(index.tree, None, None)
        catalog.save_schema(tx.storage, tx.db_state.schema)


class EngineIndex(_Source, FrontIndex):
    """An index of the pure-Python engine."""

    def __init__(self, store: EngineObjectStore, schema: IndexSchema) -> None:
        self._parent = store
        self._tx = store._tx
        self._store = store._schema
        self._index = schema

    key_path = property(lambda self: self._index.key_path)
    unique = property(lambda self: self._index.unique)
    multi_entry = property(lambda self: self._index.multi_entry)
    object_store = property(lambda self: self._parent)

    def _is_deleted(self) -> bool:
        return self._index.deleted or self._store.deleted

    @property
    def name(self) -> str:
        return self._index.name

    @name.setter
    def name(self, new_name: str) -> None:
        """Spec ``IDBIndex.name`` setter: not an upgrade, inactive, deleted (this order, unlike
        the store's); then nothing if unchanged, ConstraintError if the store has that index."""
        tx = self._tx
        old, indexes = self._index.name, self._store.indexes
        checked = check_index_rename(self, self._store.name, old, new_name,
                                     deleted=self._is_deleted(),
                                     upgrade=tx.mode == "versionchange",
                                     check_active=tx.check_active, taken=indexes)
        if checked is None:
            return
        new_name = checked
        indexes[new_name] = indexes.pop(old)
        self._index.name = new_name
        rekey_handle(self._parent._index_handles, old, new_name, self)
        catalog.save_schema(tx.storage, tx.db_state.schema)

    def _index_schema(self) -> IndexSchema | None:
        return self._index

    def _query(self, kind: str, query: Any) -> SyncFuture[Any]:
        self._check()
        bounds = query_bounds(query)
        tx, store, index = self._tx, self._store, self._index
        if kind == "get":
            return tx.request(lambda: record_store.index_get_value(tx.storage, store, index, bounds))
        if kind == "get_key":
            return tx.request(lambda: record_store.index_get_key(tx.storage, index, bounds))
        assert kind == "count", kind
        tree = index.tree
        return tx.request(lambda: record_store.count_records(tx.storage, tree, bounds))


__all__ = ["EngineCursor", "EngineIndex", "EngineObjectStore"]
