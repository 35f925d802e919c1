"""Live queries: watch() yields the result, then a new one after each commit that changes it."""

from __future__ import annotations

import asyncio
from typing import Any

from conformance._support import db_name

from pyidb.model import Client

from ._blog import blog_schema, open_blog


class _Collector:
    def __init__(self) -> None:
        self.results: list[list[str]] = []
        self.changed = asyncio.Event()

    async def until(self, n: int) -> None:
        while len(self.results) < n:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)


async def _watch(c: Any, out: _Collector, **kw: Any) -> None:
    async for rows in c.post.watch(**kw):
        out.results.append([r["title"] for r in rows])
        out.changed.set()


async def test_watch_yields_on_changes_only(factory: Any) -> None:
    c = await open_blog(factory)
    out = _Collector()
    task = asyncio.ensure_future(_watch(c, out, where={"published": True},
                                        order={"views": "desc"}, take=2))
    await out.until(1)
    assert out.results == [[]]
    await c.post.create(data={"title": "draft"})  # not in the result: no new yield
    await c.post.create(data={"title": "a", "published": True, "views": 1})
    await out.until(2)
    async with c.tx() as t:  # one transaction: one new result
        await t.post.create(data={"title": "b", "published": True, "views": 5})
        await t.post.create(data={"title": "c", "published": True, "views": 3})
    await out.until(3)
    await c.post.update(where={"id": 1}, data={"views": 9})  # a draft: no new yield
    await c.post.update(where={"id": 2}, data={"views": 10})
    await out.until(4)
    assert out.results == [[], ["a"], ["b", "c"], ["a", "b"]]
    assert len(c.hub.watchers) == 1
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert len(c.hub.watchers) == 0  # cancelling released the watcher
    c.close()


async def test_writes_from_another_client_of_the_database_wake_watchers(factory: Any) -> None:
    name = db_name("live")
    c1 = await open_blog(factory, name)
    c2 = await Client.open(name, blog_schema(), factory=factory)
    out = _Collector()
    task = asyncio.ensure_future(_watch(c1, out))
    await out.until(1)
    await c2.post.create(data={"title": "from c2"})
    await out.until(2)
    assert out.results == [[], ["from c2"]]
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    c1.close()
    c2.close()


async def test_closing_the_client_ends_its_watch_loops(factory: Any) -> None:
    c = await open_blog(factory)
    out = _Collector()
    task = asyncio.ensure_future(_watch(c, out))
    await out.until(1)
    c.close()
    await asyncio.wait_for(task, 10)  # the loop ended by itself: no hang
    assert out.results == [[]] and len(c.hub.watchers) == 0
