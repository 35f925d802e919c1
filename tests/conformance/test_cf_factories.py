"""Conformance: factories and the module-level API (``pyidb.open(..., factory=...)``).

Two tests here are backend-specific on purpose: separate "memory:" factories are separate
engines, while every "browser" factory is the page origin's one IndexedDB.
"""

from __future__ import annotations

import pyidb

from ._support import browser_only, db_name, engine_only, raises


def _v1(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")


async def test_module_level_api_with_factory(factory):
    name = db_name("mod")
    db = await pyidb.open(name, 1, upgrade=_v1, factory=factory)
    await db.put("s", "v", 1)
    db.close()
    assert name in [d["name"] for d in await pyidb.databases(factory=factory)]
    async with await pyidb.open(name, factory=factory) as again:
        assert await again.get("s", 1) == "v"
    await pyidb.delete_database(name, factory=factory)
    assert name not in [d["name"] for d in await pyidb.databases(factory=factory)]


async def test_factory_url_and_cmp(factory):
    assert isinstance(factory.url, str) and factory.url
    assert factory.cmp("a", 1) == 1
    with raises(pyidb.DataError):
        factory.cmp(None, 1)


async def test_unknown_factory_url(factory):
    with raises(pyidb.InvalidArgumentError):
        pyidb.factory("postgres://nope")


async def test_error_classes_carry_dom_names(factory):
    pairs = {
        pyidb.ConstraintError: "ConstraintError", pyidb.DataError: "DataError",
        pyidb.DataCloneError: "DataCloneError", pyidb.InvalidStateError: "InvalidStateError",
        pyidb.InvalidAccessError: "InvalidAccessError", pyidb.NotFoundError: "NotFoundError",
        pyidb.ReadOnlyError: "ReadOnlyError", pyidb.VersionError: "VersionError",
        pyidb.TransactionInactiveError: "TransactionInactiveError",
        pyidb.AbortError: "AbortError", pyidb.QuotaExceededError: "QuotaExceededError",
        pyidb.UnknownError: "UnknownError", pyidb.KeyPathSyntaxError: "SyntaxError",
        pyidb.InvalidArgumentError: "TypeError",
    }
    for cls, name in pairs.items():
        assert cls.name == name and issubclass(cls, pyidb.Error)
    assert issubclass(pyidb.InvalidArgumentError, TypeError)


async def test_errors_say_what_was_wrong(factory):
    async with await factory.open(db_name("msg"), 1, upgrade=_v1) as db:
        await db.add("s", "a", 1)
        with raises(pyidb.ConstraintError) as caught:
            await db.add("s", "b", 1)
        assert str(caught.value)  # a message a user can act on, not an empty error
        with raises(pyidb.NotFoundError) as caught:
            db.transaction("missing")
        assert str(caught.value)


@engine_only("each 'memory:' factory is a separate pure-Python engine")
async def test_memory_factories_are_separate(factory):
    name = db_name("iso")
    one, two = pyidb.factory("memory:"), pyidb.factory("memory:")
    async with await one.open(name, 1, upgrade=_v1) as db:
        await db.put("s", "only in one", 1)
    assert [d["name"] for d in await two.databases()] == []
    async with await two.open(name, 1, upgrade=_v1) as db:
        assert await db.count("s") == 0


@browser_only
async def test_browser_factories_share_the_origin_database(factory):
    name = db_name("origin")
    async with await factory.open(name, 1, upgrade=_v1) as db:
        await db.put("s", "shared", 1)
    other = pyidb.factory("browser")
    assert other.url == "browser"
    async with await other.open(name) as db:
        assert db.version == 1
        assert await db.get("s", 1) == "shared"
    await other.delete_database(name)
