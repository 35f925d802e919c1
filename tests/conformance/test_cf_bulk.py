"""Conformance: pyidb's bulk methods (add_many/put_many/get_many/delete_many: one request each,
all or nothing) and the Database shortcuts that run their own transaction.

A failing record in a bulk write aborts the transaction: nothing of the batch and nothing of the
earlier writes in that transaction remains.
"""

from __future__ import annotations

import pyidb
from pyidb import KeyRange

from ._support import db_name, raises


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("auto", auto_increment=True)
    db.create_object_store("plain")
    store = db.create_object_store("people", key_path="id")
    store.create_index("by_email", "email", unique=True)
    store.create_index("by_age", "age")


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    return await factory.open(db_name("bulk"), 1, upgrade=_schema)


async def test_add_many_with_generator(factory):
    async with await _open(factory) as db:
        async with db.transaction("auto", "readwrite") as tx:
            store = tx.object_store("auto")
            assert await store.add_many(["a", "b", "c"]) == [1, 2, 3]
            assert await store.add_many([]) == []
            assert await store.add("d") == 4
        assert await db.get_all("auto") == ["a", "b", "c", "d"]


async def test_add_many_with_key_path(factory):
    people = [{"id": i, "email": f"{i}@x", "age": 20 + i % 3} for i in range(1, 51)]
    async with await _open(factory) as db:
        async with db.transaction("people", "readwrite") as tx:
            assert await tx.object_store("people").add_many(people) == list(range(1, 51))
        assert await db.count("people") == 50
        assert await db.count_from_index("people", "by_age", 21) == 17
        assert await db.get_from_index("people", "by_email", "7@x") == people[6]


async def test_put_many_with_explicit_keys(factory):
    async with await _open(factory) as db:
        async with db.transaction("plain", "readwrite") as tx:
            store = tx.object_store("plain")
            assert await store.put_many(["x", "y", "z"], ["k1", "k2", 3]) == ["k1", "k2", 3]
            assert await store.put_many(["Y"], ["k2"]) == ["k2"]  # replaces
        assert await db.get_all("plain") == ["z", "x", "Y"]


async def test_put_many_bumps_generator(factory):
    async with await _open(factory) as db:
        async with db.transaction("auto", "readwrite") as tx:
            store = tx.object_store("auto")
            assert await store.put_many(["a", "b"], [10, 20]) == [10, 20]
            assert await store.put_many(["c"]) == [21]


async def test_get_many(factory):
    async with await _open(factory) as db:
        async with db.transaction("plain", "readwrite") as tx:
            await tx.object_store("plain").put_many([{"n": 1}, {"n": 2}], [1, 2])
        async with db.transaction("plain") as tx:
            got = await tx.object_store("plain").get_many([2, 99, 1, 2])
        assert got == [{"n": 2}, None, {"n": 1}, {"n": 2}]
        got[0]["n"] = "changed"  # copies, not shared objects
        assert got[3] == {"n": 2}
        assert await db.get("plain", 2) == {"n": 2}


async def test_delete_many_keys_and_ranges(factory):
    async with await _open(factory) as db:
        async with db.transaction("plain", "readwrite") as tx:
            store = tx.object_store("plain")
            await store.put_many(list(range(10)), list(range(10)))
            assert await store.delete_many([0, KeyRange.bound(3, 5), 9, 42]) is None
            assert await store.get_all_keys() == [1, 2, 6, 7, 8]
        assert await db.get_all_keys("plain") == [1, 2, 6, 7, 8]


async def test_add_many_duplicate_in_batch_aborts_everything(factory):
    async with await _open(factory) as db:
        await db.put("plain", "existing", 0)
        with raises(pyidb.ConstraintError):
            async with db.transaction("plain", "readwrite") as tx:
                store = tx.object_store("plain")
                await store.put("earlier write", 100)
                await store.add_many(["a", "b", "c"], [1, 2, 1])
        assert await db.get_all_keys("plain") == [0]


async def test_add_many_existing_key_aborts_everything(factory):
    async with await _open(factory) as db:
        await db.put("plain", "existing", 2)
        with raises(pyidb.ConstraintError):
            async with db.transaction("plain", "readwrite") as tx:
                await tx.object_store("plain").put("changed", 2)
                await tx.object_store("plain").put("earlier", 50)
                await tx.object_store("plain").add_many(["a", "b", "c"], [1, 2, 3])
        assert await db.get_all("plain") == ["existing"]
        assert await db.get_all_keys("plain") == [2]


async def test_put_many_unique_index_violation_aborts_everything(factory):
    async with await _open(factory) as db:
        await db.put("people", {"id": 1, "email": "a@x"})
        with raises(pyidb.ConstraintError):
            async with db.transaction("people", "readwrite") as tx:
                store = tx.object_store("people")
                await store.put({"id": 7, "email": "g@x"})
                await store.put_many([{"id": 2, "email": "b@x"}, {"id": 3, "email": "a@x"}])
        assert await db.get_all_keys("people") == [1]
        assert await db.count_from_index("people", "by_email") == 1


