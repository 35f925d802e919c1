"""Version history: versions in the same transaction, newest first, as_of reads of the past."""

from __future__ import annotations

import datetime
from typing import Any

from conformance._support import raises

from pyidb.model import InvalidValueError
from pyidb.model.history import HybridClock

from ._blog import open_blog


async def test_history_lists_versions_newest_first_with_deletes(factory: Any) -> None:
    c = await open_blog(factory)
    p = await c.post.create(data={"title": "v1"})
    await c.post.update(where={"id": p["id"]}, data={"title": "v2"})
    await c.post.update(where={"id": p["id"]}, data={"title": "v3"})
    await c.post.delete(where={"id": p["id"]})
    versions = await c.post.history(where={"id": p["id"]})
    assert [v["data"] and v["data"]["title"] for v in versions] == [None, "v3", "v2", "v1"]
    stamps = [v["version"] for v in versions]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == 4
    assert all(isinstance(v["at"], datetime.datetime) and v["at"].tzinfo for v in versions)
    c.close()


async def test_as_of_reads_the_past(factory: Any) -> None:
    c = await open_blog(factory)
    a = await c.post.create(data={"title": "a", "views": 1})
    await c.post.create(data={"title": "b", "views": 2})
    v_before = (await c.post.history(where={"id": a["id"]}))[0]["version"]
    await c.post.update(where={"id": a["id"]}, data={"views": 100})
    await c.post.delete(where={"id": 2})
    now = await c.post.find_many()
    assert [(p["title"], p["views"]) for p in now] == [("a", 100)]
    past = await c.post.find_many(as_of=v_before + 10**6, order={"views": "desc"})
    assert {p["title"] for p in past} <= {"a", "b"}
    past = await c.post.find_many(as_of=v_before)
    assert [(p["title"], p["views"]) for p in past] == [("a", 1)]
    old = await c.post.find_unique(where={"id": a["id"]}, as_of=v_before)
    assert old["views"] == 1
    versions = await c.post.history(where={"id": 2})
    created = versions[-1]["version"]
    both = await c.post.find_many(as_of=created, where={"views": {"gte": 1}})
    assert [(p["title"], p["views"]) for p in both] == [("a", 1), ("b", 2)]
    assert await c.post.find_many(as_of=datetime.datetime(2000, 1, 1)) == []
    with raises(InvalidValueError, match="as_of needs version history on User"):
        await c.user.find_many(as_of=datetime.datetime.now())
    with raises(InvalidValueError, match=r"history\(\) needs version history on User"):
        await c.user.history(where={"id": 1})
    c.close()


async def test_history_is_written_in_the_same_transaction(factory: Any) -> None:
    c = await open_blog(factory)
    try:
        async with c.tx() as t:
            await t.post.create(data={"title": "x"})
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert await c.db.count("_history_Post") == 0
    await c.post.create(data={"title": "y"})
    assert await c.db.count("_history_Post") == 1
    c.close()


async def test_hybrid_clock_never_goes_back(factory: Any) -> None:
    wall = [1_000]
    clock = HybridClock(wall=lambda: wall[0])
    a = clock.next()
    wall[0] = 500  # the wall clock jumps back
    b = clock.next()
    c = clock.next()
    wall[0] = 2_000
    d = clock.next()
    assert a < b < c < d and d == 2_000 * 1000
