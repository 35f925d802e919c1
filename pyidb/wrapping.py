"""``pyidb.wrap(factory, *handlers)``: every operation of a factory through your handlers.

The wrapped factory is a :class:`pyidb.Factory` like any other, on any backend (engine or
browser): it hands out databases, transactions, stores, indexes and cursors of its own, whose
every call becomes one :class:`~pyidb.operations.Operation` and passes through the handlers
(outermost first) before the backend runs it. A handler observes, rewrites or vetoes::

    def count_writes(op, proceed):
        if op.is_write:
            writes.append((op.store, op.kind))
        return proceed(op)

    def hide_secrets(op, proceed):
        if op.kind is Kind.OBJECT_STORE_NAMES:
            return [n for n in proceed(op) if n != "secrets"]
        if op.kind is Kind.TRANSACTION and "secrets" in as_list(op.store_names):
            raise NotFoundError("no object store named 'secrets'")
        return proceed(op)

    f = pyidb.wrap(pyidb.factory("memory:"), count_writes, hide_secrets)

Handlers run synchronously inside the call, so requests keep the transaction-lifetime rule: a
handler must not ``await`` (for OPEN, DELETE_DATABASE and DATABASES, ``proceed`` returns an
awaitable; return it, or an awaitable of your own that awaits it). Arguments reach the backend
unchanged, so a wrapper that only observes raises exactly the errors the bare factory raises
(the conformance suite runs on a wrapped factory to prove it).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import api
from .errors import InvalidArgumentError
from .operations import Handler, Kind, Operation
from .sync_future import SyncFuture

__all__ = ["wrap"]


def wrap(factory: api.Factory, *handlers: Handler) -> api.Factory:
    """``factory`` with every operation passing through ``handlers`` (the first is outermost).

    >>> f = pyidb.wrap(pyidb.factory("memory:"), lambda op, proceed: proceed(op))
    """
    if not isinstance(factory, api.Factory):
        raise InvalidArgumentError(f"wrap() takes a pyidb Factory, not {type(factory).__name__}")
    for h in handlers:
        if not callable(h):
            raise InvalidArgumentError(
                f"a handler is a callable handler(op, proceed), not {type(h).__name__}"
            )
    return _Factory(factory, _Chain(handlers))


def _perform(op: Operation) -> Any:
    """The innermost step: make the call ``op`` describes on the backend object."""
    return _PERFORM[op.kind](op.target, op)


def _call_source(name: str) -> Callable[[Any, Operation], Any]:
    fields = _QUERY_FIELDS[name]
    return lambda t, op: getattr(t, name)(*[getattr(op, f) for f in fields])


_QUERY_FIELDS = {
    "get": ("query",), "get_key": ("query",), "count": ("query",), "delete": ("query",),
    "get_all": ("query", "count", "direction"), "get_all_keys": ("query", "count", "direction"),
    "get_all_records": ("query", "count", "direction"),
    "open_cursor": ("query", "direction"), "open_key_cursor": ("query", "direction"),
    "add": ("value", "key"), "put": ("value", "key"),
    "add_many": ("values", "keys"), "put_many": ("values", "keys"),
    "get_many": ("keys",), "delete_many": ("keys",), "clear": (),
}

_PERFORM: dict[Kind, Callable[[Any, Operation], Any]] = {
    Kind.OPEN: lambda t, op: t.open(op.database, op.version, upgrade=op.upgrade,
                                    blocked=op.blocked, blocking=op.blocking),
    Kind.DELETE_DATABASE: lambda t, op: t.delete_database(op.database, blocked=op.blocked),
    Kind.DATABASES: lambda t, op: t.databases(),
    Kind.TRANSACTION: lambda t, op: t.transaction(op.store_names, op.mode,
                                                  durability=op.durability),
    Kind.CLOSE: lambda t, op: t.close(),
    Kind.OBJECT_STORE_NAMES: lambda t, op: t.object_store_names,
    Kind.CREATE_OBJECT_STORE: lambda t, op: t.create_object_store(
        op.store, key_path=op.key_path, auto_increment=op.auto_increment),
    Kind.DELETE_OBJECT_STORE: lambda t, op: t.delete_object_store(op.store),
    Kind.OBJECT_STORE: lambda t, op: t.object_store(op.store),
    Kind.COMMIT: lambda t, op: t.commit(),
    Kind.ABORT: lambda t, op: t.abort(),
    Kind.INDEX_NAMES: lambda t, op: t.index_names,
    Kind.INDEX: lambda t, op: t.index(op.index),
    Kind.CREATE_INDEX: lambda t, op: t.create_index(
        op.index, op.key_path, unique=op.unique, multi_entry=op.multi_entry),
    Kind.DELETE_INDEX: lambda t, op: t.delete_index(op.index),
    Kind.RENAME_OBJECT_STORE: lambda t, op: setattr(t, "name", op.new_name),
    Kind.RENAME_INDEX: lambda t, op: setattr(t, "name", op.new_name),
    # the backend hook behind continue_/advance/continue_primary_key (see api.Cursor)
    Kind.CURSOR_MOVE: lambda t, op: t._move(op.count, op.key, op.primary_key),
    Kind.CURSOR_UPDATE: lambda t, op: t.update(op.value),
    Kind.CURSOR_DELETE: lambda t, op: t.delete(),
    **{Kind(name): _call_source(name) for name in _QUERY_FIELDS},
}


class _Chain:
    """The handlers of one wrapped factory, and the proxies it handed out (one per backend
    object, so ``tx.object_store("s") is tx.object_store("s")`` holds as on the backend)."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        step: Callable[[Operation], Any] = _perform
        for h in reversed(handlers):
            step = _bind(h, step)
        self.run = step
        self._proxies: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        # The name the program opened each backend database by (a handler may have rewritten
        # it): ``tx.db.name`` answers it even after the first proxy of that database is gone.
        self.db_names: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def proxy(self, inner: Any, make: Callable[[Any], Any]) -> Any:
        found = self._proxies.get(id(inner))
        if found is None or found._inner is not inner:
            found = self._proxies[id(inner)] = make(inner)
        return found


