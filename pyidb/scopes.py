"""Scoped factories: ``factory.scoped(db="workplace_hub", object_stores=["tasks"])``.

A scoped factory is the plain IndexedDB API over a namespace of its own, plus an optional store
allowlist. One wrapper does it for every backend; the backend only says *where* the namespace
lives (:meth:`pyidb.api.Factory._scope_target`):

* memory, SQLite and the browser: the same factory, every database name prefixed with the
  length-prefixed scope name (``"13:workplace_hub:" + name``): no two (scope, name) pairs give
  the same stored name, whatever the names (``a`` + ``b:x`` vs ``a:b`` + ``x`` cannot collide:
  the length says where the scope name ends);
* PostgreSQL: a schema per scope (the scope name, checked by :mod:`pyidb.scope_names`, so it is
  never truncated or quoted, and never ``public`` or another reserved name).

A store outside the allowlist is indistinguishable from a missing one: NotFoundError with the
same message on every verb (transaction scope, ``tx.object_store``, create/delete store), it is
absent from every list of names, and naming it in a transaction (missing or forbidden alike)
aborts that transaction. In-process, a scope is a namespace and a guard for honest code (a
cursor's ``source`` is the backend's own object); between processes the host socket
(:mod:`pyidb.host.server`) is the security boundary.
"""

from __future__ import annotations

import abc
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from . import api
from .errors import InvalidArgumentError, InvalidStateError, NotFoundError
from .scope_names import check_scope_name

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


def _delegating(cls: type) -> type:
    """Give ``cls`` every abstract member of its API base that it does not define, forwarding to
    ``self._inner`` (so the backend's own fast paths and errors are used as they are)."""
    for name in getattr(cls, "__abstractmethods__", ()):
        if name in cls.__dict__:
            continue
        member = next(getattr(b, name) for b in cls.__mro__ if name in b.__dict__)
        if isinstance(member, property):
            setattr(cls, name, property(lambda self, n=name: getattr(self._inner, n)))
        else:
            setattr(cls, name, lambda self, *a, _n=name, **k: getattr(self._inner, _n)(*a, **k))
    abc.update_abstractmethods(cls)
    return cls


class _Wrappers:
    """One wrapper per backend object (``tx.db is db`` holds inside a scope too)."""

    def __init__(self) -> None:
        self._made: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def get(self, inner: Any, make: Any) -> Any:
        if inner is None:
            return None
        found = self._made.get(inner)
        if found is None:
            found = self._made[inner] = make(inner)
        return found


class ScopedFactory(api.Factory):
    """The factory :meth:`pyidb.api.Factory.scoped` returns."""

    def __init__(self, inner: api.Factory, scope: str, prefix: str, allow: frozenset[str] | None) -> None:
        self._inner = inner
        self.scope = scope
        self.prefix = prefix
        self.allow = allow
        self.url = f"{inner.url} scope={scope}"
        self._wrappers = _Wrappers()

    # -- names ----------------------------------------------------------------------------
    def allowed(self, store: Any) -> bool:
        return self.allow is None or store in self.allow

    def _inner_name(self, name: Any) -> str:
        if not isinstance(name, str):
            raise InvalidArgumentError(f"a database name must be a str, not {type(name).__name__}")
        return self.prefix + name

    def _db(self, inner: api.Database) -> ScopedDatabase:
        return self._wrappers.get(inner, lambda i: ScopedDatabase(self, i))

    def _tx(self, inner: api.Transaction) -> ScopedTransaction:
        return self._wrappers.get(inner, lambda i: ScopedTransaction(self, i))

    def _store(self, inner: api.ObjectStore) -> ScopedObjectStore:
        return self._wrappers.get(inner, lambda i: ScopedObjectStore(self, i))

    def _index(self, inner: api.Index) -> ScopedIndex:
        return self._wrappers.get(inner, lambda i: ScopedIndex(self, i))

    # -- the Factory API ------------------------------------------------------------------
    async def open(
        self,
        name: str,
        version: int | None = None,
        *,
        upgrade: api.UpgradeCallback | None = None,
        blocked: api.BlockedCallback | None = None,
        blocking: api.VersionChangeCallback | None = None,
    ) -> ScopedDatabase:
        inner_upgrade = None if upgrade is None else (
            lambda db, old, new, tx: upgrade(self._db(db), old, new, self._tx(tx))
        )
        inner_blocking = None if blocking is None else (lambda db, old, new: blocking(self._db(db), old, new))
        inner = await self._inner.open(
            self._inner_name(name), version, upgrade=inner_upgrade, blocked=blocked, blocking=inner_blocking
        )
        return self._db(inner)

    async def delete_database(self, name: str, *, blocked: api.BlockedCallback | None = None) -> None:
        await self._inner.delete_database(self._inner_name(name), blocked=blocked)

    async def databases(self) -> list[dict[str, Any]]:
        n = len(self.prefix)
        return [
            {**d, "name": d["name"][n:]}
            for d in await self._inner.databases()
            if d["name"].startswith(self.prefix)
        ]

    def scoped(self, db: str, object_stores: Iterable[str] | None = None) -> api.Factory:
        raise InvalidStateError("a scoped factory cannot be scoped again; scope the host's factory")


