"""Conformance: cursors (spec §2.10 "Cursor", "iterate a cursor").

Four directions over stores and indexes, ranges, continue_(key), continue_primary_key, advance,
update/delete through the cursor, key cursors without values, and ``async for`` that moves the
cursor unless the loop body already did.
"""

from __future__ import annotations

import pyidb
from pyidb import KeyRange

from ._support import db_name, raises

# primary key -> (group, n); group has duplicates for the index
ROWS = {1: "b", 2: "a", 3: "b", 4: "c", 5: "a", 6: "b"}


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("s", key_path="id")
    store.create_index("g", "g")


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    db = await factory.open(db_name("cur"), 1, upgrade=_schema)
    async with db.transaction("s", "readwrite") as tx:
        for pk, group in ROWS.items():
            await tx.object_store("s").put({"id": pk, "g": group})
    return db


async def _walk(request) -> list[tuple]:
    return [(c.key, c.primary_key) async for c in request]


async def test_store_cursor_four_directions(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            forward = [(k, k) for k in range(1, 7)]
            assert await _walk(store.open_cursor()) == forward
            assert await _walk(store.open_cursor(None, "nextunique")) == forward
            assert await _walk(store.open_cursor(None, "prev")) == forward[::-1]
            assert await _walk(store.open_cursor(None, "prevunique")) == forward[::-1]


async def test_index_cursor_four_directions(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            g = tx.object_store("s").index("g")
            assert await _walk(g.open_cursor()) == [
                ("a", 2), ("a", 5), ("b", 1), ("b", 3), ("b", 6), ("c", 4)]
            assert await _walk(g.open_cursor(None, "prev")) == [
                ("c", 4), ("b", 6), ("b", 3), ("b", 1), ("a", 5), ("a", 2)]
            assert await _walk(g.open_cursor(None, "nextunique")) == [("a", 2), ("b", 1), ("c", 4)]
            assert await _walk(g.open_cursor(None, "prevunique")) == [("c", 4), ("b", 1), ("a", 2)]
            assert await _walk(g.open_key_cursor("b", "prev")) == [("b", 6), ("b", 3), ("b", 1)]


async def test_cursor_attributes(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            cursor = await store.open_cursor(None, "prev")
            assert (cursor.key, cursor.primary_key, cursor.value) == (6, 6, {"id": 6, "g": "b"})
            assert cursor.direction == "prev"
            assert cursor.source.name == "s"
            index_cursor = await store.index("g").open_cursor()
            assert index_cursor.source.name == "g"
            assert index_cursor.value == {"id": 2, "g": "a"}


async def test_cursor_over_ranges(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            assert [k for k, _ in await _walk(store.open_cursor(KeyRange.bound(2, 4)))] == [2, 3, 4]
            assert [k for k, _ in await _walk(
                store.open_cursor(KeyRange.bound(2, 4, True, True), "prev"))] == [3]
            assert await _walk(store.open_cursor(5)) == [(5, 5)]
            assert await store.open_cursor(KeyRange.lower_bound(7)) is None
            assert await store.open_key_cursor(42) is None
            g = store.index("g")
            assert await _walk(g.open_cursor(KeyRange.bound("a", "b", True))) == [
                ("b", 1), ("b", 3), ("b", 6)]
            assert await _walk(g.open_cursor(KeyRange.upper_bound("b", True), "prevunique")) == [
                ("a", 2)]


async def test_empty_store_cursor_is_none(factory):
    async with await factory.open(db_name("cur"), 1, upgrade=_schema) as db:
        async with db.transaction("s") as tx:
            assert await tx.object_store("s").open_cursor() is None
            assert [c async for c in tx.object_store("s").index("g").open_cursor()] == []


async def test_continue_to_key(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            cursor = await store.open_cursor()
            cursor = await cursor.continue_(4)
            assert cursor.key == 4
            cursor = await cursor.continue_(4.5)
            assert cursor.key == 5
            assert await cursor.continue_(100) is None

            back = await store.open_cursor(None, "prev")
            back = await back.continue_(2.5)
            assert back.key == 2
            g = await store.index("g").open_cursor()
            g = await g.continue_("b")
            assert (g.key, g.primary_key) == ("b", 1)


async def test_continue_to_key_in_wrong_direction_is_data_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            cursor = await (await store.open_cursor()).continue_(3)
            with raises(pyidb.DataError):
                cursor.continue_(3)
            with raises(pyidb.DataError):
                cursor.continue_(1)
            with raises(pyidb.DataError):
                cursor.continue_({"bad": "key"})
            back = await store.open_cursor(None, "prev")
            with raises(pyidb.DataError):
                back.continue_(6)
            assert (await back.continue_(5)).key == 5  # the cursor still works


async def test_continue_primary_key(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            g = tx.object_store("s").index("g")
            cursor = await g.open_cursor()
            cursor = await cursor.continue_primary_key("b", 3)
            assert (cursor.key, cursor.primary_key) == ("b", 3)
            cursor = await cursor.continue_primary_key("b", 4)
            assert (cursor.key, cursor.primary_key) == ("b", 6)
            cursor = await cursor.continue_primary_key("b", 7)
            assert (cursor.key, cursor.primary_key) == ("c", 4)
            assert await cursor.continue_primary_key("c", 5) is None
            back = await g.open_cursor(None, "prev")
            back = await back.continue_primary_key("b", 2)
            assert (back.key, back.primary_key) == ("b", 1)


async def test_continue_primary_key_errors(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            with raises(pyidb.InvalidAccessError):
                (await store.open_cursor()).continue_primary_key(2, 2)
            unique = await store.index("g").open_cursor(None, "nextunique")
            with raises(pyidb.InvalidAccessError):
                unique.continue_primary_key("b", 1)
            cursor = await (await store.index("g").open_cursor()).continue_("b")  # at ("b", 1)
            with raises(pyidb.DataError):
                cursor.continue_primary_key("a", 9)
            with raises(pyidb.DataError):
                cursor.continue_primary_key("b", 1)
            with raises(pyidb.DataError):
                cursor.continue_primary_key("b", True)


async def test_advance(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            cursor = await store.open_cursor()
            cursor = await cursor.advance(2)
            assert cursor.key == 3
            cursor = await cursor.advance(3)
            assert cursor.key == 6
            assert await cursor.advance(1) is None
            g = await store.index("g").open_cursor(None, "nextunique")
            assert (await g.advance(2)).key == "c"
            for bad in (0, -1):
                fresh = await store.open_cursor()
                with raises(pyidb.InvalidArgumentError):
                    fresh.advance(bad)


async def test_moving_twice_without_waiting_is_invalid_state(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            cursor = await tx.object_store("s").open_cursor()
            moving = cursor.continue_()
            with raises(pyidb.InvalidStateError):
                cursor.continue_()
            with raises(pyidb.InvalidStateError):
                cursor.advance(1)
            assert (await moving).key == 2


async def test_cursor_update(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            async for cursor in tx.object_store("s").open_cursor():
                if cursor.value["g"] == "b":
                    assert await cursor.update({**cursor.value, "g": "B"}) == cursor.primary_key
        assert await db.count_from_index("s", "g", "B") == 3
        assert await db.count_from_index("s", "g", "b") == 0
        assert (await db.get("s", 1)) == {"id": 1, "g": "B"}


async def test_cursor_update_changing_key_path_is_data_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            cursor = await tx.object_store("s").open_cursor()
            with raises(pyidb.DataError):
                cursor.update({"id": 99, "g": "x"})
            with raises(pyidb.DataCloneError):
                cursor.update({"id": 1, "g": {1, 2}})
            await cursor.update({"id": 1, "g": "same key, new value"})
        assert await db.get("s", 99) is None
        assert await db.get("s", 1) == {"id": 1, "g": "same key, new value"}


async def test_cursor_update_out_of_line_store(factory):
    def upgrade(db, old, new, tx):
        db.create_object_store("o")

    async with await factory.open(db_name("cur"), 1, upgrade=upgrade) as db:
        await db.put("o", "old", "k")
        async with db.transaction("o", "readwrite") as tx:
            cursor = await tx.object_store("o").open_cursor()
            assert await cursor.update("new") == "k"
        assert await db.get_all("o") == ["new"]


async def test_cursor_delete(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            async for cursor in tx.object_store("s").index("g").open_cursor("b"):
                assert await cursor.delete() is None
        assert await db.get_all_keys("s") == [2, 4, 5]
        assert await db.count_from_index("s", "g") == 3


async def test_cursor_writes_in_readonly_are_read_only_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            cursor = await tx.object_store("s").open_cursor()
            with raises(pyidb.ReadOnlyError):
                cursor.update({"id": 1, "g": "z"})
            with raises(pyidb.ReadOnlyError):
                cursor.delete()
            assert (await cursor.continue_()).key == 2
        assert await db.get("s", 1) == {"id": 1, "g": "b"}


async def test_key_cursor_has_no_value(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            cursor = await store.open_key_cursor()
            assert (cursor.key, cursor.primary_key) == (1, 1)
            assert not hasattr(cursor, "value")
            with raises(pyidb.InvalidStateError):
                cursor.update({"id": 1})
            with raises(pyidb.InvalidStateError):
                cursor.delete()  # a key cursor has no record to write through
            index_cursor = await store.index("g").open_key_cursor(None, "prev")
            assert (index_cursor.key, index_cursor.primary_key) == ("c", 4)
            assert not hasattr(index_cursor, "value")
        assert await db.count("s") == 6
        # like JS, where a key cursor is an IDBCursor but not an IDBCursorWithValue
        assert not isinstance(cursor, pyidb.CursorWithValue)
        assert not isinstance(index_cursor, pyidb.CursorWithValue)


async def test_async_for_without_moving(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            seen = [c.value["g"] async for c in tx.object_store("s").open_cursor()]
        assert seen == ["b", "a", "b", "c", "a", "b"]


async def test_async_for_with_moving_in_body(factory):
    async with await _open(factory) as db:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            advanced = []
            async for cursor in store.open_cursor():
                advanced.append(cursor.key)
                cursor.advance(2)  # the loop must not move it again
            assert advanced == [1, 3, 5]
            jumped = []
            async for cursor in store.open_cursor():
                jumped.append(cursor.key)
                if cursor.key == 2:
                    cursor.continue_(5)
            assert jumped == [1, 2, 5, 6]
            mixed = []
            async for cursor in store.open_cursor():
                mixed.append(cursor.key)
                if cursor.key % 2:
                    await cursor.continue_()  # awaited inside the body
            assert mixed == [1, 2, 3, 4, 5, 6]


async def test_async_for_break_then_more_requests(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            async for cursor in store.open_cursor():
                if cursor.key == 3:
                    break
            await store.put({"id": 10, "g": "z"})
        assert await db.get("s", 10) == {"id": 10, "g": "z"}


async def test_cursor_sees_records_added_ahead(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            seen = []
            async for cursor in store.open_cursor():
                seen.append(cursor.key)
                if cursor.key == 2:
                    await store.put({"id": 100, "g": "new"})
                    await store.put({"id": 0, "g": "behind"})
                    await store.delete(3)
        assert seen == [1, 2, 4, 5, 6, 100]


async def test_cursor_value_is_a_copy(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            cursor = await tx.object_store("s").open_cursor()
            cursor.value["g"] = "mutated locally"
            assert (await tx.object_store("s").get(1))["g"] == "b"
        assert await db.get("s", 1) == {"id": 1, "g": "b"}
