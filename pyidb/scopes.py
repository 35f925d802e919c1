"""Scoped factories: ``factory.scoped(db="workplace_hub", object_stores=["tasks"])``.

A scoped factory is the plain IndexedDB API over a namespace of its own, plus an optional store
allowlist. It is one handler on the seam every wrapper uses (:func:`pyidb.wrap`, the operations
of :mod:`pyidb.operations`); the backend only says *where* the namespace lives
(:meth:`pyidb.api.Factory._scope_target`):

* memory, SQLite and the browser: the same factory, every database name prefixed with the
  length-prefixed scope name (``"13:workplace_hub:" + name``): no two (scope, name) pairs give
  the same stored name, whatever the names (``a`` + ``b:x`` vs ``a:b`` + ``x`` cannot collide:
  the length says where the scope name ends);
* PostgreSQL: a schema per scope (the scope name, checked by :mod:`pyidb.scope_names`, so it is
  never truncated or quoted, and never ``public`` or another reserved name).

What the handler does, operation by operation:

=========================================  ===================================================
OPEN, DELETE_DATABASE                      ``database`` gets the scope's prefix
DATABASES                                  only the scope's databases, without the prefix
OBJECT_STORE_NAMES (database, transaction) only allowed stores
TRANSACTION                                a store outside the allowlist: NotFoundError
OBJECT_STORE                               outside the allowlist or missing: NotFoundError,
                                           and the transaction is aborted
CREATE_OBJECT_STORE, DELETE_OBJECT_STORE,  outside the allowlist: NotFoundError
RENAME_OBJECT_STORE (to a new name)
=========================================  ===================================================

A store outside the allowlist is indistinguishable from a missing one: NotFoundError with the
same message on every verb, absent from every list of names, and naming it in a transaction
(missing or forbidden alike) aborts that transaction. Indexes, cursors and requests are only
reachable through an allowed store's handle. In-process, a scope is a namespace and a guard for
honest code (a cursor's ``source`` is the backend's own object); between processes the host
socket (:mod:`pyidb.host.server`) is the security boundary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from . import api
from .errors import InvalidArgumentError, InvalidStateError, NotFoundError
from .operations import Kind, Operation
from .scope_names import check_scope_name
from .wrapping import wrap

__all__ = ["ScopedFactory", "scope_prefix", "scoped"]


def scope_prefix(db: str) -> str:
    """The database-name prefix of scope ``db``: ``scope_prefix("hub") == "3:hub:"``."""
    return f"{len(db)}:{db}:"


def scoped(base: api.Factory, db: str, object_stores: Iterable[str] | None = None) -> ScopedFactory:
    """``base``'s databases in scope ``db``, limited to ``object_stores`` (None: every store)."""
    if isinstance(base, ScopedFactory):
        raise InvalidStateError("a scoped factory cannot be scoped again; scope the host's factory")
    check_scope_name(db)
    allow: frozenset[str] | None = None
    if object_stores is not None:
        if isinstance(object_stores, str):
            raise InvalidArgumentError("object_stores must be a list of store names, not one str")
        names = list(object_stores)
        if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            raise InvalidArgumentError(
                f"object_stores must be a non-empty list of distinct, non-empty store names: {names!r}"
            )
        allow = frozenset(names)
    target, prefix = base._scope_target(db)
    return ScopedFactory(target, db, prefix, allow)


def _missing(name: Any) -> NotFoundError:
    # The one message for a store that is missing or forbidden: the two must read the same.
    return NotFoundError(f"no object store named {name!r}")


def _named(exc: NotFoundError, names: list[Any]) -> Any:
    """Which of ``names`` the backend said is missing (for the uniform message)."""
    for name in names:
        if repr(name) in str(exc):
            return name
    return names


