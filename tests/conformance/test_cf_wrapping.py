"""Conformance: ``pyidb.wrap`` puts every operation through handlers, on every backend.

A handler sees each call as a :class:`pyidb.Operation` and may observe it, rewrite it (database
name prefixes) or veto it (a store it hides). Run by every runner, so it holds on the engine and on
the browser's IndexedDB alike.
"""

from __future__ import annotations

import dataclasses

import pyidb
from pyidb import Kind

from ._support import db_name, raises


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("notes", key_path="id")
    store.create_index("by_tag", "tag")
    db.create_object_store("secret")
    db.create_object_store("outbox", auto_increment=True)


async def test_every_write_of_a_transaction_passes_the_handler(factory):
    writes: list[tuple[Kind, str | None]] = []

    def count_writes(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
        if op.is_write:
            writes.append((op.kind, op.store))
        return proceed(op)

    f = pyidb.wrap(factory, count_writes)
    async with await f.open(db_name("wrap"), 1, upgrade=_schema) as db:
        async with db.transaction(["notes", "secret"], "readwrite") as tx:
            notes = tx.object_store("notes")
            await notes.add({"id": 1, "tag": "a"})
            await notes.put({"id": 2, "tag": "b"})
            await notes.put_many([{"id": 3, "tag": "a"}, {"id": 4, "tag": "b"}])
            await notes.add_many([{"id": 5, "tag": "c"}])
            await tx.object_store("secret").put("x", "k")
            async for cursor in notes.index("by_tag").open_cursor("a"):
                await cursor.update({**cursor.value, "seen": True})
            cursor = await notes.open_cursor(2)
            await cursor.delete()
            await notes.delete(5)
            await notes.delete_many([4])
            await tx.object_store("secret").clear()
        await db.put("notes", {"id": 9, "tag": "z"})  # a shortcut runs its own transaction
        assert await db.get_all_keys("notes") == [1, 3, 9]
        assert (await db.get("notes", 3))["seen"] is True
    assert writes == [
        (Kind.ADD, "notes"), (Kind.PUT, "notes"), (Kind.PUT_MANY, "notes"),
        (Kind.ADD_MANY, "notes"), (Kind.PUT, "secret"),
        (Kind.CURSOR_UPDATE, "notes"), (Kind.CURSOR_UPDATE, "notes"),
        (Kind.CURSOR_DELETE, "notes"), (Kind.DELETE, "notes"), (Kind.DELETE_MANY, "notes"),
        (Kind.CLEAR, "secret"), (Kind.PUT, "notes"),
    ]


async def test_a_veto_makes_a_store_invisible(factory):
    def hide_secret(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
        if op.kind is Kind.OBJECT_STORE_NAMES:
            return [n for n in proceed(op) if n != "secret"]
        names = [op.store_names] if isinstance(op.store_names, str) else op.store_names or []
        if op.store == "secret" or "secret" in names:
            raise pyidb.NotFoundError("no object store named 'secret'")
        return proceed(op)

    name = db_name("veto")
    async with await factory.open(name, 1, upgrade=_schema) as db:
        await db.put("secret", "hidden", "k")
    f = pyidb.wrap(factory, hide_secret)
    async with await f.open(name) as db:
        assert db.object_store_names == ["notes", "outbox"]
        with raises(pyidb.NotFoundError):
            db.transaction("secret")
        with raises(pyidb.NotFoundError):
            db.transaction(["notes", "secret"], "readwrite")
        with raises(pyidb.NotFoundError):
            await db.get("secret", "k")
        tx = db.transaction(["notes", "outbox"])
        assert tx.object_store_names == ["notes", "outbox"]
        with raises(pyidb.NotFoundError):
            tx.object_store("secret")
        assert await tx.object_store("notes").count() == 0
    async with await factory.open(name) as db:  # the bare factory still sees it
        assert await db.get("secret", "k") == "hidden"


async def test_a_handler_can_prefix_database_names(factory):
    prefix = db_name("tenant") + "/"

    def scoped(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
        if op.kind in (Kind.OPEN, Kind.DELETE_DATABASE):
            return proceed(dataclasses.replace(op, database=prefix + op.database))
        return proceed(op)

    f = pyidb.wrap(factory, scoped)
    async with await f.open("app", 1, upgrade=_schema) as db:
        assert db.name == "app"  # as the program named it
        await db.put("notes", {"id": 1})
    async with await factory.open(prefix + "app") as db:
        assert await db.get_all_keys("notes") == [1]
    await f.delete_database("app")
    assert prefix + "app" not in [d["name"] for d in await factory.databases()]


async def test_a_handler_writes_an_outbox_in_the_same_transaction(factory):
    def outbox(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
        if op.kind is Kind.TRANSACTION and op.mode == "readwrite":
            names = [op.store_names] if isinstance(op.store_names, str) else list(op.store_names)
            op = dataclasses.replace(op, store_names=[*names, "outbox"])
        result = proceed(op)
        if op.is_write and op.store != "outbox":
            # the backend's transaction: this request bypasses the handlers, same transaction
            op.transaction.object_store("outbox").add([op.kind.value, op.store])
        return result

    f = pyidb.wrap(factory, outbox)
    async with await f.open(db_name("outbox"), 1, upgrade=_schema) as db:
        await db.put("notes", {"id": 1})
        try:
            async with db.transaction("notes", "readwrite") as tx:
                await tx.object_store("notes").put({"id": 2})
                raise RuntimeError("undo it")
        except RuntimeError:
            pass
        assert await db.get_all("outbox") == [["put", "notes"]]  # not the aborted one
        assert await db.get_all_keys("notes") == [1]


async def test_upgrade_and_cursors_hand_out_wrapped_objects(factory):
    seen: list[Kind] = []

    def record(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
        seen.append(op.kind)
        return proceed(op)

    f = pyidb.wrap(factory, record)
    upgrade_db: list[pyidb.Database] = []

    def upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        upgrade_db.append(db)
        _schema(db, old, new, tx)
        assert tx.db is db

    db = await f.open(db_name("objects"), 1, upgrade=upgrade)
    try:
        assert upgrade_db == [db]
        assert {Kind.OPEN, Kind.CREATE_OBJECT_STORE, Kind.CREATE_INDEX} <= set(seen)
        async with db.transaction("notes", "readwrite") as tx:
            store = tx.object_store("notes")
            assert tx.object_store("notes") is store and store.transaction is tx
            await store.put_many([{"id": i, "tag": "t"} for i in range(3)])
            index = store.index("by_tag")
            assert index.object_store is store
            keys = []
            cursor = await index.open_key_cursor()
            while cursor is not None:
                assert cursor.source is index
                keys.append(cursor.primary_key)
                cursor = await cursor.continue_()
            assert keys == [0, 1, 2]
            cursor = await store.open_cursor()
            assert await cursor.advance(2) is cursor and cursor.key == 2
        assert seen.count(Kind.CURSOR_MOVE) == 4
    finally:
        db.close()
    assert seen[-1] is Kind.CLOSE


async def test_get_all_records_and_directions_pass_the_handler(factory):
    seen: list[tuple[Kind, object, object, object, str | None]] = []

    def newest_first(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
        if op.kind in (Kind.GET_ALL, Kind.GET_ALL_KEYS, Kind.GET_ALL_RECORDS):
            seen.append((op.kind, op.query, op.count, op.direction, op.index))
            if op.direction == "next":  # a rewrite: every listing newest first
                op = dataclasses.replace(op, direction="prev")
        return proceed(op)

    f = pyidb.wrap(factory, newest_first)
    async with await f.open(db_name("wrap"), 1, upgrade=_schema) as db:
        await db.put("notes", {"id": 1, "tag": "a"})
        await db.put("notes", {"id": 2, "tag": "a"})
        records = await db.get_all_records("notes", None, 5)
        assert records == [pyidb.Record(2, 2, {"id": 2, "tag": "a"}),
                           pyidb.Record(1, 1, {"id": 1, "tag": "a"})]
        assert await db.get_all_keys("notes") == [2, 1]
        tx = db.transaction("notes")
        index = tx.object_store("notes").index("by_tag")
        assert await index.get_all("a", 1, "nextunique") == [{"id": 1, "tag": "a"}]
        assert [r.primary_key for r in await index.get_all_records("a")] == [2, 1]
        with raises(pyidb.InvalidArgumentError):  # the backend still checks the arguments
            index.get_all_records(None, -1)
    assert seen == [
        (Kind.GET_ALL_RECORDS, None, 5, "next", None), (Kind.GET_ALL_KEYS, None, None, "next", None),
        (Kind.GET_ALL, "a", 1, "nextunique", "by_tag"), (Kind.GET_ALL_RECORDS, "a", None, "next", "by_tag"),
        (Kind.GET_ALL_RECORDS, None, -1, "next", "by_tag"),
    ]
