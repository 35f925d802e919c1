"""Conformance: transactions (spec §2.7 "Transaction", IDBDatabase.transaction()).

Scope and mode checks throw at the call (NotFoundError, InvalidAccessError for an empty scope,
TypeError for a bad mode); readonly transactions over the same store run side by side; readwrite
transactions with overlapping scopes run one after another in creation order.
"""

from __future__ import annotations

import asyncio

import pyidb

from ._support import db_name, raises


def _two_stores(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("b")
    db.create_object_store("a")


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    db = await factory.open(db_name("tx"), 1, upgrade=_two_stores)
    async with db.transaction(["a", "b"], "readwrite") as tx:
        for i in range(10):
            await tx.object_store("a").put(i, i)
            await tx.object_store("b").put(-i, i)
    return db


async def test_transaction_attributes(factory):
    async with await _open(factory) as db:
        tx = db.transaction(["b", "a"], "readwrite")
        assert tx.mode == "readwrite"
        assert tx.object_store_names == ["a", "b"]
        assert tx.db is db
        assert tx.error is None
        store = tx.object_store("a")
        assert store.name == "a" and store.transaction is tx
        await tx.done
        ro = db.transaction("a")
        assert ro.mode == "readonly" and ro.object_store_names == ["a"]
        await ro.done


async def test_durability_option(factory):
    async with await _open(factory) as db:
        for durability in ("default", "strict", "relaxed"):
            async with db.transaction("a", "readwrite", durability=durability) as tx:
                assert tx.durability == durability
                await tx.object_store("a").put(durability, durability)
        assert await db.count("a") == 13
        with raises(pyidb.InvalidArgumentError):
            db.transaction("a", "readwrite", durability="fast")


async def test_duplicate_store_names_in_scope(factory):
    async with await _open(factory) as db:
        tx = db.transaction(["a", "a", "b"])
        assert tx.object_store_names == ["a", "b"]
        await tx.done


async def test_unknown_store_in_scope_is_not_found(factory):
    async with await _open(factory) as db:
        with raises(pyidb.NotFoundError):
            db.transaction("nope")
        with raises(pyidb.NotFoundError):
            db.transaction(["a", "nope"], "readwrite")


async def test_store_outside_scope_is_not_found(factory):
    async with await _open(factory) as db:
        async with db.transaction("a") as tx:
            with raises(pyidb.NotFoundError):
                tx.object_store("b")
            with raises(pyidb.NotFoundError):
                tx.object_store("nope")
            assert await tx.object_store("a").count() == 10


async def test_empty_scope_is_invalid_access(factory):
    async with await _open(factory) as db:
        with raises(pyidb.InvalidAccessError):
            db.transaction([])


async def test_bad_mode_is_type_error(factory):
    async with await _open(factory) as db:
        for mode in ("versionchange", "write", "READONLY", ""):
            with raises(pyidb.InvalidArgumentError) as caught:
                db.transaction("a", mode)
            assert isinstance(caught.value, TypeError)
            assert caught.value.name == "TypeError"


async def test_readonly_rejects_writes(factory):
    async with await _open(factory) as db:
        async with db.transaction("a") as tx:
            store = tx.object_store("a")
            with raises(pyidb.ReadOnlyError):
                store.put(1, 100)
            with raises(pyidb.ReadOnlyError):
                store.add(1, 100)
            with raises(pyidb.ReadOnlyError):
                store.delete(1)
            with raises(pyidb.ReadOnlyError):
                store.clear()
            with raises(pyidb.ReadOnlyError):
                store.put_many([1], [100])
            # the synchronous errors do not abort it: reads go on
            assert await store.get(1) == 1
        assert await db.count("a") == 10


async def test_readonly_transactions_run_side_by_side(factory):
    async with await _open(factory) as db:
        log: list[str] = []

        async def reader(tag: str) -> None:
            async with db.transaction("a") as tx:
                store = tx.object_store("a")
                for i in range(6):
                    assert await store.get(i) == i
                    log.append(tag)

        await asyncio.gather(reader("x"), reader("y"))
        assert sorted(log) == ["x"] * 6 + ["y"] * 6
        # interleaved: y made progress before x finished
        assert log.index("y") < len(log) - 1 - log[::-1].index("x"), log


async def test_readwrite_overlapping_run_in_creation_order(factory):
    async with await _open(factory) as db:
        log: list[str] = []

        async def writer(tag: str, stores: list[str]) -> None:
            async with db.transaction(stores, "readwrite") as tx:
                for i in range(4):
                    store = tx.object_store(stores[0])
                    await store.put(await store.get(i), i)
                    log.append(f"{tag}{i}")
            log.append(f"{tag}-done")

        await asyncio.gather(writer("p", ["a"]), writer("q", ["a", "b"]), writer("r", ["a"]))
        assert log == ["p0", "p1", "p2", "p3", "p-done", "q0", "q1", "q2", "q3", "q-done",
                       "r0", "r1", "r2", "r3", "r-done"]


async def test_readonly_waits_for_earlier_readwrite(factory):
    async with await _open(factory) as db:
        rw = db.transaction("a", "readwrite")
        ro = db.transaction("a")
        read = ro.object_store("a").get(0)  # placed first, but the writer was created first
        write = rw.object_store("a").put("written", 0)
        assert await read == "written"
        assert await write == 0
        await rw.done
        await ro.done


async def test_readwrite_sees_its_own_writes(factory):
    async with await _open(factory) as db:
        async with db.transaction("a", "readwrite") as tx:
            store = tx.object_store("a")
            await store.put("new", 0)
            await store.delete(1)
            assert await store.get(0) == "new"
            assert await store.get(1) is None
            assert await store.count() == 9
            await store.clear()
            assert await store.get_all() == []
        assert await db.count("a") == 0


async def test_writes_invisible_to_other_connection_until_commit(factory):
    async with await _open(factory) as db:
        other = await factory.open(db.name)
        tx = db.transaction("a", "readwrite")
        await tx.object_store("a").put("uncommitted", 0)
        tx.abort()
        assert await other.get("a", 0) == 0
        async with db.transaction("a", "readwrite") as tx:
            await tx.object_store("a").put("committed", 0)
        assert await other.get("a", 0) == "committed"
        other.close()


async def test_transaction_on_closed_connection_is_invalid_state(factory):
    db = await _open(factory)
    db.close()
    with raises(pyidb.InvalidStateError):
        db.transaction("a")
    with raises(pyidb.InvalidStateError):
        await db.get("a", 1)


async def test_async_with_db_closes_it(factory):
    async with await _open(factory) as db:
        assert await db.count("a") == 10
    with raises(pyidb.InvalidStateError):
        db.transaction("a")


async def test_close_lets_running_transaction_finish(factory):
    db = await _open(factory)
    tx = db.transaction("a", "readwrite")
    request = tx.object_store("a").put("last word", 0)
    db.close()
    assert await request == 0
    await tx.done
    async with await factory.open(db.name) as again:
        assert await again.get("a", 0) == "last word"


async def test_transaction_during_upgrade_is_invalid_state(factory):
    seen = []

    def upgrade(db, old, new, tx):
        db.create_object_store("s")
        with raises(pyidb.InvalidStateError):
            db.transaction("s")
        seen.append(tx.mode)
        assert tx.object_store_names == ["s"]

    async with await factory.open(db_name("tx"), 1, upgrade=upgrade) as db:
        assert seen == ["versionchange"]
        assert await db.count("s") == 0


async def test_object_store_after_finish_is_invalid_state(factory):
    async with await _open(factory) as db:
        tx = db.transaction("a")
        await tx.object_store("a").get(0)
        await tx.done
        with raises(pyidb.InvalidStateError):
            tx.object_store("a")


async def test_requests_issued_without_await_still_run(factory):
    async with await _open(factory) as db:
        tx = db.transaction("a", "readwrite")
        store = tx.object_store("a")
        first = store.put("one", 100)
        second = store.put("two", 101)
        await tx.done  # awaiting only the transaction: both requests ran and committed
        assert await first == 100 and await second == 101
        assert await db.get_all("a", pyidb.KeyRange.lower_bound(100)) == ["one", "two"]


async def test_requests_complete_in_order(factory):
    async with await _open(factory) as db:
        async with db.transaction("a", "readwrite") as tx:
            store = tx.object_store("a")
            put = store.put("x", 0)
            get = store.get(0)
            delete = store.delete(0)
            get_after = store.get(0)
            assert await asyncio.gather(put, get, delete, get_after) == [0, "x", None, None]


async def test_delete_object_store_in_later_upgrade(factory):
    async with await _open(factory) as db:
        name = db.name

    def v2(db, old, new, tx):
        db.delete_object_store("a")
        with raises(pyidb.NotFoundError):
            db.delete_object_store("a")
        with raises(pyidb.NotFoundError):
            tx.object_store("a")

    async with await factory.open(name, 2, upgrade=v2) as db:
        assert db.object_store_names == ["b"]
        with raises(pyidb.NotFoundError):
            db.transaction("a")

    def v3(db, old, new, tx):
        db.create_object_store("a")

    async with await factory.open(name, 3, upgrade=v3) as db:
        assert await db.count("a") == 0  # the old records went with the old store


async def test_create_object_store_rules(factory):
    def upgrade(db, old, new, tx):
        store = db.create_object_store("s", key_path="id", auto_increment=True)
        assert (store.name, store.key_path, store.auto_increment) == ("s", "id", True)
        with raises(pyidb.ConstraintError):
            db.create_object_store("s")
        db.create_object_store("B")
        db.create_object_store("a")
        db.create_object_store("")  # the empty name is allowed
        assert db.object_store_names == ["", "B", "a", "s"]

    async with await factory.open(db_name("tx"), 1, upgrade=upgrade) as db:
        assert db.object_store_names == ["", "B", "a", "s"]
        with raises(pyidb.InvalidStateError):
            db.create_object_store("late")
        with raises(pyidb.InvalidStateError):
            db.delete_object_store("s")
