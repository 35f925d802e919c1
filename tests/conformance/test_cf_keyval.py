"""pyidb.keyval on every backend: idb-keyval's calls, atomic update, custom stores, and the
pyscript.storage-like dict that syncs its changes in one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pyidb
from pyidb import keyval

from ._support import db_name, raises


def _store(factory: pyidb.Factory, name: str = "kv") -> keyval.KeyvalStore:
    return keyval.create_store(db_name("keyval"), name, factory=factory)


async def test_get_set_delete_clear(factory):
    s = _store(factory)
    assert await keyval.get("missing", s) is None
    await keyval.set("a", {"n": 1}, s)
    await keyval.set(2, b"\x00bytes", s)
    await keyval.set([1, "x"], datetime(2024, 5, 1, tzinfo=UTC), s)
    assert await keyval.get("a", s) == {"n": 1}
    assert await keyval.get(2, s) == b"\x00bytes"
    assert await keyval.get([1, "x"], s) == datetime(2024, 5, 1, tzinfo=UTC)
    await keyval.set("a", "replaced", s)
    assert await keyval.get("a", s) == "replaced"
    await keyval.delete("a", s)
    await keyval.delete("never there", s)
    assert await keyval.get("a", s) is None
    # keys in IndexedDB order: numbers < strings < arrays
    await keyval.set("b", 3, s)
    assert await keyval.keys(s) == [2, "b", [1, "x"]]
    assert await keyval.values(s) == [b"\x00bytes", 3, datetime(2024, 5, 1, tzinfo=UTC)]
    assert await keyval.entries(s) == [(2, b"\x00bytes"), ("b", 3),
                                       ([1, "x"], datetime(2024, 5, 1, tzinfo=UTC))]
    await keyval.clear(s)
    assert await keyval.keys(s) == []
    s.close()


async def test_many_calls_are_one_transaction_each(factory):
    s = _store(factory)
    await keyval.set_many([(i, f"v{i}") for i in range(10)], s)
    assert await keyval.get_many([3, 99, 0], s) == ["v3", None, "v0"]
    await keyval.delete_many([1, 2, 3], s)
    assert await keyval.keys(s) == [0, 4, 5, 6, 7, 8, 9]
    with raises(pyidb.DataError):  # None is no key: nothing of the batch is stored
        await keyval.set_many([("ok", 1), (None, 2)], s)
    assert await keyval.get("ok", s) is None
    s.close()


async def test_update_is_atomic(factory):
    s = _store(factory)
    assert await keyval.update("hits", lambda n: (n or 0) + 1, s) == 1
    # 20 read-modify-writes started together: each its own readwrite transaction, none lost
    await asyncio.gather(*(keyval.update("hits", lambda n: n + 1, s) for _ in range(20)))
    assert await keyval.get("hits", s) == 21

    def boom(old):
        raise ValueError("no")

    with raises(ValueError):
        await keyval.update("hits", boom, s)
    assert await keyval.get("hits", s) == 21
    s.close()


async def test_custom_store_added_to_an_existing_database(factory):
    name = db_name("keyval")
    first = keyval.create_store(name, "first", factory=factory)
    await keyval.set("k", "in first", first)
    # A second store of the same database: the upgrade that adds it closes first's connection
    # (no blocked upgrade), and first reopens on its next call.
    second = keyval.create_store(name, "second", factory=factory)
    await keyval.set("k", "in second", second)
    assert await keyval.get("k", first) == "in first"
    assert await keyval.get("k", second) == "in second"
    db = await factory.open(name)
    assert db.object_store_names == ["first", "second"]
    assert db.version == 2
    db.close()
    first.close()
    second.close()


async def test_default_store_uses_the_default_factory(factory):
    before = pyidb.default_factory()
    pyidb.set_default_factory(factory)
    try:
        key = db_name("default-key")
        await keyval.set(key, [1, 2])
        assert await keyval.get(key) == [1, 2]
        db = await factory.open("keyval-store")
        assert "keyval" in db.object_store_names
        assert await db.get("keyval", key) == [1, 2]
        db.close()
        await keyval.delete(key)
    finally:
        keyval._store(None).close()
        pyidb.set_default_factory(before)


async def test_storage_dict_syncs_changes(factory):
    name = db_name("keyval-open")
    store = await keyval.open(name, factory=factory)
    assert store == {} and not store.dirty
    store["theme"] = "dark"
    store[(1, "a")] = "array key"  # a list key of IndexedDB is a tuple in the dict
    store.update(size=3)
    assert store.dirty
    again = await keyval.open(name, factory=factory)
    assert again == {}  # nothing written before sync
    await store.sync()
    assert not store.dirty
    again = await keyval.open(name, factory=factory)
    assert again == {"theme": "dark", "size": 3, (1, "a"): "array key"}
    del again["theme"]
    again.pop("size")
    again.setdefault("new", 0)
    await again.sync()
    third = await keyval.open(name, factory=factory)
    assert third == {(1, "a"): "array key", "new": 0}
    third.clear()
    third["only"] = 1
    await third.sync()
    assert await keyval.entries(third.store) == [("only", 1)]
    for s in (store, again, third):
        s.store.close()


async def test_storage_dict_sync_is_all_or_nothing(factory):
    name = db_name("keyval-open")
    store = await keyval.open(name, factory=factory)
    store["good"] = 1
    store[None] = 2  # not an IndexedDB key
    with raises(pyidb.DataError):
        await store.sync()
    assert store.dirty  # still to write
    assert await keyval.keys(store.store) == []
    del store[None]
    await store.sync()
    assert await keyval.keys(store.store) == ["good"]
    store.store.close()