def _bind(handler: Handler, proceed: Callable[[Operation], Any]) -> Callable[[Operation], Any]:
    return lambda op: handler(op, proceed)


class _Factory(api.Factory):
    def __init__(self, inner: api.Factory, chain: _Chain) -> None:
        self._inner = inner
        self._chain = chain
        self.url = inner.url

    async def open(self, name: str, version: int | None = None, *,
                   upgrade: api.UpgradeCallback | None = None,
                   blocked: api.BlockedCallback | None = None,
                   blocking: api.VersionChangeCallback | None = None) -> api.Database:
        chain = self._chain
        up = None
        if upgrade is not None:
            def up(db: Any, old: int, new: int, tx: Any) -> Any:
                proxy = _database(chain, db, name)
                return upgrade(proxy, old, new, _transaction(chain, tx, proxy))
        on_vc = None if blocking is None else _Callback(
            blocking, lambda db: _database(chain, db, name))
        op = Operation(Kind.OPEN, self._inner, database=name, version=version, upgrade=up,
                       blocked=blocked, blocking=on_vc)
        return _database(chain, await chain.run(op), name)

    async def delete_database(self, name: str, *, blocked: api.BlockedCallback | None = None) -> None:
        op = Operation(Kind.DELETE_DATABASE, self._inner, database=name, blocked=blocked)
        await self._chain.run(op)

    async def databases(self) -> list[dict[str, Any]]:
        return await self._chain.run(Operation(Kind.DATABASES, self._inner))  # type: ignore[no-any-return]

    def close(self) -> None:
        self._inner.close()


def _database(chain: _Chain, inner: api.Database, name: str | None = None) -> _Database:
    """The proxy of ``inner``; ``name``: the name the program opened it by (None: as before)."""
    if name is None:
        name = chain.db_names.get(inner, inner.name)
    else:
        chain.db_names[inner] = name
    return chain.proxy(inner, lambda i: _Database(i, chain, name))  # type: ignore[no-any-return]


def _transaction(chain: _Chain, inner: api.Transaction, db: _Database | None = None) -> _Transaction:
    """The proxy of ``inner``; ``db``: the database proxy it came from (kept, so ``tx.db`` is
    that object, with the name the program used, as long as the transaction lives)."""
    return chain.proxy(inner, lambda i: _Transaction(i, chain, db))  # type: ignore[no-any-return]