class ScopeHandler:
    """The :func:`pyidb.wrap` handler of one scope: ``wrap(factory, ScopeHandler("3:hub:", None))``.

    ``prefix`` goes before every database name; ``allow`` (None: every store) is the store
    allowlist.
    """

    def __init__(self, prefix: str, allow: frozenset[str] | None) -> None:
        self.prefix = prefix
        self.allow = allow
        self._handlers: dict[Kind, Callable[[Operation, Callable[[Operation], Any]], Any]] = {
            Kind.OPEN: self._rename_database,
            Kind.DELETE_DATABASE: self._rename_database,
            Kind.DATABASES: self._databases,
            Kind.OBJECT_STORE_NAMES: self._store_names,
            Kind.TRANSACTION: self._transaction,
            Kind.OBJECT_STORE: self._object_store,
            Kind.CREATE_OBJECT_STORE: self._create_store,
            Kind.DELETE_OBJECT_STORE: self._delete_store,
            Kind.RENAME_OBJECT_STORE: self._rename_store,
        }

    def allowed(self, store: Any) -> bool:
        """True if ``store`` may be used in this scope."""
        return self.allow is None or store in self.allow

    def __call__(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        handle = self._handlers.get(op.kind)
        return proceed(op) if handle is None else handle(op, proceed)

    def _rename_database(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        if not isinstance(op.database, str):
            raise InvalidArgumentError(
                f"a database name must be a str, not {type(op.database).__name__}"
            )
        return proceed(dataclasses.replace(op, database=self.prefix + op.database))

    def _databases(self, op: Operation, proceed: Callable[[Operation], Any]) -> Awaitable[Any]:
        listed: Awaitable[list[dict[str, Any]]] = proceed(op)
        prefix = self.prefix

        async def mine() -> list[dict[str, Any]]:
            return [{**d, "name": d["name"][len(prefix):]}
                    for d in await listed if d["name"].startswith(prefix)]

        return mine()

    def _store_names(self, op: Operation, proceed: Callable[[Operation], Any]) -> list[str]:
        return [n for n in proceed(op) if self.allowed(n)]

    def _transaction(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        names = op.store_names
        try:
            names = [names] if isinstance(names, str) else list(names)
        except TypeError:
            return proceed(op)  # not a list of names: the backend says what is wrong with it
        for name in names:
            if not self.allowed(name):
                raise _missing(name)
        try:
            return proceed(op)
        except NotFoundError as exc:
            raise _missing(_named(exc, names)) from None

    def _object_store(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        if self.allowed(op.store):
            try:
                return proceed(op)
            except NotFoundError:
                pass
        # Missing or forbidden alike: the transaction is aborted (nothing it did is kept).
        tx = op.transaction
        if tx is not None and not tx._is_finished():
            tx.abort()
        raise _missing(op.store)

    def _create_store(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        if isinstance(op.store, str) and not self.allowed(op.store):
            raise _missing(op.store)
        return proceed(op)

    def _delete_store(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        if not self.allowed(op.store):
            raise _missing(op.store)
        try:
            return proceed(op)
        except NotFoundError:
            raise _missing(op.store) from None

    def _rename_store(self, op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        # Renaming onto a name outside the allowlist would hide the store from this scope.
        if isinstance(op.new_name, str) and op.new_name != op.store and not self.allowed(op.new_name):
            raise _missing(op.new_name)
        return proceed(op)


class ScopedFactory(api.Factory):
    """The factory :meth:`pyidb.api.Factory.scoped` returns: the scope's :class:`ScopeHandler`
    over ``inner`` through :func:`pyidb.wrap`, plus what names the scope (``scope``,
    ``prefix``, ``allow``)."""

    def __init__(self, inner: api.Factory, scope: str, prefix: str, allow: frozenset[str] | None) -> None:
        self.scope = scope
        self.prefix = prefix
        self.allow = allow
        self.url = f"{inner.url} scope={scope}"
        self.handler = ScopeHandler(prefix, allow)
        self._wrapped = wrap(inner, self.handler)

    def allowed(self, store: Any) -> bool:
        """True if ``store`` may be used in this scope."""
        return self.handler.allowed(store)

    async def open(
        self,
        name: str,
        version: int | None = None,
        *,
        upgrade: api.UpgradeCallback | None = None,
        blocked: api.BlockedCallback | None = None,
        blocking: api.VersionChangeCallback | None = None,
    ) -> api.Database:
        return await self._wrapped.open(name, version, upgrade=upgrade, blocked=blocked,
                                        blocking=blocking)

    async def delete_database(self, name: str, *, blocked: api.BlockedCallback | None = None) -> None:
        await self._wrapped.delete_database(name, blocked=blocked)

    async def databases(self) -> list[dict[str, Any]]:
        return await self._wrapped.databases()

    def scoped(self, db: str, object_stores: Iterable[str] | None = None) -> api.Factory:
        raise InvalidStateError("a scoped factory cannot be scoped again; scope the host's factory")
