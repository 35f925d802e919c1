"""Conformance: indexes (spec §2.6 "Index", "store a record into an object store" step on indexes).

Index records are ordered by index key then primary key; unique indexes reject duplicates with a
ConstraintError that aborts the transaction unless caught; multiEntry indexes one entry per
distinct valid array element; records whose index key cannot be extracted are simply not indexed.
"""

from __future__ import annotations

from typing import Any

import pyidb
from pyidb import KeyRange

from ._support import db_name, raises

PEOPLE = [
    {"id": 1, "name": "bob", "email": "b@x", "age": 30, "tags": ["a", "b", "a"]},
    {"id": 2, "name": "amy", "email": "a@x", "age": 25, "tags": ["b"]},
    {"id": 3, "name": "bob", "email": "b2@x", "age": 41, "tags": "c"},
    {"id": 4, "name": "cid", "email": "c@x", "age": 25, "tags": []},
    {"id": 5, "name": "amy", "email": "a2@x", "age": 52, "tags": ["a", True, {"x": 1}, None]},
]


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("people", key_path="id")
    store.create_index("by_name", "name")
    store.create_index("by_email", "email", unique=True)
    store.create_index("by_age", "age")
    store.create_index("by_tag", "tags", multi_entry=True)
    store.create_index("by_name_age", ["name", "age"])


async def _open(factory: pyidb.Factory, fill: bool = True) -> pyidb.Database:
    db = await factory.open(db_name("idx"), 1, upgrade=_schema)
    if fill:
        async with db.transaction("people", "readwrite") as tx:
            for p in PEOPLE:
                await tx.object_store("people").add(p)
    return db


def _ids(records: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in records]


async def test_index_attributes(factory):
    async with await _open(factory, fill=False) as db:
        async with db.transaction("people") as tx:
            store = tx.object_store("people")
            assert store.index_names == ["by_age", "by_email", "by_name", "by_name_age", "by_tag"]
            email = store.index("by_email")
            assert (email.name, email.key_path, email.unique, email.multi_entry) == (
                "by_email", "email", True, False)
            tag = store.index("by_tag")
            assert tag.multi_entry is True and tag.unique is False
            assert store.index("by_name_age").key_path == ["name", "age"]
            assert email.object_store.name == "people"


async def test_unknown_index_is_not_found(factory):
    async with await _open(factory, fill=False) as db:
        async with db.transaction("people") as tx:
            with raises(pyidb.NotFoundError):
                tx.object_store("people").index("nope")


async def test_index_get_returns_lowest_primary_key(factory):
    async with await _open(factory) as db:
        async with db.transaction("people") as tx:
            by_name = tx.object_store("people").index("by_name")
            assert (await by_name.get("bob"))["id"] == 1
            assert await by_name.get_key("amy") == 2
            assert await by_name.get("zed") is None
            assert await by_name.get_key("zed") is None


async def test_index_get_all_orders_by_index_key_then_primary_key(factory):
    async with await _open(factory) as db:
        async with db.transaction("people") as tx:
            by_name = tx.object_store("people").index("by_name")
            assert _ids(await by_name.get_all()) == [2, 5, 1, 3, 4]
            assert await by_name.get_all_keys() == [2, 5, 1, 3, 4]
            assert _ids(await by_name.get_all("bob")) == [1, 3]
            assert await by_name.get_all_keys(None, 3) == [2, 5, 1]


async def test_index_ranges_and_count(factory):
    async with await _open(factory) as db:
        async with db.transaction("people") as tx:
            by_age = tx.object_store("people").index("by_age")
            assert await by_age.count() == 5
            assert await by_age.count(25) == 2
            assert await by_age.count(KeyRange.bound(25, 41)) == 4
            assert await by_age.get_all_keys(KeyRange.bound(25, 41, True, False)) == [1, 3]
            assert await by_age.get_all_keys(KeyRange.lower_bound(41)) == [3, 5]
            assert await by_age.get_all_keys(KeyRange.upper_bound(30, open=True)) == [2, 4]
            assert (await by_age.get(KeyRange.lower_bound(26)))["id"] == 1


async def test_compound_index(factory):
    async with await _open(factory) as db:
        assert (await db.get_from_index("people", "by_name_age", ["bob", 41]))["id"] == 3
        got = await db.get_all_from_index(
            "people", "by_name_age", KeyRange.bound(["amy"], ["amy", []]))
        assert _ids(got) == [2, 5]


async def test_unique_index_violation_aborts_uncaught(factory):
    async with await _open(factory) as db:
        with raises(pyidb.ConstraintError):
            async with db.transaction("people", "readwrite") as tx:
                store = tx.object_store("people")
                await store.put({"id": 10, "name": "new", "email": "new@x", "age": 1})
                await store.add({"id": 11, "name": "dup", "email": "a@x", "age": 2})
        assert await db.get("people", 10) is None  # the earlier write was rolled back
        assert await db.count("people") == 5