@_delegating
class ScopedDatabase(api.Database):
    """A connection inside a scope: un-prefixed name, allowlisted stores."""

    def __init__(self, scope: ScopedFactory, inner: api.Database) -> None:
        self._scope = scope
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name[len(self._scope.prefix):]

    @property
    def object_store_names(self) -> list[str]:
        return [n for n in self._inner.object_store_names if self._scope.allowed(n)]

    def create_object_store(
        self, name: str, *, key_path: api.KeyPath = None, auto_increment: bool = False
    ) -> api.ObjectStore:
        if isinstance(name, str) and not self._scope.allowed(name):
            raise _missing(name)
        inner = self._inner.create_object_store(name, key_path=key_path, auto_increment=auto_increment)
        return self._scope._store(inner)

    def delete_object_store(self, name: str) -> None:
        if not self._scope.allowed(name):
            raise _missing(name)
        try:
            self._inner.delete_object_store(name)
        except NotFoundError:
            raise _missing(name) from None

    def transaction(
        self,
        store_names: str | Sequence[str],
        mode: Any = "readonly",
        *,
        durability: api.Durability = "default",
    ) -> ScopedTransaction:
        names = [store_names] if isinstance(store_names, str) else store_names
        try:
            for name in names:
                if not self._scope.allowed(name):
                    raise _missing(name)
            inner = self._inner.transaction(store_names, mode, durability=durability)
        except NotFoundError as exc:
            raise _missing(_named(exc, names)) from None
        return self._scope._tx(inner)

    @property  # type: ignore[override]
    def on_versionchange(self) -> Any:
        return self.__dict__.get("_on_versionchange")

    @on_versionchange.setter
    def on_versionchange(self, callback: Any) -> None:
        self.__dict__["_on_versionchange"] = callback
        self._inner.on_versionchange = None if callback is None else (
            lambda db, old, new: callback(self, old, new)
        )

    @property  # type: ignore[override]
    def on_close(self) -> Any:
        return self.__dict__.get("_on_close")

    @on_close.setter
    def on_close(self, callback: Any) -> None:
        self.__dict__["_on_close"] = callback
        self._inner.on_close = None if callback is None else (lambda db: callback(self))


def _named(exc: NotFoundError, names: Any) -> Any:
    """Which of ``names`` the backend said is missing (for the uniform message)."""
    for name in names if not isinstance(names, str) else [names]:
        if repr(name) in str(exc):
            return name
    return names


@_delegating
class ScopedTransaction(api.Transaction):
    """A transaction inside a scope: its stores and database are the scoped ones."""

    def __init__(self, scope: ScopedFactory, inner: api.Transaction) -> None:
        self._scope = scope
        self._inner = inner

    @property
    def db(self) -> ScopedDatabase:
        return self._scope._db(self._inner.db)

    @property
    def object_store_names(self) -> list[str]:
        return [n for n in self._inner.object_store_names if self._scope.allowed(n)]

    def object_store(self, name: str) -> api.ObjectStore:
        if self._scope.allowed(name):
            try:
                return self._scope._store(self._inner.object_store(name))
            except NotFoundError:
                pass
        # Missing or forbidden alike: the transaction is aborted (nothing it did is kept).
        if not self._inner._is_finished():
            self._inner.abort()
        raise _missing(name)

    def _abort_for_exception(self, exc: BaseException) -> None:
        self._inner._abort_for_exception(exc)

    def _hold(self) -> None:
        self._inner._hold()


@_delegating
class ScopedObjectStore(api.ObjectStore):
    """A store inside a scope (its transaction and indexes are the scoped ones)."""

    def __init__(self, scope: ScopedFactory, inner: api.ObjectStore) -> None:
        self._scope = scope
        self._inner = inner

    @property
    def transaction(self) -> ScopedTransaction:
        return self._scope._tx(self._inner.transaction)

    def index(self, name: str) -> api.Index:
        return self._scope._index(self._inner.index(name))

    def create_index(
        self, name: str, key_path: str | Sequence[str], *, unique: bool = False, multi_entry: bool = False
    ) -> api.Index:
        return self._scope._index(
            self._inner.create_index(name, key_path, unique=unique, multi_entry=multi_entry)
        )


@_delegating
class ScopedIndex(api.Index):
    """An index inside a scope (its store is the scoped one)."""

    def __init__(self, scope: ScopedFactory, inner: api.Index) -> None:
        self._scope = scope
        self._inner = inner

    @property
    def object_store(self) -> ScopedObjectStore:
        return self._scope._store(self._inner.object_store)
