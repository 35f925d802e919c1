"""Conformance: a put takes the value, its key and its index keys when it is *called*.

What the caller does to the object afterwards (before the request runs) changes nothing stored,
and indexes created or deleted between the call and the request see the call-time value. (The
engine takes plain values without a copy, as their bytes and index keys: these pin that path
and its fall-back.)
"""

from __future__ import annotations

import pyidb
from pyidb import KeyRange

from ._support import db_name


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("people", key_path="id")
    store.create_index("by_age", "age")
    store.create_index("by_tag", "tags", multi_entry=True)
    store.create_index("by_name_age", ["name", "age"])


async def test_put_many_then_mutating_the_objects_changes_nothing_stored(factory):
    people = [{"id": i, "name": f"p{i}", "age": 20 + i, "tags": ["a", f"t{i}"]} for i in range(3)]
    async with await factory.open(db_name("calltime"), 1, upgrade=_schema) as db:
        async with db.transaction("people", "readwrite") as tx:
            store = tx.object_store("people")
            request = store.put_many(people)
            one = store.put({"id": 9, "name": "solo", "age": 50, "tags": ["z"]})
            for p in people:
                p["id"] += 100
                p["age"] = 99
                p["tags"].append("late")
                p["name"] = "changed"
            assert await request == [0, 1, 2]
            assert await one == 9
        assert [p["name"] for p in await db.get_all("people")] == ["p0", "p1", "p2", "solo"]
        async with db.transaction("people") as tx:
            store = tx.object_store("people")
            assert await store.index("by_age").get_all_keys(KeyRange.bound(20, 22)) == [0, 1, 2]
            assert await store.index("by_age").count(99) == 0
            assert await store.index("by_tag").get_all_keys("a") == [0, 1, 2]
            assert await store.index("by_tag").count("late") == 0
            assert await store.index("by_name_age").get_key(["p1", 21]) == 1
            assert await store.get(0) == {"id": 0, "name": "p0", "age": 20, "tags": ["a", "t0"]}


async def test_an_index_made_or_deleted_after_a_queued_put_sees_the_call_time_value(factory):
    def first(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        db.create_object_store("s", key_path="id").create_index("old", "x")

    name = db_name("calltime-upgrade")
    async with await factory.open(name, 1, upgrade=first):
        pass

    def second(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        store = tx.object_store("s")
        value = {"id": 1, "x": 5, "y": "b"}
        store.put(value)  # queued; runs after the index changes below
        store.put_many([{"id": 2, "x": 6, "y": "a"}])
        value["y"] = "late"
        store.delete_index("old")
        store.create_index("new", "y")

    async with await factory.open(name, 2, upgrade=second) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            assert store.index_names == ["new"]
            assert await store.index("new").get_all_keys() == [2, 1]  # "a" < "b"
            assert await store.index("new").count("late") == 0
            assert await store.get(1) == {"id": 1, "x": 5, "y": "b"}
