"""CPython-only: engine transaction scheduling, task cancellation and lifetime bookkeeping.

Runs on the ``factory`` fixture (memory and SQLite engines). The leak test reads internal
attributes (``factory.scheduler._unfinished``, ``db.transactions``) because no public API
exposes them: it is white-box on purpose, and says so.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

import pyidb


def _two_stores(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")
    db.create_object_store("t")


async def _open(factory: pyidb.Factory, name: str = "sched") -> pyidb.Database:
    return await factory.open(name, 1, upgrade=_two_stores)


async def _assert_idle(factory: pyidb.Factory, *dbs: pyidb.Database) -> None:
    """White-box: nothing left in the scheduler or in the connections' transaction sets.

    A shortcut such as ``await db.get(...)`` returns before its transaction commits (on the
    next loop turns), so let the loop run a few turns first."""
    for _ in range(5):
        await asyncio.sleep(0)
    assert factory.scheduler._unfinished == []
    for db in dbs:
        assert db.transactions == set()


# -- scheduling order ------------------------------------------------------------------------
async def test_readwrite_created_during_another_readwrite_waits_and_sees_its_writes(factory):
    db = await _open(factory)
    events: list[tuple[str, int | None]] = []
    first_running = asyncio.Event()

    async def first() -> None:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for i in range(30):
                await store.put(i, "k")
                events.append(("w", i))
                if i == 0:
                    first_running.set()

    async def second() -> int:
        await first_running.wait()  # created while the first one is running
        async with db.transaction("s", "readwrite") as tx:
            value = await tx.object_store("s").get("k")
            events.append(("r", value))
            await tx.object_store("s").put(value + 100, "k")
        return value

    _, seen = await asyncio.gather(first(), second())
    assert seen == 29
    assert events == [("w", i) for i in range(30)] + [("r", 29)]
    assert await db.get("s", "k") == 129
    await _assert_idle(factory, db)
    db.close()


async def test_transactions_on_one_store_run_in_creation_order(factory):
    db = await _open(factory)
    # All created in one go; none awaited until the end. Each later one must see the earlier.
    tx1 = db.transaction("s", "readwrite")
    p1 = tx1.object_store("s").put("one", "k")
    ro = db.transaction("s")  # readonly after a readwrite on the same store: sees its write
    r1 = ro.object_store("s").get("k")
    tx2 = db.transaction(["s", "t"], "readwrite")
    p2 = tx2.object_store("s").put("two", "k")
    ro2 = db.transaction("s")
    r2 = ro2.object_store("s").get("k")
    other = db.transaction("t")  # disjoint scope from tx1: no need to wait for it
    c = other.object_store("t").count()
    assert await c == 0
    assert (await p1, await r1, await p2, await r2) == ("k", "one", "k", "two")
    for tx in (tx1, ro, tx2, ro2, other):
        await tx.done
    await _assert_idle(factory, db)
    db.close()


async def test_readonly_after_a_committed_readwrite_sees_the_writes(factory):
    db = await _open(factory)
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many(range(100), range(100))
    async with db.transaction("s") as tx:
        assert await tx.object_store("s").count() == 100
        assert await tx.object_store("s").get(99) == 99
    db.close()


async def test_upgrade_that_waits_for_another_databases_writer_runs_its_callback(factory):
    # The versionchange transaction of "two" must wait for the readwrite one of "one" (one
    # writer per storage); once it starts it must still be open for the upgrade callback (it
    # used to commit empty first: InvalidStateError "put() was called outside a write
    # transaction" from the catalog write).
    db1 = await _open(factory, "one")
    tx = db1.transaction("s", "readwrite")
    await tx.object_store("s").put("v", "k")
    db1.close()
    seen = []

    def upgrade(db, old, new, tx2):
        seen.append((old, new))
        _two_stores(db, old, new, tx2)

    # Awaited in this task (not wait_for's own task): the open starts while tx is running.
    db2 = await factory.open("two", 1, upgrade=upgrade)
    assert seen == [(0, 1)]
    assert sorted(db2.object_store_names) == ["s", "t"]
    await db2.put("s", "w", "k")
    assert await db2.get("s", "k") == "w"
    await asyncio.wait_for(_await(tx.done), 10)
    db2.close()
    db1 = await factory.open("one")
    assert await db1.get("s", "k") == "v"
    db1.close()


async def test_transactions_on_two_databases_do_not_deadlock(factory):
    db1 = await _open(factory, "one")
    db2 = await _open(factory, "two")

    async def rmw(db: pyidb.Database, n: int) -> None:
        for _ in range(n):
            async with db.transaction("s", "readwrite") as tx:
                store = tx.object_store("s")
                await store.put((await store.get("c") or 0) + 1, "c")

    # Two tasks, each a chain of readwrite transactions on its own database.
    await asyncio.wait_for(asyncio.gather(rmw(db1, 50), rmw(db2, 50)), timeout=20)
    assert (await db1.get("s", "c"), await db2.get("s", "c")) == (50, 50)

    # One task: tx1 open on db1 with a request pending, then it awaits a request of tx2 on db2.
    tx1 = db1.transaction("s", "readwrite")
    tx2 = db2.transaction("s", "readwrite")
    pending = tx1.object_store("s").put("from tx1", "x")
    assert await asyncio.wait_for(_await(tx2.object_store("s").put("from tx2", "x")), 10) == "x"
    assert await pending == "x"
    await asyncio.wait_for(_await(tx1.done), 10)
    await asyncio.wait_for(_await(tx2.done), 10)

    # Inside a readwrite on db1, await a readonly and a readwrite shortcut on db2.
    async with db1.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put("in tx", "y")
        store = tx.object_store("s")
        assert await asyncio.wait_for(db2.get("s", "x"), 10) == "from tx2"
        assert await asyncio.wait_for(db2.put("s", "shortcut", "y"), 10) == "y"
        # tx committed when its code awaited db2's requests (not its own), as in a browser.
        with pytest.raises(pyidb.TransactionInactiveError):
            store.put("too late", "z")
    assert await db1.get("s", "y") == "in tx" and await db1.get("s", "z") is None
    assert await db2.get("s", "y") == "shortcut"
    await _assert_idle(factory, db1, db2)
    db1.close()
    db2.close()


async def _await(awaitable):  # wait_for needs a coroutine or a real future
    return await awaitable


# -- cancellation ---------------------------------------------------------------------------
class _Holder:
    """A readwrite transaction on "s" kept running (a chain of its own requests) until released,
    so a transaction created after it waits, and its task sits awaiting its first request."""

    def __init__(self, db: pyidb.Database) -> None:
        self.db = db
        self.stop = False
        self.running = asyncio.Event()
        self.task = asyncio.create_task(self._hold())

    async def _hold(self) -> None:
        async with self.db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("blocker", "b")
            self.running.set()
            while not self.stop:
                await store.get("b")

    async def release(self) -> None:
        self.stop = True
        await self.task


async def _blocked_request(db: pyidb.Database, body) -> tuple[asyncio.Task, _Holder, list]:
    """Start ``body(tx, log)`` in a task whose readwrite transaction waits behind a _Holder."""
    holder = _Holder(db)
    await holder.running.wait()
    log: list = []
    waiting = asyncio.Event()

    async def run() -> None:
        async with db.transaction("s", "readwrite") as tx:
            log.append(tx)
            waiting.set()
            await body(tx, log)

    task = asyncio.create_task(run())
    await waiting.wait()
    assert not log[0].started  # white-box: it really is queued behind the holder
    return task, holder, log


async def test_cancelled_task_aborts_its_transaction_cleanly(factory):
    db = await _open(factory)

    async def body(tx, log):
        log.append(await tx.object_store("s").put("cancelled write", "k"))
        log.append("resumed normally")  # must not happen: the cancel is delivered here

    task, holder, log = await _blocked_request(db, body)
    task.cancel()
    await holder.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    tx = log[0]
    assert log == [tx]  # the request completed, then CancelledError was thrown at the await
    with pytest.raises(pyidb.AbortError):
        await tx.done  # the exception escaped 'async with': aborted
    assert await db.get("s", "k") is None  # its write rolled back
    assert await db.get("s", "b") == "blocker"
    assert await db.put("s", "later", "k") == "k"  # the engine goes on
    await _assert_idle(factory, db)
    db.close()


async def test_cancel_caught_inside_the_transaction_finds_it_aborted(factory):
    # A cancelled task's queued request is withdrawn at once (issue 9 #2), which aborts its
    # transaction: code that catches the CancelledError finds the transaction finished, and
    # nothing of it is kept (before, the cancel waited for the request to run).
    db = await _open(factory)

    async def body(tx, log):
        store = tx.object_store("s")
        try:
            await store.put("first", "k1")
        except asyncio.CancelledError:
            log.append("cancel seen")
            asyncio.current_task().uncancel()
        with pytest.raises(pyidb.TransactionInactiveError):
            store.put("second", "k2")
        log.append("inactive")

    task, holder, log = await _blocked_request(db, body)
    task.cancel()
    with pytest.raises(pyidb.AbortError, match="cancelled before it ran"):
        await task  # leaving 'async with' normally reports the abort
    assert not holder.task.done()  # ...while the holder still runs: the cancel did not wait
    assert log[1:] == ["cancel seen", "inactive"]
    await holder.release()
    assert await db.get_all("s") == ["blocker"]
    await _assert_idle(factory, db)
    db.close()


async def test_wait_for_times_out_while_queued_behind_another_transaction(factory):
    # issue 9 #2: the timeout is honoured while the request waits behind another transaction
    # (before, the put returned only once the holder was released, i.e. never here).
    db = await _open(factory)
    holder = _Holder(db)
    await holder.running.wait()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(db.put("s", "late", "k"), 0.2)
    assert not holder.task.done()  # it returned while the other transaction still ran
    await holder.release()
    assert await db.get_all("s") == ["blocker"]  # nothing of the timed-out put
    assert await db.put("s", "next", "k") == "k"  # and the engine goes on
    await _assert_idle(factory, db)
    db.close()


async def test_cancelling_a_queued_request_aborts_its_transaction_at_once(factory):
    db = await _open(factory)

    async def body(tx, log):
        store = tx.object_store("s")
        await store.put("never", "k")

    task, holder, log = await _blocked_request(db, body)
    task.cancel()
    done, _ = await asyncio.wait([task, holder.task], return_when=asyncio.FIRST_COMPLETED)
    assert done == {task}  # by order: the cancelled task finished first
    assert task.cancelled()
    with pytest.raises(pyidb.AbortError, match="cancelled before it ran"):
        await log[0].done
    await holder.release()
    assert await db.get("s", "k") is None
    await _assert_idle(factory, db)
    db.close()


async def test_cancel_while_awaiting_commit_keeps_the_commit(factory):
    db = await _open(factory)
    holder = _Holder(db)
    await holder.running.wait()
    queued = asyncio.Event()
    box: list[pyidb.Transaction] = []

    async def writer() -> None:
        tx = db.transaction("s", "readwrite")  # queued behind the holder
        box.append(tx)
        tx.object_store("s").put("committed", "k")
        tx.commit()
        queued.set()
        await tx.done

    task = asyncio.create_task(writer())
    await queued.wait()
    assert not box[0].started
    task.cancel()  # the commit was already asked for: it happens anyway
    await holder.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    await box[0].done
    assert box[0].error is None
    assert await db.get("s", "k") == "committed"
    await _assert_idle(factory, db)
    db.close()


async def test_cancelling_a_request_after_commit_was_asked_keeps_the_commit(factory):
    db = await _open(factory)
    holder = _Holder(db)
    await holder.running.wait()
    box: list[pyidb.Transaction] = []

    async def writer() -> None:
        tx = db.transaction("s", "readwrite")  # queued behind the holder
        box.append(tx)
        request = tx.object_store("s").put("committed", "k")
        tx.commit()
        await request

    task = asyncio.create_task(writer())
    await asyncio.sleep(0)  # the writer ran up to its await
    task.cancel()  # commit() was asked for: the request is not withdrawn
    await holder.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    await box[0].done
    assert await db.get("s", "k") == "committed"
    await _assert_idle(factory, db)
    db.close()


async def test_cancelled_blocked_open_leaves_the_version_alone(factory):
    old = await _open(factory)  # never closes on versionchange: the upgrade stays blocked
    ran: list[int] = []

    def to_v2(db, o, n, tx):
        ran.append(n)
        db.create_object_store("v2")

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(factory.open("sched", 2, upgrade=to_v2), 0.2)
    assert ran == [] and old.version == 1
    old.close()
    async with await factory.open("sched", 2, upgrade=to_v2) as db:
        assert db.version == 2 and "v2" in db.object_store_names
    assert ran == [2]
    assert await factory.databases() == [{"name": "sched", "version": 2}]


# -- no leaks ---------------------------------------------------------------------------------
async def test_ten_thousand_transactions_leave_nothing_behind(factory):
    from pyidb import callbacks

    db = await _open(factory)
    refs: list[weakref.ref] = []
    durability = "relaxed"  # the point is bookkeeping, not fsync speed
    for i in range(10_000):
        if i % 3 == 0:
            tx = db.transaction("s")
            await tx.object_store("s").get(i)
        elif i % 3 == 1:
            tx = db.transaction("s", "readwrite", durability=durability)
            await tx.object_store("s").put(i, i % 10)
            await tx.done
        else:
            tx = db.transaction("s", "readwrite", durability=durability)
            tx.object_store("s").put(i, "aborted")
            tx.abort()
            with pytest.raises(pyidb.AbortError):
                await tx.done
        if i % 100 == 0:
            refs.append(weakref.ref(tx))
        del tx
    await _assert_idle(factory, db)
    assert callbacks._background == set()
    gc.collect()
    alive = [r for r in refs if r() is not None]
    assert len(alive) <= 1, f"{len(alive)} of {len(refs)} sampled transactions are still referenced"
    assert await db.count("s") == 10 and await db.get("s", "aborted") is None
    db.close()


async def test_many_databases_opened_and_deleted_leave_nothing_behind(factory):
    """White-box: per-name bookkeeping (schema cache, open/delete locks) goes away with the
    database, so a program that creates and deletes many databases does not grow."""
    for i in range(300):
        name = f"tmp-{i}"
        async with await factory.open(name, 1, upgrade=_two_stores) as db:
            await db.put("s", i, i)
        await factory.delete_database(name)
    assert await factory.databases() == []
    assert len(factory._states) <= 1
    assert len(factory._locks) <= 1, f"{len(factory._locks)} per-name locks kept after deleting"
