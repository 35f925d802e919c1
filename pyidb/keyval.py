"""Key-value storage in two lines, modelled on the JS library idb-keyval, on every backend.

>>> from pyidb import keyval
>>> await keyval.set("hello", "world")
>>> await keyval.get("hello")
'world'

Every function takes an optional ``store`` (the last argument, as in idb-keyval): the default is
the object store "keyval" of the database "keyval-store" on :func:`pyidb.default_factory`; make
another with :func:`create_store`. Each call runs in its own transaction.

For PyScript's ``pyscript.storage`` shape, :func:`open` gives a dict loaded with every entry; change
it like a dict, then ``await store.sync()`` writes the changes in one transaction::

    store = await keyval.open("settings")
    store["theme"] = "dark"
    await store.sync()
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .api import Database, Factory, Key, ObjectStore, Transaction
from .factories import default_factory
from .keys import is_valid_key

__all__ = ["KeyvalStore", "Storage", "clear", "create_store", "delete", "delete_many", "entries",
           "get", "get_many", "keys", "open", "set", "set_many", "update", "values"]

_MISSING = object()


class KeyvalStore:
    """One object store used as a key-value store (idb-keyval's ``UseStore``).

    >>> notes = keyval.create_store("my-db", "notes")
    >>> await keyval.set(1, "first", notes)

    The database is opened on first use and kept open; it is created, or upgraded to add the
    store, as needed. Another connection's upgrade or delete closes it (it reopens when next used).
    """

    def __init__(self, db_name: str, store_name: str, factory: Factory | None = None) -> None:
        self.db_name = db_name
        self.store_name = store_name
        self._factory = factory
        self._db: Database | None = None

    async def _connect(self) -> Database:
        if self._db is not None:
            return self._db
        factory = self._factory or default_factory()
        name = self.store_name

        def create(db: Database, old: int, new: int, tx: Transaction) -> None:
            db.create_object_store(name)

        db = await factory.open(self.db_name, upgrade=create)
        if name not in db.object_store_names:  # an existing database without our store
            db.close()
            db = await factory.open(self.db_name, db.version + 1, upgrade=create)
        db.on_versionchange = self._on_versionchange
        self._db = db
        return db

    def _on_versionchange(self, db: Database, old: int, new: int | None) -> None:
        db.close()
        self._db = None

    async def _run(self, mode: str, work: Callable[[ObjectStore], Awaitable[Any]]) -> Any:
        """Run ``work(store)`` in one transaction and return its result once committed."""
        db = await self._connect()
        async with db.transaction(self.store_name, mode) as tx:  # type: ignore[arg-type]
            return await work(tx.object_store(self.store_name))

    def close(self) -> None:
        """Close the connection (the next call reopens it)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __repr__(self) -> str:
        return f"<KeyvalStore {self.db_name!r}/{self.store_name!r}>"


_default_store: KeyvalStore | None = None
_default_factory: Factory | None = None


def _store(store: KeyvalStore | None) -> KeyvalStore:
    global _default_store, _default_factory
    if store is not None:
        return store
    current = default_factory()
    if _default_store is None or _default_factory is not current:  # the default was changed
        if _default_store is not None:
            _default_store.close()
        _default_store, _default_factory = KeyvalStore("keyval-store", "keyval", current), current
    return _default_store


def create_store(db_name: str, store_name: str, *, factory: Factory | None = None) -> KeyvalStore:
    """A custom store: object store ``store_name`` of database ``db_name``."""
    return KeyvalStore(db_name, store_name, factory)


async def get(key: Key, store: KeyvalStore | None = None) -> Any:
    """The value stored under ``key``, or None."""
    return await _store(store)._run("readonly", lambda s: s.get(key))


async def set(key: Key, value: Any, store: KeyvalStore | None = None) -> None:
    """Store ``value`` under ``key`` (replacing any value there); returns once committed."""
    await _store(store)._run("readwrite", lambda s: s.put(value, key))


async def get_many(keys: Iterable[Key], store: KeyvalStore | None = None) -> list[Any]:
    """The values of ``keys`` in one transaction (None where there is none)."""
    wanted = list(keys)
    return await _store(store)._run("readonly", lambda s: s.get_many(wanted))  # type: ignore[no-any-return]


async def set_many(items: Iterable[tuple[Key, Any]], store: KeyvalStore | None = None) -> None:
    """Store many ``(key, value)`` pairs in one transaction: all or nothing."""
    pairs = list(items)
    await _store(store)._run(
        "readwrite", lambda s: s.put_many([v for _, v in pairs], [k for k, _ in pairs]))


async def update(key: Key, fn: Callable[[Any], Any], store: KeyvalStore | None = None) -> Any:
    """Replace the value under ``key`` by ``fn(old)`` (old is None if absent) atomically: the read
    and the write are one readwrite transaction. Returns the new value.

    >>> await keyval.update("visits", lambda n: (n or 0) + 1)
    1
    """
    async def work(s: ObjectStore) -> Any:
        new = fn(await s.get(key))
        await s.put(new, key)
        return new

    return await _store(store)._run("readwrite", work)


async def delete(key: Key, store: KeyvalStore | None = None) -> None:
    """Delete the entry under ``key`` (no error if there is none)."""
    await _store(store)._run("readwrite", lambda s: s.delete(key))


async def delete_many(keys: Iterable[Key], store: KeyvalStore | None = None) -> None:
    """Delete the entries under ``keys`` in one transaction."""
    wanted = list(keys)
    await _store(store)._run("readwrite", lambda s: s.delete_many(wanted))


async def clear(store: KeyvalStore | None = None) -> None:
    """Delete every entry of the store."""
    await _store(store)._run("readwrite", lambda s: s.clear())


async def keys(store: KeyvalStore | None = None) -> builtins.list[Key]:
    """Every key, in IndexedDB key order."""
    return await _store(store)._run("readonly", lambda s: s.get_all_keys())  # type: ignore[no-any-return]


async def values(store: KeyvalStore | None = None) -> builtins.list[Any]:
    """Every value, in key order."""
    return await _store(store)._run("readonly", lambda s: s.get_all())  # type: ignore[no-any-return]


async def entries(store: KeyvalStore | None = None) -> builtins.list[tuple[Key, Any]]:
    """Every ``(key, value)`` pair, in key order (one transaction, so keys and values match)."""
    async def work(s: ObjectStore) -> builtins.list[tuple[Key, Any]]:
        keys_request = s.get_all_keys()
        found = await s.get_all()
        return builtins.list(zip(await keys_request, found, strict=True))

    return await _store(store)._run("readonly", work)  # type: ignore[no-any-return]


class Storage(dict):  # type: ignore[type-arg]
    """A dict of every entry of a key-value store (PyScript's ``pyscript.storage`` shape).

    Reads are plain dict reads; writes change the dict and are remembered until :meth:`sync`
    stores them, all in one transaction. Keys must be IndexedDB keys (str, numbers, bytes,
    datetimes, lists of keys become tuples here, as dict keys must be hashable).
    """

    def __init__(self, store: KeyvalStore, items: Iterable[tuple[Key, Any]]) -> None:
        super().__init__(items)
        self.store = store
        self._changed: builtins.set[Any] = builtins.set()
        self._cleared = False

    def __setitem__(self, key: Key, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed.add(key)

    def __delitem__(self, key: Key) -> None:
        super().__delitem__(key)
        self._changed.add(key)

    def pop(self, key: Key, default: Any = _MISSING) -> Any:
        if key in self:
            self._changed.add(key)
        return super().pop(key) if default is _MISSING else super().pop(key, default)

    def popitem(self) -> tuple[Key, Any]:
        key, value = super().popitem()
        self._changed.add(key)
        return key, value

    def setdefault(self, key: Key, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        super().clear()
        self._changed.clear()
        self._cleared = True

    @property
    def dirty(self) -> bool:
        """True while there are changes :meth:`sync` has not written."""
        return self._cleared or bool(self._changed)

    async def sync(self) -> None:
        """Write every change since the last sync in one transaction (all or nothing)."""
        if not self.dirty:
            return
        changed, cleared = builtins.list(self._changed), self._cleared
        puts = [k for k in changed if k in self]
        # a key that is no IndexedDB key was never stored: nothing to delete
        deletes = [_idb_key(k) for k in changed if k not in self and is_valid_key(_idb_key(k))]

        async def work(s: ObjectStore) -> None:
            if cleared:
                s.clear()
            if deletes:
                s.delete_many(deletes)
            if puts:
                await s.put_many([dict.__getitem__(self, k) for k in puts],
                                 [_idb_key(k) for k in puts])

        await self.store._run("readwrite", work)
        self._changed.difference_update(changed)
        self._cleared = False


def _dict_key(key: Key) -> Any:
    """An IndexedDB key as a dict key: arrays (lists) become tuples, recursively."""
    return tuple(_dict_key(k) for k in key) if type(key) is builtins.list else key


def _idb_key(key: Any) -> Key:
    return [_idb_key(k) for k in key] if type(key) is tuple else key


async def open(
    name: str = "keyval-store", store_name: str = "keyval", *, factory: Factory | None = None
) -> Storage:
    """Load every entry of ``store_name`` in database ``name`` into a :class:`Storage` dict.

    >>> settings = await keyval.open("settings")
    >>> settings["theme"] = "dark"; await settings.sync()
    """
    store = KeyvalStore(name, store_name, factory)
    return Storage(store, [(_dict_key(k), v) for k, v in await entries(store)])
