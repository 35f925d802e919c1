"""Conformance: opening, upgrading and deleting databases (spec §5 "Database operations").

open() with a higher version runs ``upgrade(db, old, new, tx)`` in an exclusive versionchange
transaction after firing versionchange at the other connections (``blocked`` while they stay
open); a lower version is a VersionError; a failed upgrade rolls back the version and the schema.
"""

from __future__ import annotations

import asyncio

import pyidb

from ._support import db_name, raises


def _v1(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")


async def test_new_database_defaults_to_version_1(factory):
    calls = []
    name = db_name("ver")

    def upgrade(db, old, new, tx):
        calls.append((old, new, tx.mode, db.version))
        db.create_object_store("s")

    async with await factory.open(name, upgrade=upgrade) as db:
        assert (db.name, db.version, db.object_store_names) == (name, 1, ["s"])
    assert calls == [(0, 1, "versionchange", 1)]


async def test_open_existing_without_version_skips_upgrade(factory):
    name = db_name("ver")
    async with await factory.open(name, 3, upgrade=_v1):
        pass
    calls = []
    async with await factory.open(name, upgrade=lambda *a: calls.append(a)) as db:
        assert db.version == 3 and db.object_store_names == ["s"]
    async with await factory.open(name, 3, upgrade=lambda *a: calls.append(a)) as db:
        assert db.version == 3
    assert calls == []


async def test_upgrade_to_higher_version(factory):
    name = db_name("ver")
    async with await factory.open(name, 1, upgrade=_v1) as db:
        await db.put("s", "kept", 1)
    seen = []

    def v2(db, old, new, tx):
        seen.append((old, new, db.object_store_names, tx.object_store_names))
        db.create_object_store("t")

    async with await factory.open(name, 2, upgrade=v2) as db:
        assert db.version == 2 and db.object_store_names == ["s", "t"]
        assert await db.get("s", 1) == "kept"
    assert seen == [(1, 2, ["s"], ["s"])]


async def test_async_upgrade_with_requests(factory):
    name = db_name("ver")

    async def upgrade(db, old, new, tx):
        store = db.create_object_store("s", auto_increment=True)
        keys = [await store.add(x) for x in ("a", "b", "c")]
        assert keys == [1, 2, 3]
        assert await tx.object_store("s").count() == 3

    async with await factory.open(name, 1, upgrade=upgrade) as db:
        assert await db.get_all("s") == ["a", "b", "c"]


async def test_upgrade_migrates_existing_records(factory):
    name = db_name("ver")
    async with await factory.open(name, 1, upgrade=_v1) as db:
        for i in range(5):
            await db.put("s", {"n": i}, i)

    async def v2(db, old, new, tx):
        store = tx.object_store("s")
        async for cursor in store.open_cursor():
            await cursor.update({**cursor.value, "double": cursor.value["n"] * 2})

    async with await factory.open(name, 2, upgrade=v2) as db:
        assert [v["double"] for v in await db.get_all("s")] == [0, 2, 4, 6, 8]


async def test_lower_version_is_version_error(factory):
    name = db_name("ver")
    async with await factory.open(name, 5, upgrade=_v1):
        pass
    with raises(pyidb.VersionError):
        await factory.open(name, 4)
    async with await factory.open(name) as db:
        assert db.version == 5


async def test_invalid_version_is_type_error(factory):
    for bad in (0, -1, 1.5, "2"):
        with raises(pyidb.InvalidArgumentError):
            await factory.open(db_name("ver"), bad)


async def test_upgrade_fires_versionchange_on_other_connections(factory):
    name = db_name("ver")
    first = await factory.open(name, 1, upgrade=_v1)
    events = []

    def on_versionchange(db, old, new):
        events.append((db is first, old, new))
        db.close()

    first.on_versionchange = on_versionchange
    blocked = []
    async with await factory.open(name, 2, upgrade=lambda *a: None,
                                  blocked=lambda old, new: blocked.append((old, new))) as db:
        assert db.version == 2
    assert events == [(True, 1, 2)]
    assert blocked == []  # the other connection closed in time
    with raises(pyidb.InvalidStateError):
        first.transaction("s")


async def test_blocked_until_other_connection_closes(factory):
    name = db_name("ver")
    first = await factory.open(name, 1, upgrade=_v1)
    seen_by_first = []
    first.on_versionchange = lambda db, old, new: seen_by_first.append((old, new))  # stays open
    blocked = asyncio.Event()
    blocked_args = []
    upgraded = []

    def on_blocked(old, new):
        blocked_args.append((old, new))
        blocked.set()

    def upgrade(db, old, new, tx):
        upgraded.append((old, new))

    opening = asyncio.ensure_future(
        factory.open(name, 2, upgrade=upgrade, blocked=on_blocked))
    await asyncio.wait_for(blocked.wait(), 10)
    assert seen_by_first == [(1, 2)]
    assert blocked_args == [(1, 2)]
    assert upgraded == [] and not opening.done()
    # the still-open connection keeps working meanwhile
    assert await first.count("s") == 0
    first.close()
    second = await asyncio.wait_for(opening, 10)
    assert upgraded == [(1, 2)] and second.version == 2
    second.close()


async def test_blocking_callback_given_to_open(factory):
    name = db_name("ver")
    events = []
    await factory.open(name, 1, upgrade=_v1,
                       blocking=lambda db, old, new: (events.append((old, new)), db.close()))
    async with await factory.open(name, 2, upgrade=lambda *a: None) as db:
        assert db.version == 2
    assert events == [(1, 2)]


async def test_versionchange_is_exclusive(factory):
    name = db_name("ver")
    order = []

    async def upgrade(db, old, new, tx):
        store = db.create_object_store("s")
        for i in range(5):
            await store.put(i, i)
        order.append("upgrade done")

    async def open_later():
        db = await factory.open(name)
        order.append("second open")
        return db

    first_task = asyncio.ensure_future(factory.open(name, 1, upgrade=upgrade))
    await asyncio.sleep(0)
    second_task = asyncio.ensure_future(open_later())
    first, second = await asyncio.gather(first_task, second_task)
    assert order == ["upgrade done", "second open"]
    assert second.object_store_names == ["s"]
    assert await second.count("s") == 5
    first.close()
    second.close()


async def test_upgrade_raising_rolls_back(factory):
    name = db_name("ver")
    async with await factory.open(name, 1, upgrade=_v1) as db:
        await db.put("s", "before", 1)

    class Boom(Exception):
        pass

    async def v2(db, old, new, tx):
        db.create_object_store("new_store")
        tx.object_store("s").create_index("i", "x")
        await tx.object_store("s").put("changed", 1)
        raise Boom("migration failed")

    try:
        db = await factory.open(name, 2, upgrade=v2)
    except (Boom, pyidb.AbortError):
        pass
    else:
        db.close()
        raise AssertionError("open succeeded although the upgrade raised")
    async with await factory.open(name) as db:
        assert db.version == 1
        assert db.object_store_names == ["s"]
        async with db.transaction("s") as tx:
            assert tx.object_store("s").index_names == []
            assert await tx.object_store("s").get(1) == "before"


async def test_upgrade_aborted_explicitly(factory):
    name = db_name("ver")

    def upgrade(db, old, new, tx):
        db.create_object_store("s")
        tx.abort()

    with raises(pyidb.AbortError):
        await factory.open(name, 1, upgrade=upgrade)
    async with await factory.open(name, 1, upgrade=_v1) as db:  # upgrades from 0 again
        assert db.object_store_names == ["s"]


async def test_failed_upgrade_of_new_database_leaves_version_0(factory):
    name = db_name("ver")

    def upgrade(db, old, new, tx):
        db.create_object_store("s")
        raise ValueError("nope")

    try:
        (await factory.open(name, 3, upgrade=upgrade)).close()
    except (ValueError, pyidb.AbortError):
        pass
    else:
        raise AssertionError("open succeeded although the upgrade raised")
    calls = []

    def again(db, old, new, tx):
        calls.append((old, new))

    async with await factory.open(name, 2, upgrade=again) as db:
        assert db.object_store_names == []
    assert calls == [(0, 2)]


async def test_delete_database(factory):
    name = db_name("ver")
    async with await factory.open(name, 2, upgrade=_v1) as db:
        await db.put("s", "x", 1)
    await factory.delete_database(name)
    assert name not in [d["name"] for d in await factory.databases()]
    calls = []

    def upgrade(db, old, new, tx):
        calls.append((old, new))

    async with await factory.open(name, upgrade=upgrade) as db:
        assert db.version == 1 and db.object_store_names == []
    assert calls == [(0, 1)]


async def test_delete_missing_database_is_fine(factory):
    await factory.delete_database(db_name("never-made"))


async def test_delete_fires_versionchange_with_none(factory):
    name = db_name("ver")
    first = await factory.open(name, 1, upgrade=_v1)
    events = []
    first.on_versionchange = lambda db, old, new: (events.append((old, new)), db.close())
    await factory.delete_database(name)
    assert events == [(1, None)]
    with raises(pyidb.InvalidStateError):
        first.transaction("s")


async def test_delete_blocked_until_close(factory):
    name = db_name("ver")
    first = await factory.open(name, 1, upgrade=_v1)
    blocked = asyncio.Event()
    seen = []

    def on_blocked(old, new):
        seen.append((old, new))
        blocked.set()

    deleting = asyncio.ensure_future(factory.delete_database(name, blocked=on_blocked))
    await asyncio.wait_for(blocked.wait(), 10)
    assert seen == [(1, None)] and not deleting.done()
    first.close()
    await asyncio.wait_for(deleting, 10)
    assert name not in [d["name"] for d in await factory.databases()]


async def test_databases_lists_names_and_versions(factory):
    a, b = db_name("list-a"), db_name("list-b")
    async with await factory.open(a, 1, upgrade=_v1):
        pass
    async with await factory.open(b, 7, upgrade=_v1):
        pass
    listed = {d["name"]: d["version"] for d in await factory.databases()}
    assert listed[a] == 1 and listed[b] == 7
    await factory.delete_database(a)
    listed = {d["name"]: d["version"] for d in await factory.databases()}
    assert a not in listed and listed[b] == 7


async def test_database_names_are_case_sensitive_and_unicode(factory):
    base = db_name("Ünïcode")
    async with await factory.open(base, 1, upgrade=_v1):
        pass
    async with await factory.open(base.upper(), 2, upgrade=_v1) as db:
        assert db.version == 2
    async with await factory.open(base) as db:
        assert db.version == 1 and db.name == base


async def _open_many(factory, name: str, count: int, events: list) -> list:
    """``count`` connections to ``name``, in opening order, each logging and closing on versionchange."""
    conns = []
    for i in range(count):
        db = await factory.open(name, 1, upgrade=_v1)
        db.on_versionchange = lambda db, old, new, i=i: (events.append((i, old, new)), db.close())
        conns.append(db)
    return conns


async def test_versionchange_in_connection_opening_order(factory):
    # The spec's connection set is ordered: browsers fire versionchange in opening order.
    name = db_name("ver")
    events = []
    conns = await _open_many(factory, name, 9, events)
    conns[4].close()  # a closed connection is skipped, the others keep their order
    async with await factory.open(name, 2, upgrade=lambda *a: None):
        pass
    assert events == [(i, 1, 2) for i in range(9) if i != 4]
    events.clear()
    await _open_many(factory, name + "-d", 9, events)
    await factory.delete_database(name + "-d")
    assert events == [(i, 1, None) for i in range(9)]
