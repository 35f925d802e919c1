"""CPython-only: engine requests completed when awaited (pyidb.engine.inline).

A get, a put or a cursor move served from its read-ahead page may run at ``await`` time instead
of in a loop callback. That must not change what a program sees: requests complete in the order
they were made, a failed request reports its error with the usual abort rules, concurrent
transactions still interleave, and other tasks still get turns during a long loop.
"""

from __future__ import annotations

import asyncio

import pytest

import pyidb


def _stores(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")
    db.create_object_store("t")


@pytest.fixture(params=["memory", "sqlite"])
def inline_factory(request, tmp_path):
    f = pyidb.factory("memory:" if request.param == "memory" else f"sqlite:///{tmp_path}/i.db")
    yield f
    close = getattr(f, "close", None)
    if close is not None:
        close()


async def test_an_awaited_request_completes_after_the_ones_made_before_it(inline_factory):
    db = await inline_factory.open("inline", 1, upgrade=_stores)
    async with db.transaction("s", "readwrite") as tx:
        store = tx.object_store("s")
        await store.put("old", 1)
        put = store.put("new", 1)  # not awaited: queued first
        assert await store.get(1) == "new"
        assert await put == 1
    db.close()


async def test_a_failed_request_is_caught_or_aborts_as_usual(inline_factory):
    db = await inline_factory.open("inline", 1, upgrade=_stores)
    async with db.transaction("s", "readwrite") as tx:
        store = tx.object_store("s")
        await store.add("a", 1)
        with pytest.raises(pyidb.ConstraintError):
            await store.add("b", 1)
        await store.put("c", 2)  # the caught error left the transaction going
    assert await db.get_all("s") == ["a", "c"]
    with pytest.raises(pyidb.ConstraintError):
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("d", 3)
            await store.add("e", 1)
    assert await db.get_all("s") == ["a", "c"]  # the uncaught one aborted its transaction
    db.close()


async def test_other_tasks_run_during_a_long_loop_of_awaited_requests(inline_factory):
    db = await inline_factory.open("inline", 1, upgrade=_stores)
    async with db.transaction("s", "readwrite") as tx0:
        await tx0.object_store("s").put_many(list(range(2000)), list(range(2000)))
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    before = ticks
    async with db.transaction("s") as tx:
        store = tx.object_store("s")
        for k in range(2000):
            assert await store.get(k) == k
        seen = 0
        async for cursor in store.open_cursor():
            seen += cursor.value == cursor.key
    stop = True
    await task
    assert seen == 2000
    # a turn every transaction._BATCH (64) requests, inline or not: ~62 for these 4,000
    assert ticks - before >= 4000 // 64 - 8, ticks - before
    db.close()


async def test_two_readonly_transactions_still_interleave(inline_factory):
    db = await inline_factory.open("inline", 1, upgrade=_stores)
    async with db.transaction("s", "readwrite") as tx0:
        await tx0.object_store("s").put_many(list(range(300)), list(range(300)))
    log: list[str] = []

    async def reader(tag: str) -> None:
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            for k in range(100):
                assert await store.get(k) == k
                log.append(tag)
            async for _cursor in store.open_cursor():  # moves served from its pages
                log.append(tag + "c")

    await asyncio.gather(reader("x"), reader("y"))
    assert len(log) == 800
    # y made progress before x finished, in the gets and in the cursor walks
    assert log.index("y") < log.index("xc"), log
    assert log.index("yc") < len(log) - 1 - log[::-1].index("xc"), log
    db.close()


async def test_a_cursor_move_asked_twice_before_awaiting_is_refused(inline_factory):
    db = await inline_factory.open("inline", 1, upgrade=_stores)
    async with db.transaction("s", "readwrite") as tx0:
        await tx0.object_store("s").put_many(list(range(100)), list(range(100)))
    async with db.transaction("s") as tx:
        cursor = await tx.object_store("s").open_cursor()
        await cursor.continue_()  # the page is read from the second move on
        move = cursor.continue_()
        assert cursor.key == 1  # moves when the move completes, not when asked for
        with pytest.raises(pyidb.InvalidStateError):
            cursor.continue_()
        assert await move is cursor and cursor.key == 2
    db.close()
