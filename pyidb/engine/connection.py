"""Spec 2.5 connections: a database's shared state and the engine's ``Database`` class."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import api
from ..arguments import check_flag, check_mode_and_durability, check_store_name, check_store_names
from ..callbacks import call_user
from ..errors import (
    InvalidAccessError,
    InvalidStateError,
    NotFoundError,
)
from ..schema_rules import check_new_store
from . import catalog
from .catalog import DatabaseSchema, StoreSchema
from .transaction import EngineTransaction

if TYPE_CHECKING:
    from .factory import EngineFactory
    from .object_store import EngineObjectStore



class DatabaseState:
    """What every connection to one database shares: its schema and its open connections."""

    def __init__(self, factory: EngineFactory, name: str, schema: DatabaseSchema) -> None:
        self.factory = factory
        self.name = name
        self.schema = schema  # as catalog.load_schema read it
        # Ordered (a dict used as a set): versionchange is fired in connection-opening order, as
        # the spec's connection set is ordered and browsers do.
        self.connections: dict[EngineDatabase, None] = {}
        self.close_waiters: list[asyncio.Future[None]] = []

    def after_abort(self, versionchange: bool) -> None:
        """The storage rolled back: make the cached schema match it again."""
        storage = self.factory.storage
        if versionchange:
            old = self.schema
            self.schema = catalog.load_schema(storage, self.name)
            # Handles keep the old schema objects: match them to the reloaded ones by tree (a
            # store's identity; its name may have changed), so those made during the upgrade are
            # dead now and renamed ones take their committed names back (spec "abort an upgrade
            # transaction").
            fresh_stores = {s.tree: s for s in self.schema.stores.values()}
            for store in old.stores.values():
                fresh = fresh_stores.get(store.tree)
                if fresh is None:
                    store.deleted = True
                    continue
                store.name = fresh.name
                fresh_indexes = {i.tree: i for i in fresh.indexes.values()}
                for index in store.indexes.values():
                    if index.tree in fresh_indexes:
                        index.name = fresh_indexes[index.tree].name
                store.indexes = {i.name: i for i in fresh.indexes.values()}
        else:
            catalog.reload_generators(storage, self.schema)

    def connection_closed(self) -> None:
        waiters, self.close_waiters = self.close_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


class EngineDatabase(api.Database):
    """A connection of the pure-Python engine.

    Package-internal (for the engine's factory and transactions): ``db_state``, ``upgrade_tx``
    (its running upgrade), ``close_pending`` (close() was called; it closes once
    ``transactions`` are done), ``closed``, ``transaction_finished(tx)``,
    ``fire_versionchange(old, new)``.
    """

    def __init__(self, state: DatabaseState) -> None:
        self.db_state = state
        self.transactions: set[EngineTransaction] = set()
        self.close_pending = False
        self.closed = False
        self.upgrade_tx: EngineTransaction | None = None

    @property
    def name(self) -> str:
        return self.db_state.name

    @property
    def version(self) -> int:
        return self.db_state.schema.version

    @property
    def object_store_names(self) -> list[str]:
        return catalog.sort_names(self.db_state.schema.stores)

    # -- schema changes (only inside upgrade) ------------------------------------------------
    def _live_upgrade(self, what: str) -> EngineTransaction:
        tx = self.upgrade_tx
        if tx is None or tx._is_finished():
            raise InvalidStateError(f"{what} works only inside the upgrade callback of open()")
        tx.check_active()
        return tx

    def create_object_store(
        self, name: str, *, key_path: api.KeyPath = None, auto_increment: bool = False
    ) -> EngineObjectStore:
        name = check_store_name(name)
        auto_increment = check_flag(auto_increment, "auto_increment")
        tx = self._live_upgrade("create_object_store()")
        schema = self.db_state.schema
        path = check_new_store(name, key_path, auto_increment, exists=name in schema.stores)
        storage = tx.storage
        store = StoreSchema(name, catalog.allocate_tree(storage), path, bool(auto_increment))
        schema.stores[name] = store
        catalog.save_schema(storage, schema)
        return tx.object_store(name)

    def delete_object_store(self, name: str) -> None:
        name = check_store_name(name)
        tx = self._live_upgrade("delete_object_store()")
        schema = self.db_state.schema
        store = schema.stores.get(name)
        if store is None:
            raise NotFoundError(f"no object store named {name!r}")
        del schema.stores[name]
        store.deleted = True
        for index in store.indexes.values():
            index.deleted = True
        catalog.drop_store_trees(tx.storage, store)
        catalog.save_schema(tx.storage, schema)

    # -- transactions ----------------------------------------------------------------------
    def transaction(
        self,
        store_names: str | Sequence[str],
        mode: Any = "readonly",
        *,
        durability: Any = "default",
    ) -> EngineTransaction:
        if self.upgrade_tx is not None and not self.upgrade_tx._is_finished():
            raise InvalidStateError("cannot start a transaction while the upgrade is running")
        if self.close_pending:
            raise InvalidStateError(f"the connection to database {self.name!r} is closed")
        scope = check_store_names(store_names)
        mode, durability = check_mode_and_durability(mode, durability)
        stores = self.db_state.schema.stores
        missing = [n for n in scope if n not in stores]
        if missing:
            raise NotFoundError(
                f"no object store named {missing[0]!r} in database {self.name!r} "
                f"(it has {', '.join(map(repr, self.object_store_names)) or 'no stores'})"
            )
        if not scope:
            raise InvalidAccessError("a transaction needs at least one object store name")
        return EngineTransaction(self, scope, mode, durability)

    def close(self) -> None:
        self.close_pending = True
        self._maybe_closed()

    # -- engine internals ------------------------------------------------------------------
    def transaction_finished(self, tx: EngineTransaction) -> None:
        self.transactions.discard(tx)
        self._maybe_closed()

    def _maybe_closed(self) -> None:
        if self.close_pending and not self.transactions and not self.closed:
            self.closed = True
            if self in self.db_state.connections:
                del self.db_state.connections[self]
                self.db_state.connection_closed()

    def fire_versionchange(self, old: int, new: int | None) -> None:
        if self.on_versionchange is not None:
            call_user(self.on_versionchange, self, old, new)
