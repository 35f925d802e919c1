"""Conformance: aborts and transaction lifetime, exactly as browsers behave.

A transaction stays active while the code runs inside a request's completion (so awaited
request chains work), and auto-commits as soon as control goes back to the event loop with no
request pending (so ``await asyncio.sleep(0)`` ends it). Aborts roll back every change; requests
on a finished transaction raise TransactionInactiveError; commit()/abort() twice InvalidStateError.
"""

from __future__ import annotations

import asyncio

import pyidb

from ._support import db_name, raises


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")
    db.create_object_store("t")


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    db = await factory.open(db_name("life"), 1, upgrade=_schema)
    async with db.transaction(["s", "t"], "readwrite") as tx:
        for i in range(5):
            await tx.object_store("s").put(f"s{i}", i)
            await tx.object_store("t").put(f"t{i}", i)
    return db


# -- aborts -----------------------------------------------------------------------------------
async def test_explicit_abort_rolls_back_puts_deletes_clears(factory):
    async with await _open(factory) as db:
        tx = db.transaction(["s", "t"], "readwrite")
        s, t = tx.object_store("s"), tx.object_store("t")
        await s.put("changed", 0)
        await s.add("new", 99)
        await s.delete(1)
        await t.clear()
        assert await t.count() == 0
        tx.abort()
        with raises(pyidb.AbortError):
            await tx.done
        assert tx.error is None  # an explicit abort has no error
        assert await db.get_all("s") == ["s0", "s1", "s2", "s3", "s4"]
        assert await db.count("t") == 5


async def test_abort_inside_async_with_is_not_an_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            await tx.object_store("s").put("changed", 0)
            tx.abort()
        assert await db.get("s", 0) == "s0"


async def test_exception_in_async_with_aborts_and_reraises(factory):
    class Stop(Exception):
        pass

    async with await _open(factory) as db:
        with raises(Stop):
            async with db.transaction("s", "readwrite") as tx:
                await tx.object_store("s").put("changed", 0)
                await tx.object_store("s").delete(2)
                raise Stop("changed my mind")
        with raises(pyidb.AbortError):
            await tx.done
        assert await db.get("s", 0) == "s0"
        assert await db.get("s", 2) == "s2"


async def test_failed_request_aborts_uncaught(factory):
    async with await _open(factory) as db:
        with raises(pyidb.ConstraintError):
            async with db.transaction("s", "readwrite") as tx:
                await tx.object_store("s").put("changed", 0)
                await tx.object_store("s").add("duplicate", 1)
                raise AssertionError("not reached")
        assert await db.get("s", 0) == "s0"