async def test_unique_index_violation_caught_continues(factory):
    async with await _open(factory) as db:
        async with db.transaction("people", "readwrite") as tx:
            store = tx.object_store("people")
            await store.put({"id": 10, "name": "new", "email": "new@x", "age": 1})
            try:
                await store.put({"id": 11, "name": "dup", "email": "b@x", "age": 2})
            except pyidb.ConstraintError as e:
                assert e.name == "ConstraintError"
            else:
                raise AssertionError("the duplicate email was accepted")
            await store.put({"id": 12, "name": "other", "email": "other@x", "age": 3})
        assert await db.get_all_keys("people") == [1, 2, 3, 4, 5, 10, 12]
        assert await db.get_key("people", 11) is None


async def test_unique_index_allows_updating_same_record(factory):
    async with await _open(factory) as db:
        await db.put("people", {"id": 1, "name": "bobby", "email": "b@x", "age": 31})
        assert (await db.get_from_index("people", "by_email", "b@x"))["name"] == "bobby"
        # the old email is free again once the record moves to a new one
        await db.put("people", {"id": 2, "name": "amy", "email": "new@x", "age": 25})
        await db.add("people", {"id": 9, "name": "zoe", "email": "a@x", "age": 9})
        assert await db.get_key("people", 9) == 9


async def test_multi_entry_index(factory):
    async with await _open(factory) as db:
        async with db.transaction("people") as tx:
            by_tag = tx.object_store("people").index("by_tag")
            # record 1 has "a" twice: one entry; record 5's invalid entries are skipped
            assert await by_tag.get_all_keys("a") == [1, 5]
            assert await by_tag.get_all_keys("b") == [1, 2]
            assert await by_tag.get_all_keys("c") == [3]  # a non-array value is one key
            assert await by_tag.count() == 5  # a, b (1); b (2); c (3); none (4); a (5)
            keys = []
            async for c in by_tag.open_key_cursor():
                keys.append((c.key, c.primary_key))
            assert keys == [("a", 1), ("a", 5), ("b", 1), ("b", 2), ("c", 3)]


async def test_multi_entry_array_elements_that_are_arrays(factory):
    def upgrade(db, old, new, tx):
        db.create_object_store("s", key_path="id").create_index("t", "t", multi_entry=True)

    async with await factory.open(db_name("idx"), 1, upgrade=upgrade) as db:
        await db.put("s", {"id": 1, "t": [[1, 2], 3, [1, 2]]})
        assert await db.count_from_index("s", "t") == 2
        assert await db.count_from_index("s", "t", [1, 2]) == 1


async def test_multi_entry_unique_index(factory):
    def upgrade(db, old, new, tx):
        db.create_object_store("s", key_path="id").create_index(
            "t", "tags", unique=True, multi_entry=True)

    async with await factory.open(db_name("idx"), 1, upgrade=upgrade) as db:
        await db.put("s", {"id": 1, "tags": ["x", "y", "x"]})  # own duplicates are fine
        with raises(pyidb.ConstraintError):
            await db.put("s", {"id": 2, "tags": ["z", "y"]})
        await db.put("s", {"id": 3, "tags": ["z"]})
        assert await db.get_all_keys("s") == [1, 3]


async def test_records_without_index_key_are_not_indexed(factory):
    async with await _open(factory) as db:
        await db.put("people", {"id": 20, "email": "e@x"})  # no name, no age
        await db.put("people", {"id": 21, "name": True, "email": "f@x"})  # name not a key
        await db.put("people", {"id": 22, "name": {"first": "x"}, "email": "g@x"})
        await db.put("people", {"id": 23, "name": ["ok", None], "email": "h@x"})
        assert await db.count("people") == 9
        assert await db.count_from_index("people", "by_name") == 5
        assert await db.count_from_index("people", "by_name_age") == 5


async def test_missing_unique_key_is_not_a_conflict(factory):
    async with await _open(factory) as db:
        await db.put("people", {"id": 30})
        await db.put("people", {"id": 31})
        assert await db.count_from_index("people", "by_email") == 5


async def test_index_follows_updates_and_deletes(factory):
    async with await _open(factory) as db:
        await db.put("people", {"id": 1, "name": "zed", "email": "b@x", "age": 30})
        assert await db.get_all_keys("people") == [1, 2, 3, 4, 5]
        assert _ids(await db.get_all_from_index("people", "by_name", "bob")) == [3]
        assert _ids(await db.get_all_from_index("people", "by_name", "zed")) == [1]
        await db.delete("people", 3)
        assert await db.get_all_from_index("people", "by_name", "bob") == []
        await db.delete("people", KeyRange.bound(1, 2))
        assert await db.count_from_index("people", "by_tag") == 1
        await db.clear("people")
        assert await db.count_from_index("people", "by_age") == 0