async def test_bulk_failure_not_awaited_aborts(factory):
    async with await _open(factory) as db:
        tx = db.transaction("plain", "readwrite")
        store = tx.object_store("plain")
        store.put("earlier", 1)
        store.add_many(["a", "b"], [5, 5])
        with raises(pyidb.ConstraintError):
            await tx.done
        assert await db.count("plain") == 0


async def test_bulk_invalid_input_stores_nothing(factory):
    async with await _open(factory) as db:
        with raises(pyidb.DataError):
            async with db.transaction("plain", "readwrite") as tx:
                await tx.object_store("plain").put_many(["a", "b"], [1, True])
        with raises(pyidb.DataError):
            async with db.transaction("people", "readwrite") as tx:
                await tx.object_store("people").add_many([{"id": 1}, {"no id": 2}])
        with raises(pyidb.DataCloneError):
            async with db.transaction("plain", "readwrite") as tx:
                await tx.object_store("plain").put_many(["ok", {1, 2}], [1, 2])
        assert await db.count("plain") == 0
        assert await db.count("people") == 0


async def test_bulk_in_readonly_is_read_only_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("plain") as tx:
            store = tx.object_store("plain")
            with raises(pyidb.ReadOnlyError):
                store.add_many(["a"], [1])
            with raises(pyidb.ReadOnlyError):
                store.delete_many([1])
            assert await store.get_many([1]) == [None]


async def test_bulk_values_are_copies(factory):
    values = [{"n": [1]}, {"n": [2]}]
    async with await _open(factory) as db:
        async with db.transaction("plain", "readwrite") as tx:
            request = tx.object_store("plain").put_many(values, [1, 2])
            values[0]["n"].append("mutated")
            await request
        assert await db.get("plain", 1) == {"n": [1]}


async def test_bulk_keeps_transaction_alive(factory):
    async with await _open(factory) as db:
        async with db.transaction("auto", "readwrite") as tx:
            store = tx.object_store("auto")
            for round_ in range(20):
                keys = await store.add_many([round_] * 5)
                assert await store.get_many(keys) == [round_] * 5
        assert await db.count("auto") == 100


# -- Database shortcuts ---------------------------------------------------------------------
async def test_shortcuts_write_and_read(factory):
    async with await _open(factory) as db:
        assert await db.add("auto", "a") == 1
        assert await db.put("auto", "b") == 2
        assert await db.put("plain", {"v": 1}, "k") == "k"
        assert await db.get("plain", "k") == {"v": 1}
        assert await db.get("plain", "missing") is None
        assert await db.get_key("auto", KeyRange.lower_bound(2)) == 2
        assert await db.get_all("auto") == ["a", "b"]
        assert await db.get_all("auto", KeyRange.lower_bound(2)) == ["b"]
        assert await db.get_all_keys("auto", None, 1) == [1]
        assert await db.count("auto") == 2
        await db.delete("auto", 1)
        assert await db.get_all_keys("auto") == [2]
        await db.clear("auto")
        assert await db.count("auto") == 0


async def test_shortcuts_on_indexes(factory):
    async with await _open(factory) as db:
        for i, age in enumerate([30, 25, 30, 41], start=1):
            await db.put("people", {"id": i, "email": f"{i}@x", "age": age})
        assert (await db.get_from_index("people", "by_age", 30))["id"] == 1
        assert [p["id"] for p in await db.get_all_from_index("people", "by_age", 30)] == [1, 3]
        assert [p["id"] for p in await db.get_all_from_index("people", "by_age")] == [2, 1, 3, 4]
        assert len(await db.get_all_from_index("people", "by_age", None, 2)) == 2
        assert await db.count_from_index("people", "by_age") == 4
        assert await db.count_from_index("people", "by_age", KeyRange.lower_bound(30)) == 3
        assert await db.get_from_index("people", "by_age", 99) is None


async def test_shortcut_errors(factory):
    async with await _open(factory) as db:
        await db.add("plain", "a", 1)
        with raises(pyidb.ConstraintError):
            await db.add("plain", "b", 1)
        with raises(pyidb.NotFoundError):
            await db.get("nope", 1)
        with raises(pyidb.NotFoundError):
            await db.get_from_index("people", "nope", 1)
        with raises(pyidb.DataError):
            await db.put("plain", "no key")
        await db.add("people", {"id": 1, "email": "x"})
        with raises(pyidb.ConstraintError):
            await db.add("people", {"id": 2, "email": "x"})
        assert await db.get_all("plain") == ["a"]
        assert await db.count("people") == 1


async def test_shortcut_write_is_committed_when_it_returns(factory):
    async with await _open(factory) as db:
        await db.put("plain", "durable", 1)
        async with await factory.open(db.name) as other:
            assert await other.get("plain", 1) == "durable"