class _Database(api.Database):
    def __init__(self, inner: api.Database, chain: _Chain, name: str) -> None:
        self._inner = inner
        self._chain = chain
        self._name = name  # as the program asked for it (a handler may have rewritten it)

    def _op(self, kind: Kind, **fields: Any) -> Any:
        return self._chain.run(Operation(kind, self._inner, database=self._inner.name, **fields))

    name = property(lambda self: self._name)
    version = property(lambda self: self._inner.version)

    @property
    def object_store_names(self) -> list[str]:
        return self._op(Kind.OBJECT_STORE_NAMES)  # type: ignore[no-any-return]

    # the callbacks get this object, not the backend's
    @property  # type: ignore[override]
    def on_versionchange(self) -> api.VersionChangeCallback | None:
        return getattr(self._inner.on_versionchange, "user", self._inner.on_versionchange)

    @on_versionchange.setter
    def on_versionchange(self, fn: api.VersionChangeCallback | None) -> None:
        self._inner.on_versionchange = None if fn is None else _Callback(fn, lambda _: self)

    @property  # type: ignore[override]
    def on_close(self) -> Callable[[api.Database], Any] | None:
        return getattr(self._inner.on_close, "user", self._inner.on_close)

    @on_close.setter
    def on_close(self, fn: Callable[[api.Database], Any] | None) -> None:
        self._inner.on_close = None if fn is None else _Callback(fn, lambda _: self)

    def create_object_store(self, name: str, *, key_path: api.KeyPath = None,
                            auto_increment: bool = False) -> api.ObjectStore:
        inner = self._op(Kind.CREATE_OBJECT_STORE, store=name, key_path=key_path,
                         auto_increment=auto_increment)
        return _store(self._chain, inner)

    def delete_object_store(self, name: str) -> None:
        self._op(Kind.DELETE_OBJECT_STORE, store=name)

    def transaction(self, store_names: str | Sequence[str], mode: Any = "readonly", *,
                    durability: Any = "default") -> api.Transaction:
        inner = self._op(Kind.TRANSACTION, store_names=store_names, mode=mode,
                         durability=durability)
        return _transaction(self._chain, inner, self)

    def close(self) -> None:
        self._op(Kind.CLOSE)


class _Callback:
    """A connection's event callback, called with the wrapper's database object."""

    def __init__(self, user: Callable[..., Any], proxy: Callable[[Any], _Database]) -> None:
        self.user = user
        self._proxy = proxy

    def __call__(self, inner: Any, *args: Any) -> Any:
        return self.user(self._proxy(inner), *args)


class _Transaction(api.Transaction):
    def __init__(self, inner: api.Transaction, chain: _Chain, db: _Database | None = None) -> None:
        self._inner = inner
        self._chain = chain
        self._db = db

    def _op(self, kind: Kind, **fields: Any) -> Any:
        inner = self._inner
        return self._chain.run(Operation(kind, inner, database=inner.db.name, transaction=inner,
                                         mode=inner.mode, **fields))

    @property
    def db(self) -> api.Database:
        db = self._db
        if db is not None and db._inner is self._inner.db:
            return db
        return _database(self._chain, self._inner.db)

    mode = property(lambda self: self._inner.mode)
    durability = property(lambda self: self._inner.durability)
    error = property(lambda self: self._inner.error)
    done = property(lambda self: self._inner.done)

    @property
    def object_store_names(self) -> list[str]:
        return self._op(Kind.OBJECT_STORE_NAMES)  # type: ignore[no-any-return]

    def object_store(self, name: str) -> api.ObjectStore:
        return _store(self._chain, self._op(Kind.OBJECT_STORE, store=name), self)

    def commit(self) -> None:
        self._op(Kind.COMMIT)

    def abort(self) -> None:
        self._op(Kind.ABORT)

    # ``async with`` is the backend's own (it keeps a failed request's error as tx.error)
    async def __aenter__(self) -> _Transaction:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return await self._inner.__aexit__(exc_type, exc, tb)

    def _is_active(self) -> bool:
        return self._inner._is_active()

    def _is_finished(self) -> bool:
        return self._inner._is_finished()

    def _aborted_by_user(self) -> bool:
        return self._inner._aborted_by_user()

    def _hold(self) -> None:  # the host socket serves wrapped (scoped) factories too
        self._inner._hold()