async def test_create_index_on_non_empty_store_populates_it(factory):
    name = db_name("idx")

    def v1(db, old, new, tx):
        db.create_object_store("s", key_path="id")

    async with await factory.open(name, 1, upgrade=v1) as db:
        for i, color in enumerate(["red", "blue", "red", None]):
            await db.put("s", {"id": i, "color": color} if color else {"id": i})

    def v2(db, old, new, tx):
        tx.object_store("s").create_index("color", "color")

    async with await factory.open(name, 2, upgrade=v2) as db:
        assert await db.count_from_index("s", "color") == 3
        assert [r["id"] for r in await db.get_all_from_index("s", "color", "red")] == [0, 2]


async def test_create_unique_index_over_duplicates_aborts_upgrade(factory):
    name = db_name("idx")

    def v1(db, old, new, tx):
        db.create_object_store("s", key_path="id")

    async with await factory.open(name, 1, upgrade=v1) as db:
        await db.put("s", {"id": 1, "c": "same"})
        await db.put("s", {"id": 2, "c": "same"})

    def v2(db, old, new, tx):
        tx.object_store("s").create_index("c", "c", unique=True)
        db.create_object_store("other")

    try:
        db = await factory.open(name, 2, upgrade=v2)
    except pyidb.Error as e:
        assert e.name in ("ConstraintError", "AbortError"), e
    else:
        db.close()
        raise AssertionError("open succeeded although the unique index has duplicates")
    async with await factory.open(name) as db:
        assert db.version == 1
        assert db.object_store_names == ["s"]
        async with db.transaction("s") as tx:
            assert tx.object_store("s").index_names == []
        assert await db.count("s") == 2


async def test_create_and_delete_index_errors(factory):
    seen = []

    def upgrade(db, old, new, tx):
        store = db.create_object_store("s")
        store.create_index("i", "a")
        with raises(pyidb.ConstraintError):
            store.create_index("i", "b")
        with raises(pyidb.NotFoundError):
            store.delete_index("nope")
        store.create_index("gone", "g")
        store.delete_index("gone")
        with raises(pyidb.NotFoundError):
            store.index("gone")
        seen.append(store.index_names)

    async with await factory.open(db_name("idx"), 1, upgrade=upgrade) as db:
        assert seen == [["i"]]
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.InvalidStateError):
                store.create_index("late", "x")
            with raises(pyidb.InvalidStateError):
                store.delete_index("i")
            assert store.index_names == ["i"]


async def test_delete_index_in_later_upgrade(factory):
    async with await _open(factory) as db:
        name = db.name

    def v2(db, old, new, tx):
        tx.object_store("people").delete_index("by_name")

    async with await factory.open(name, 2, upgrade=v2) as db:
        async with db.transaction("people") as tx:
            store = tx.object_store("people")
            assert "by_name" not in store.index_names
            with raises(pyidb.NotFoundError):
                store.index("by_name")
            assert await store.index("by_age").count() == 5


async def test_index_cursor_unique_directions(factory):
    async with await _open(factory) as db:
        async with db.transaction("people") as tx:
            by_name = tx.object_store("people").index("by_name")
            got = {}
            for direction in ("next", "nextunique", "prev", "prevunique"):
                got[direction] = [(c.key, c.primary_key)
                                  async for c in by_name.open_cursor(None, direction)]
        assert got["next"] == [("amy", 2), ("amy", 5), ("bob", 1), ("bob", 3), ("cid", 4)]
        assert got["prev"] == [("cid", 4), ("bob", 3), ("bob", 1), ("amy", 5), ("amy", 2)]
        assert got["nextunique"] == [("amy", 2), ("bob", 1), ("cid", 4)]
        # prevunique walks the keys backwards but yields each key's LOWEST primary key
        assert got["prevunique"] == [("cid", 4), ("bob", 1), ("amy", 2)]


async def test_index_on_empty_key_path_indexes_values(factory):
    def upgrade(db, old, new, tx):
        db.create_object_store("s").create_index("self", "")

    async with await factory.open(db_name("idx"), 1, upgrade=upgrade) as db:
        await db.put("s", "b", 1)
        await db.put("s", "a", 2)
        await db.put("s", {"not": "a key"}, 3)
        assert await db.get_all_from_index("s", "self") == ["a", "b"]
        assert await db.get_from_index("s", "self", "b") == "b"
