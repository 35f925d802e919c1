"""The plugin hook sync builds on: extra stores, one WriteEvent per record write, same transaction."""

from __future__ import annotations

from typing import Any

from conformance._support import db_name, raises

from pyidb.model import Client, UniqueViolationError, WriteEvent

from ._blog import blog_schema, open_blog


class Recorder:
    """Records every event in its own store, in the client's transaction."""

    stores = {"_changes": {"key_path": "seq", "auto_increment": True, "indexes": {
        "by_model": {"key_path": "model", "unique": False, "multi_entry": False}}}}

    def __init__(self, fail_on: str | None = None) -> None:
        self.events: list[WriteEvent] = []
        self.fail_on = fail_on

    def on_write(self, tx: Any, event: WriteEvent) -> None:
        if event.model == self.fail_on:
            raise RuntimeError(f"plugin refuses {event.model}")
        self.events.append(event)
        tx.object_store("_changes").add({"model": event.model, "op": event.op, "key": event.key,
                                         "origin": event.origin})


async def test_every_write_is_an_event_recorded_in_the_same_transaction(factory: Any) -> None:
    rec = Recorder()
    c = await open_blog(factory, plugins=[rec])
    assert "_changes" in c.db.object_store_names
    await c.user.create(data={"email": "a@x.org", "posts": {"create": [
        {"title": "t", "categories": {"create": [{"name": "py"}]}}]}})
    ops = [(e.model, e.op) for e in rec.events]
    assert ops == [("User", "create"), ("Post", "create"), ("Category", "create"),
                   ("_CategoryToPost", "create")]
    await c.user.update(where={"id": 1}, data={"name": "Ann"})
    ev = rec.events[-1]
    assert (ev.op, ev.key, ev.changed, ev.before["name"], ev.after["name"]) == \
        ("update", 1, ("name",), None, "Ann")
    await c.user.delete(where={"id": 1})  # SetNull on the post: an update event too
    assert [(e.model, e.op) for e in rec.events[-2:]] == [("Post", "update"), ("User", "delete")]
    assert rec.events[-1].after is None and rec.events[-1].before["email"] == "a@x.org"
    stored = await c.db.get_all("_changes")
    assert [(s["model"], s["op"]) for s in stored] == [(e.model, e.op) for e in rec.events]
    c.close()


async def test_a_failing_plugin_or_call_leaves_nothing(factory: Any) -> None:
    rec = Recorder(fail_on="Post")
    c = await open_blog(factory, plugins=[rec])
    try:
        await c.user.create(data={"email": "a@x.org", "posts": {"create": [{"title": "t"}]}})
    except RuntimeError as exc:
        assert "plugin refuses Post" in str(exc)
    else:
        raise AssertionError("the plugin's error was swallowed")
    assert await c.user.count() == 0 and await c.db.count("_changes") == 0
    ok = Recorder()
    c.close()
    c = await Client.open(c.db.name, blog_schema(), factory=factory, plugins=[ok])
    await c.user.create(data={"email": "a@x.org"})
    with raises(UniqueViolationError):
        await c.user.create(data={"email": "a@x.org"})
    assert await c.db.count("_changes") == 1
    c.close()