class _Source:
    """Requests of stores and indexes: one operation each."""

    _inner: Any
    _chain: _Chain

    def _op(self, kind: Kind, **fields: Any) -> Any:
        raise NotImplementedError

    def get(self, query: Any) -> Any:
        return self._op(Kind.GET, query=query)

    def get_key(self, query: Any) -> Any:
        return self._op(Kind.GET_KEY, query=query)

    def get_all(self, query: Any = None, count: int | None = None, direction: Any = "next") -> Any:
        return self._op(Kind.GET_ALL, query=query, count=count, direction=direction)

    def get_all_keys(self, query: Any = None, count: int | None = None,
                     direction: Any = "next") -> Any:
        return self._op(Kind.GET_ALL_KEYS, query=query, count=count, direction=direction)

    def get_all_records(self, query: Any = None, count: int | None = None,
                        direction: Any = "next") -> Any:
        return self._op(Kind.GET_ALL_RECORDS, query=query, count=count, direction=direction)

    def count(self, query: Any = None) -> Any:
        return self._op(Kind.COUNT, query=query)

    def open_cursor(self, query: Any = None, direction: Any = "next") -> Any:
        return self._cursor_request(self._op(Kind.OPEN_CURSOR, query=query, direction=direction))

    def open_key_cursor(self, query: Any = None, direction: Any = "next") -> Any:
        return self._cursor_request(
            self._op(Kind.OPEN_KEY_CURSOR, query=query, direction=direction))

    def _cursor_request(self, request: Any) -> Any:
        chain = self._chain
        if not isinstance(request, api.CursorRequest):  # a handler's own: map it as it asks
            return request.map(lambda c: _cursor(chain, c, self))
        return api.CursorRequest(
            _map(request._request, lambda c: None if c is None else _cursor(chain, c, self)))


def _store(chain: _Chain, inner: api.ObjectStore, tx: _Transaction | None = None) -> _ObjectStore:
    """The proxy of ``inner``; ``tx``: the transaction proxy it came from (kept, as in
    :func:`_transaction`)."""
    return chain.proxy(inner, lambda i: _ObjectStore(i, chain, tx))  # type: ignore[no-any-return]


class _ObjectStore(_Source, api.ObjectStore):
    def __init__(self, inner: api.ObjectStore, chain: _Chain, tx: _Transaction | None = None) -> None:
        self._inner = inner
        self._chain = chain
        self._tx = tx

    def _op(self, kind: Kind, **fields: Any) -> Any:
        inner = self._inner
        tx = inner.transaction
        return self._chain.run(Operation(kind, inner, database=tx.db.name, store=inner.name,
                                         transaction=tx, mode=tx.mode, **fields))

    name = property(lambda self: self._inner.name,
                    lambda self, new: self._op(Kind.RENAME_OBJECT_STORE, new_name=new))
    key_path = property(lambda self: self._inner.key_path)
    auto_increment = property(lambda self: self._inner.auto_increment)

    @property
    def transaction(self) -> api.Transaction:
        tx = self._tx
        if tx is not None and tx._inner is self._inner.transaction:
            return tx
        return _transaction(self._chain, self._inner.transaction)

    @property
    def index_names(self) -> list[str]:
        return self._op(Kind.INDEX_NAMES)  # type: ignore[no-any-return]

    def add(self, value: Any, key: Any = None) -> Any:
        return self._op(Kind.ADD, value=value, key=key)

    def put(self, value: Any, key: Any = None) -> Any:
        return self._op(Kind.PUT, value=value, key=key)

    def delete(self, query: Any) -> Any:
        return self._op(Kind.DELETE, query=query)

    def clear(self) -> Any:
        return self._op(Kind.CLEAR)

    def add_many(self, values: Iterable[Any], keys: Iterable[Any] | None = None) -> Any:
        return self._op(Kind.ADD_MANY, values=values, keys=keys)

    def put_many(self, values: Iterable[Any], keys: Iterable[Any] | None = None) -> Any:
        return self._op(Kind.PUT_MANY, values=values, keys=keys)

    def get_many(self, keys: Iterable[Any]) -> Any:
        return self._op(Kind.GET_MANY, keys=keys)

    def delete_many(self, keys: Iterable[Any]) -> Any:
        return self._op(Kind.DELETE_MANY, keys=keys)

    def index(self, name: str) -> api.Index:
        return _index(self._chain, self._op(Kind.INDEX, index=name), self)

    def create_index(self, name: str, key_path: str | Sequence[str], *, unique: bool = False,
                     multi_entry: bool = False) -> api.Index:
        inner = self._op(Kind.CREATE_INDEX, index=name, key_path=key_path, unique=unique,
                         multi_entry=multi_entry)
        return _index(self._chain, inner, self)

    def delete_index(self, name: str) -> None:
        self._op(Kind.DELETE_INDEX, index=name)


