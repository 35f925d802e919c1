"""Conformance: an async upgrade may await its own requests only (issue 9 #4).

Awaiting anything else (``asyncio.sleep``, a foreign future) would let the versionchange
transaction commit with the schema half done. pyidb sees the foreign await inside the upgrade,
aborts the versionchange transaction there and fails ``open`` with InvalidStateError naming what
was awaited: the database keeps its old version and schema, and the next open reruns the upgrade.
Closing the connection inside the upgrade fails ``open`` with AbortError.
"""

from __future__ import annotations

import asyncio

import pyidb

from ._support import db_name, raises


def _v1(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")


async def _version_1(factory: pyidb.Factory) -> str:
    """A new database at version 1 with store "s" holding "before" at key 1; its name."""
    name = db_name("aw")
    async with await factory.open(name, 1, upgrade=_v1) as db:
        await db.put("s", "before", 1)
    return name


async def test_upgrade_awaiting_sleep_aborts_and_keeps_the_old_version(factory):
    name = await _version_1(factory)
    runs = []

    async def v2(db, old, new, tx):
        runs.append((old, new))
        db.create_object_store("early")
        await asyncio.sleep(0)
        db.create_object_store("late")

    with raises(pyidb.InvalidStateError, match="sleep"):
        await factory.open(name, 2, upgrade=v2)
    assert {d["name"]: d["version"] for d in await factory.databases()}[name] == 1
    async with await factory.open(name) as db:
        assert db.version == 1 and db.object_store_names == ["s"]
        assert await db.get("s", 1) == "before"

    async def v2_ok(db, old, new, tx):
        runs.append((old, new))
        db.create_object_store("late")
        await tx.object_store("s").put("migrated", 2)  # its own request: allowed

    async with await factory.open(name, 2, upgrade=v2_ok) as db:
        assert db.version == 2 and db.object_store_names == ["late", "s"]
        assert await db.get_all("s") == ["before", "migrated"]
    assert runs == [(1, 2), (1, 2)]  # the failed upgrade did not count: it ran again


async def test_upgrade_write_sleep_raise_keeps_nothing(factory):
    name = await _version_1(factory)
    reached = []

    async def v2(db, old, new, tx):
        db.create_object_store("t")
        await tx.object_store("s").put("written", 2)
        await asyncio.sleep(0.01)
        reached.append("after sleep")
        raise ValueError("migration failed")

    with raises(pyidb.InvalidStateError, match="sleep"):
        await factory.open(name, 2, upgrade=v2)
    assert reached == []  # stopped at the foreign await, not left to run on
    async with await factory.open(name) as db:
        assert db.version == 1 and db.object_store_names == ["s"]
        assert await db.get_all("s") == ["before"]


async def test_upgrade_of_new_database_awaiting_a_future_leaves_nothing(factory):
    name = db_name("aw")
    loop = asyncio.get_running_loop()

    async def v1(db, old, new, tx):
        db.create_object_store("s")
        fut = loop.create_future()
        loop.call_soon(fut.set_result, None)
        await fut

    with raises(pyidb.InvalidStateError, match="Future"):
        await factory.open(name, 1, upgrade=v1)
    assert name not in {d["name"] for d in await factory.databases()}
    async with await factory.open(name, 1, upgrade=_v1) as db:  # upgrades from 0 again
        assert db.object_store_names == ["s"]


async def test_close_inside_upgrade_fails_open_with_abort_error(factory):
    name = db_name("aw")

    def v1(db, old, new, tx):
        db.create_object_store("s")
        db.close()

    with raises(pyidb.AbortError):
        await factory.open(name, 1, upgrade=v1)