async def test_failed_request_not_awaited_aborts_with_its_error(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        store = tx.object_store("s")
        store.put("changed", 0)
        store.add("duplicate", 1)  # nobody awaits it: it aborts the transaction
        store.put("after", 50)
        with raises(pyidb.ConstraintError):
            await tx.done
        assert tx.error is not None and tx.error.name == "ConstraintError"
        assert await db.get("s", 0) == "s0"
        assert await db.get("s", 50) is None


async def test_failed_request_caught_continues(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("changed", 0)
            with raises(pyidb.ConstraintError):
                await store.add("duplicate", 1)
            await store.put("after", 50)
        assert tx.error is None
        assert await db.get("s", 0) == "changed"
        assert await db.get("s", 50) == "after"


async def test_error_of_transaction_aborted_by_request(factory):
    async with await _open(factory) as db:
        with raises(pyidb.ConstraintError):
            async with db.transaction("s", "readwrite") as tx:
                await tx.object_store("s").add("duplicate", 1)
        assert tx.error is not None and tx.error.name == "ConstraintError"
        with raises(pyidb.ConstraintError):
            await tx.done


async def test_pending_requests_fail_with_abort_error(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        first = tx.object_store("s").put("x", 10)
        second = tx.object_store("s").get(10)
        tx.abort()
        with raises(pyidb.AbortError):
            await first
        with raises(pyidb.AbortError):
            await second
        assert await db.get("s", 10) is None


# -- lifetime -----------------------------------------------------------------------------------
async def test_many_awaited_read_modify_writes_in_one_transaction(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put(0, "counter")
            for _ in range(200):
                value = await store.get("counter")
                await store.put(value + 1, "counter")
        assert await db.get("s", "counter") == 200


async def test_awaited_chain_across_two_stores(factory):
    async with await _open(factory) as db:
        async with db.transaction(["s", "t"], "readwrite") as tx:
            s, t = tx.object_store("s"), tx.object_store("t")
            for i in range(5):
                await t.put(await s.get(i) + "!", i)
        assert await db.get_all("t") == ["s0!", "s1!", "s2!", "s3!", "s4!"]


async def test_sleep_inside_transaction_lets_it_commit(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("before sleep", 0)
            await asyncio.sleep(0)  # not a request: the transaction commits meanwhile
            with raises(pyidb.TransactionInactiveError):
                store.put("after sleep", 1)
            with raises(pyidb.TransactionInactiveError):
                store.get(0)
        await tx.done
        assert await db.get("s", 0) == "before sleep"  # committed, not rolled back
        assert await db.get("s", 1) == "s1"


async def test_inactive_error_escaping_async_with_after_auto_commit(factory):
    """The request's TransactionInactiveError is what the block raises, not a failed abort.

    By the time the error leaves the block the browser has finished the transaction (it
    committed during the sleep): leaving the block must not try to abort it.
    """
    async with await _open(factory) as db:
        with raises(pyidb.TransactionInactiveError) as caught:
            async with db.transaction("s", "readwrite") as tx:
                store = tx.object_store("s")
                await store.put("before sleep", 0)
                await asyncio.sleep(0)
                await store.put("after sleep", 1)
        assert caught.value.__context__ is None, repr(caught.value.__context__)
        await tx.done
        assert tx.error is None
        assert await db.get("s", 0) == "before sleep"
        assert await db.get("s", 1) == "s1"


async def test_done_resolves_after_commit(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        tx.object_store("s").put("v", 100)
        assert await tx.done is None
        assert tx.error is None
        async with await factory.open(db.name) as other:
            assert await other.get("s", 100) == "v"


async def test_explicit_commit(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        store = tx.object_store("s")
        request = store.put("v", 100)
        tx.commit()
        with raises(pyidb.TransactionInactiveError):
            store.put("too late", 101)
        assert await request == 100
        await tx.done
        assert await db.get("s", 100) == "v"
        assert await db.get("s", 101) is None


async def test_requests_after_commit_or_abort_are_inactive(factory):
    async with await _open(factory) as db:
        committed = db.transaction("s", "readwrite")
        store = committed.object_store("s")
        await store.get(0)
        committed.commit()
        with raises(pyidb.TransactionInactiveError):
            store.get(0)
        await committed.done
        with raises(pyidb.TransactionInactiveError):
            store.count()

        aborted = db.transaction("s", "readwrite")
        store = aborted.object_store("s")
        aborted.abort()
        with raises(pyidb.TransactionInactiveError):
            store.put("x", 1)
        with raises(pyidb.TransactionInactiveError):
            store.get(1)


async def test_commit_and_abort_twice_are_invalid_state(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        tx.commit()
        with raises(pyidb.InvalidStateError):
            tx.commit()
        with raises(pyidb.InvalidStateError):
            tx.abort()
        await tx.done
        with raises(pyidb.InvalidStateError):
            tx.abort()

        tx = db.transaction("s", "readwrite")
        tx.abort()
        with raises(pyidb.InvalidStateError):
            tx.abort()
        with raises(pyidb.InvalidStateError):
            tx.commit()
        with raises(pyidb.AbortError):
            await tx.done


async def test_commit_after_auto_commit_is_invalid_state(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        await tx.object_store("s").put("a", 0)
        await asyncio.sleep(0)
        with raises(pyidb.InvalidStateError):
            tx.commit()  # already finished by auto-commit
        await tx.done
        assert await db.get("s", 0) == "a"


async def test_transaction_without_requests_commits(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        await tx.done
        assert tx.error is None
        async with db.transaction("s") as tx2:
            pass
        await tx2.done


async def test_gather_of_issued_requests(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s")
        store = tx.object_store("s")
        results = await asyncio.gather(store.get(0), store.get(1), store.count())
        assert results == ["s0", "s1", 5]
        await tx.done


async def test_cursor_after_commit_is_inactive(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s")
        cursor = await tx.object_store("s").open_cursor()
        assert cursor.key == 0
        await tx.done
        with raises(pyidb.TransactionInactiveError):
            cursor.continue_()


async def test_write_after_failed_sync_request_commits(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.DataError):
                store.put("bad key", {"no": "dicts"})
            await store.put("good", 7)
        assert await db.get("s", 7) == "good"


async def test_abort_discards_requests_not_yet_run(factory):
    async with await _open(factory) as db:
        tx = db.transaction("s", "readwrite")
        store = tx.object_store("s")
        writes = [store.put(f"n{i}", 100 + i) for i in range(20)]
        tx.abort()
        for w in writes:
            with raises(pyidb.AbortError):
                await w
        assert await db.count("s") == 5


async def test_upgrade_transaction_stays_alive_across_awaits(factory):
    async def upgrade(db, old, new, tx):
        store = db.create_object_store("s")
        for i in range(50):
            await store.put(i, i)
            assert await store.get(i) == i

    async with await factory.open(db_name("life"), 1, upgrade=upgrade) as db:
        assert await db.count("s") == 50
