"""Conformance: a timeout or cancel is honoured while a request waits (issue 9 #2).

``asyncio.wait_for(db.put(...), 0.2)`` while another transaction holds the store returns when the
timeout fires, not when the other transaction ends; the cancelled request's transaction aborts,
so nothing of it is kept, and the other transaction goes on undisturbed.
"""

from __future__ import annotations

import asyncio

from ._support import db_name, raises


async def test_timeout_while_queued_behind_another_transaction(factory):
    db = await factory.open(db_name("cancel"), 1,
                            upgrade=lambda db, o, n, tx: db.create_object_store("s"))
    stop: list[bool] = []
    running = asyncio.Event()

    async def hold() -> None:  # keeps its transaction running with its own requests
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("blocker", "b")
            running.set()
            while not stop:
                await store.get("b")
            await store.put("holder done", "h")

    holder = asyncio.ensure_future(hold())
    await running.wait()
    with raises(TimeoutError):
        await asyncio.wait_for(db.put("s", "late", "k"), 0.2)
    assert not holder.done()  # the timeout did not wait for the other transaction
    stop.append(True)
    await holder
    assert await db.get_all_keys("s") == ["b", "h"]  # nothing of the timed-out put
    assert await db.put("s", "next", "k") == "k"
    db.close()


async def test_cancelled_task_with_a_running_transaction_keeps_nothing(factory):
    db = await factory.open(db_name("cancel"), 1,
                            upgrade=lambda db, o, n, tx: db.create_object_store("s"))
    wrote = asyncio.Event()

    async def writer() -> None:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("first", 1)
            wrote.set()
            while True:  # its own requests only: the transaction stays active
                await store.get(1)

    task = asyncio.ensure_future(writer())
    await wrote.wait()
    task.cancel()
    with raises(asyncio.CancelledError):
        await task
    assert await db.count("s") == 0  # the put before the cancel was rolled back
    db.close()

