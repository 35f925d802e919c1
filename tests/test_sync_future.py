"""The lifetime mechanism itself: SyncFuture resumes awaiting tasks inside set_result."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from pyidb.sync_future import SyncFuture

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


async def test_awaiting_task_resumes_inside_set_result() -> None:
    fut: SyncFuture[int] = SyncFuture()
    trace: list[str] = []

    async def waiter() -> None:
        trace.append(f"got {await fut}")

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # the task is now suspended on fut
    asyncio.get_running_loop().call_soon(lambda: (fut.set_result(7), trace.append("after set")))
    await task
    assert trace == ["got 7", "after set"]  # resumed before set_result returned


async def test_asyncio_future_resumes_later_for_contrast() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    trace: list[str] = []

    async def waiter() -> None:
        trace.append(f"got {await fut}")

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_soon(lambda: (fut.set_result(7), trace.append("after set")))
    await task
    assert trace == ["after set", "got 7"]


async def test_task_context_is_kept() -> None:
    fut: SyncFuture[None] = SyncFuture()
    seen: list[object] = []

    async def waiter() -> None:
        var.set("task's own")
        await fut
        seen.extend([var.get(), asyncio.current_task()])

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_soon(fut.set_result, None)
    await task
    assert seen == ["task's own", task]


async def test_set_exception_reports_caught_error_as_handled() -> None:
    fut: SyncFuture[None] = SyncFuture()

    async def catcher() -> str:
        try:
            await fut
        except KeyError:
            await asyncio.sleep(0)
            return "caught"
        return "no error"

    task = asyncio.create_task(catcher())
    await asyncio.sleep(0)
    handled: list[bool] = []
    asyncio.get_running_loop().call_soon(lambda: handled.append(fut.set_exception(KeyError("k"))))
    assert await task == "caught"
    assert handled == [True]


async def test_set_exception_reports_escaping_error_as_unhandled() -> None:
    fut: SyncFuture[None] = SyncFuture()

    async def dies() -> None:
        await fut

    task = asyncio.create_task(dies())
    await asyncio.sleep(0)
    handled: list[bool] = []
    asyncio.get_running_loop().call_soon(lambda: handled.append(fut.set_exception(KeyError("k"))))
    with pytest.raises(KeyError):
        await task
    assert handled == [False]


async def test_unawaited_error_is_unhandled_and_done_future_callbacks_run_soon() -> None:
    fut: SyncFuture[int] = SyncFuture()
    assert fut.set_exception(ValueError("x")) is False
    done: SyncFuture[int] = SyncFuture()
    done.set_result(3)
    seen: list[int] = []
    done.add_done_callback(lambda f: seen.append(f.result()))
    assert seen == []  # already done: scheduled, not run inline
    await asyncio.sleep(0)
    assert seen == [3] and await done == 3


def test_result_before_completion_is_an_error() -> None:
    fut: SyncFuture[int] = SyncFuture()
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    fut.set_result(1)
    with pytest.raises(asyncio.InvalidStateError):
        fut.set_result(2)