async def test_remote_origin_and_apply_remote(factory: Any) -> None:
    rec = Recorder()
    c = await open_blog(factory, db_name("remote"), plugins=[rec])
    async with c.tx(origin="remote") as t:
        await t.user.apply_remote("upsert", 7, {"id": 7, "email": "r@x.org", "name": None,
                                                "role": "USER", "active": True, "score": 1.0})
        await t.post.apply_remote("upsert", 3, {"id": 3, "title": "remote", "views": 0,
                                                "published": False, "tags": [], "meta": None,
                                                "authorId": 7, "createdAt": "2024-01-02T03:04:05Z",
                                                "updatedAt": "2024-01-02T03:04:05Z"})
    assert [(e.model, e.op, e.origin) for e in rec.events] == [("User", "create", "remote"),
                                                               ("Post", "create", "remote")]
    assert (await c.user.find_unique(where={"id": 7}))["email"] == "r@x.org"
    async with c.tx(origin="remote") as t:
        await t.user.apply_remote("upsert", 7, {"id": 7, "email": "r2@x.org", "name": None,
                                                "role": "USER", "active": True, "score": 1.0})
    assert rec.events[-1].changed == ("email",)
    from pyidb.model import ForeignKeyViolationError

    with raises(ForeignKeyViolationError):
        async with c.tx(origin="remote") as t:
            await t.user.apply_remote("delete", 7)
    async with c.tx(origin="remote") as t:
        await t.post.apply_remote("delete", 3)
        await t.user.apply_remote("delete", 7)
    assert await c.user.count() == 0 and rec.events[-1].op == "delete"
    c.close()


async def test_apply_remote_many_is_apply_remote_for_each(factory: Any) -> None:
    rec = Recorder()
    c = await open_blog(factory, db_name("remote_many"), plugins=[rec])
    user = {"id": 7, "email": "r@x.org", "name": None, "role": "USER", "active": True, "score": 1.0}

    def post(i: int, title: str, author: int | None = 7) -> dict:
        return {"id": i, "title": title, "views": 0, "published": False, "tags": [], "meta": None,
                "authorId": author, "createdAt": "2024-01-02T03:04:05Z", "updatedAt": "2024-01-02T03:04:05Z"}

    async with c.tx(origin="remote") as t:
        await t.user.apply_remote_many([user])  # a model with a unique field: one by one
        await t.post.apply_remote_many([post(1, "one"), post(2, "two")])
    async with c.tx(origin="remote") as t:
        await t.post.apply_remote_many([post(1, "one"), post(2, "two, edited"), post(3, "three", None)])
    assert [(e.model, e.op, e.key, e.origin) for e in rec.events] == [
        ("User", "create", 7, "remote"), ("Post", "create", 1, "remote"), ("Post", "create", 2, "remote"),
        ("Post", "update", 2, "remote"), ("Post", "create", 3, "remote")]  # unchanged post 1: no event
    assert rec.events[3].changed == ("title",)
    titles = [p["title"] for p in await c.post.find_many(order={"id": "asc"})]
    assert titles == ["one", "two, edited", "three"]
    assert [v["data"]["title"] for v in await c.post.history(where={"id": 2})] == ["two, edited", "two"]
    from pyidb.model import ForeignKeyViolationError

    with raises(ForeignKeyViolationError):  # the same check as apply_remote; nothing is written
        async with c.tx(origin="remote") as t:
            await t.post.apply_remote_many([post(4, "four"), post(5, "five", 99)])
    assert await c.post.count() == 3
    c.close()


async def test_apply_remote_link_for_many_to_many(factory: Any) -> None:
    rec = Recorder()
    c = await open_blog(factory, plugins=[rec])
    await c.post.create(data={"title": "p"})
    await c.category.create(data={"name": "py"})
    async with c.tx(origin="remote") as t:
        await t.apply_remote_link("_CategoryToPost", "create", ["py", 1])
    got = await c.post.find_unique(where={"id": 1}, include={"categories": True})
    assert got["categories"] == [{"name": "py"}]
    assert (rec.events[-1].model, rec.events[-1].op, rec.events[-1].key, rec.events[-1].origin) == \
        ("_CategoryToPost", "create", ["py", 1], "remote")
    from pyidb.model import ForeignKeyViolationError

    with raises(ForeignKeyViolationError, match="no Post with key 9"):
        async with c.tx(origin="remote") as t:
            await t.apply_remote_link("_CategoryToPost", "create", ["py", 9])
    async with c.tx(origin="remote") as t:
        await t.apply_remote_link("_CategoryToPost", "delete", ["py", 1])
    assert (await c.post.find_unique(where={"id": 1}, include={"categories": True}))["categories"] == []
    c.close()
