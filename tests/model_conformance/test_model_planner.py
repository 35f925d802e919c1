"""The query planner: which plan each query gets, and random queries answered exactly as a
plain-Python evaluation answers them (on every backend, with a fixed seed)."""

from __future__ import annotations

import random
from typing import Any

from conformance._support import db_name

from pyidb.model import Client, Schema

from . import _reference as ref
from ._blog import open_blog


async def test_explain_names_the_plan(factory: Any) -> None:
    c = await open_blog(factory)

    async def plan(**kw: Any) -> dict[str, Any]:
        return await c.post.find_many(explain=True, **kw)

    p = await plan(where={"id": 3})
    assert (p["plan"], p["index"], p["ranges"]) == ("unique", ["primary key"], ["= 3"])
    p = await c.user.find_many(explain=True, where={"email": "a@x.org"})
    assert (p["plan"], p["index"]) == ("unique", ["unique(email)"])
    p = await plan(where={"title": {"startswith": "H"}})
    assert (p["plan"], p["index"], p["ranges"]) == ("scan", ["index(title)"], [">= 'H' and < 'I'"])
    p = await plan(where={"published": True, "views": {"gt": 3}})
    assert (p["plan"], p["index"], p["filter_in_python"]) == \
        ("scan", ["index(published,views)"], False)
    p = await plan(where={"published": True}, order={"views": "desc"}, take=2)
    assert (p["plan"], p["index"], p["direction"], p["stops_after"]) == \
        ("walk", ["index(published,views)"], "prev", 2)
    p = await plan(order={"title": "asc"}, take=20, skip=5)
    assert (p["plan"], p["index"], p["stops_after"]) == ("walk", ["index(title)"], 25)
    p = await plan(where={"OR": [{"title": "a"}, {"authorId": 1}]})
    assert (p["plan"], sorted(p["index"])) == ("union", ["index(authorId)", "index(title)"])
    p = await plan(where={"tags": {"has": "py"}})  # a list field's index is multiEntry
    assert (p["plan"], p["index"], p["ranges"], p["filter_in_python"]) == \
        ("scan", ["index(tags)"], ["= 'py'"], False)
    p = await plan(where={"tags": {"has_some": ["py", "js"]}})
    assert (p["plan"], p["index"]) == ("scan", ["index(tags)", "index(tags)"])
    p = await plan(where={"views": {"gt": 3}})  # views alone has no index of its own
    assert p["plan"] == "full" and p["filter_in_python"]
    p = await plan(take=-3)
    assert (p["plan"], p["index"], p["direction"], p["stops_after"]) == \
        ("walk", ["primary key"], "prev", 3)
    c.close()


async def test_walk_stops_early(factory: Any) -> None:
    c = await open_blog(factory)
    await c.post.create_many(data=[{"title": f"t{i:03}", "views": i, "published": i % 2 == 0}
                                   for i in range(60)])
    rows = await c.post.find_many(where={"published": True}, order={"views": "desc"}, take=3)
    assert [r["views"] for r in rows] == [58, 56, 54]
    rows = await c.post.find_many(order={"title": "asc"}, take=2, skip=1)
    assert [r["title"] for r in rows] == ["t001", "t002"]
    c.close()


async def check_random_queries(factory: Any, seed: int, n_records: int,
                               n_queries: int) -> set[str]:
    """Run ``n_queries`` random queries against the reference; returns the plan kinds used."""
    rng = random.Random(seed)
    kinds: set[str] = set()
    rows = ref.records(rng, n_records)
    c = await Client.open(db_name("planner"), Schema.from_prisma(ref.ITEMS), factory=factory)
    await c.item.create_many(data=rows)
    stored = await c.item.find_many(order={"id": "asc"})
    assert stored == sorted(rows, key=lambda r: r["id"])
    for _ in range(n_queries):
        q = ref.query(rng)
        got = await c.item.find_many(**q)
        want = ref.answer(rows, q)
        kinds.add((await c.item.find_many(explain=True, **q))["plan"])
        assert got == want, (q, await c.item.find_many(explain=True, **q),
                             [r["id"] for r in got], [r["id"] for r in want])
        assert await c.item.count(where=q["where"]) == len(ref.answer(rows, {"where": q["where"]}))
    c.close()
    return kinds


async def test_random_queries_match_plain_python(factory: Any) -> None:
    kinds = await check_random_queries(factory, seed=20261129, n_records=40, n_queries=150)
    assert kinds == {"unique", "walk", "scan", "union", "full"}  # every kind of plan was tried