def _index(chain: _Chain, inner: api.Index, store: _ObjectStore) -> _Index:
    return chain.proxy(inner, lambda i: _Index(i, chain, store))  # type: ignore[no-any-return]


class _Index(_Source, api.Index):
    def __init__(self, inner: api.Index, chain: _Chain, store: _ObjectStore) -> None:
        self._inner = inner
        self._chain = chain
        self._store = store

    def _op(self, kind: Kind, **fields: Any) -> Any:
        inner, store = self._inner, self._store._inner
        tx = store.transaction
        return self._chain.run(Operation(kind, inner, database=tx.db.name, store=store.name,
                                         index=inner.name, transaction=tx, mode=tx.mode, **fields))

    name = property(lambda self: self._inner.name,
                    lambda self, new: self._op(Kind.RENAME_INDEX, new_name=new))
    key_path = property(lambda self: self._inner.key_path)
    unique = property(lambda self: self._inner.unique)
    multi_entry = property(lambda self: self._inner.multi_entry)
    object_store = property(lambda self: self._store)


def _cursor(chain: _Chain, inner: api.Cursor, source: _ObjectStore | _Index) -> _Cursor:
    cls = _CursorWithValue if isinstance(inner, api.CursorWithValue) else _Cursor
    return chain.proxy(inner, lambda i: cls(i, chain, source))  # type: ignore[no-any-return]


class _Cursor(api.Cursor):
    def __init__(self, inner: api.Cursor, chain: _Chain, source: _ObjectStore | _Index) -> None:
        self._inner = inner
        self._chain = chain
        self._source = source

    def _op(self, kind: Kind, **fields: Any) -> Any:
        source = self._source
        store = source._inner if isinstance(source, _ObjectStore) else source._store._inner
        index = source._inner.name if isinstance(source, _Index) else None
        tx = store.transaction
        return self._chain.run(Operation(kind, self._inner, database=tx.db.name,
                                         store=store.name, index=index, transaction=tx,
                                         mode=tx.mode, **fields))

    source = property(lambda self: self._source)
    direction = property(lambda self: self._inner.direction)
    key = property(lambda self: self._inner.key)
    primary_key = property(lambda self: self._inner.primary_key)

    def _move(self, count: int, key: Any, primary_key: Any) -> Any:
        request = self._op(Kind.CURSOR_MOVE, count=count, key=key, primary_key=primary_key)
        return _map(request, lambda c: None if c is None else self)

    def update(self, value: Any) -> Any:
        return self._op(Kind.CURSOR_UPDATE, value=value)

    def delete(self) -> Any:
        return self._op(Kind.CURSOR_DELETE)


class _CursorWithValue(_Cursor, api.CursorWithValue):
    value = property(lambda self: self._inner.value)


def _map(request: Any, fn: Callable[[Any], Any]) -> Any:
    """``request.map(fn)``, delivered in the backend's own step even when the request is
    complete already (a browser cursor move served from its read-ahead page is): mapping a done
    future goes through ``add_done_callback``, i.e. a later loop turn, by which time IndexedDB
    has committed the transaction. So a done request gives a done future that applies ``fn``
    when its result is read (awaiting it does not yield), as the backend's own would."""
    if isinstance(request, SyncFuture) and request.done():
        if request.cancelled() or request.exception() is not None:
            return request  # the error as it is: ``fn`` maps results only
        return _MappedDone(request, fn)
    return request.map(fn)


class _MappedDone(SyncFuture[Any]):
    """A done request mapped through ``fn``, applied when the result is first read, so a
    backend future that acts when read (the browser's served cursor move takes its record then)
    acts at the same moment as unwrapped."""

    __slots__ = ("_fn", "_source")

    def __init__(self, source: SyncFuture[Any], fn: Callable[[Any], Any]) -> None:
        super().__init__(source._loop)
        self._source: SyncFuture[Any] | None = source
        self._fn = fn
        self.set_result(None)  # done now; the value comes from the source when read

    def result(self) -> Any:
        source = self._source
        if source is not None:
            self._source = None
            self._value = self._fn(source.result())
        return super().result()

    def exception(self) -> BaseException | None:
        self.result()
        return None
