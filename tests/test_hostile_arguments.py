"""CPython: hostile arguments are pyidb errors, never a hang or a bare Python exception (issue 9).

#1 a str subclass whose ``__eq__`` raises once ran inside the engine's abort and left every later
transaction of the database waiting forever; names and options are now plain built-in types
from the API boundary on (pyidb/arguments.py), and a failing cleanup step still releases the
scheduler. #5 keys nested too deep, unhashable names, broken iterables, objects whose truth value
raises and released memoryviews each raise the right pyidb error. Runs on the ``factory``
fixture (memory and SQLite engines).
"""

from __future__ import annotations

import asyncio

import pytest
from hostile_objects import BrokenIterable, NoTruth, RaisingEqStr, released_memoryview

import pyidb
from pyidb.engine.connection import DatabaseState
from pyidb.keys import MAX_KEY_DEPTH


def _stores(db, old, new, tx):  # type: ignore[no-untyped-def]
    db.create_object_store("base")
    db.create_object_store("ix").create_index("by_x", "x")


async def test_str_subclass_name_then_failed_upgrade_does_not_hang(factory):
    def v2(db, old, new, tx):
        _stores(db, old, new, tx)
        store = db.create_object_store(RaisingEqStr("x"))
        assert type(store.name) is str  # kept as a plain str from the boundary on

    db = await factory.open("d", 2, upgrade=v2)
    db.close()
    with pytest.raises(pyidb.InvalidArgumentError, match="must be a str, not float"):
        await factory.open("d", 3, upgrade=lambda d, o, n, t: d.create_object_store(1.5))
    db = await factory.open("d")
    # before the fix, this waited forever: the abort above raised RuntimeError half-way
    assert await asyncio.wait_for(db.count("base"), 10) == 0
    assert db.version == 2 and db.object_store_names == ["base", "ix", "x"]
    async with db.transaction(RaisingEqStr("x"), "readwrite") as tx:
        await tx.object_store(RaisingEqStr("x")).put("v", 1)
    assert await db.get_all(RaisingEqStr("x")) == ["v"]
    db.close()


async def test_failing_abort_cleanup_still_releases_the_scheduler(factory, monkeypatch):
    db = await factory.open("d", 1, upgrade=_stores)
    reported: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    real = DatabaseState.after_abort
    fail = [True]

    def after_abort(self, versionchange):  # type: ignore[no-untyped-def]
        if fail[0]:
            fail[0] = False
            raise RuntimeError("injected fault: a cleanup step of abort fails")
        return real(self, versionchange)

    # A fault injected on purpose (the one mock here): the step after the rollback raises.
    monkeypatch.setattr(DatabaseState, "after_abort", after_abort)
    tx = db.transaction("base", "readwrite")
    await tx.object_store("base").put("doomed", 1)  # started, its put ran
    tx.abort()
    with pytest.raises(pyidb.AbortError):
        await tx.done
    assert [c["exception"].args[0] for c in reported] == [
        "injected fault: a cleanup step of abort fails"
    ]
    # the scheduler was released: the next writer of the same store runs, nothing partial
    assert await asyncio.wait_for(db.put("base", "after", 2), 10) == 2
    assert await db.get_all("base") == ["after"]
    db.close()


async def test_keys_nested_too_deep_are_data_errors(factory):
    db = await factory.open("d", 1, upgrade=_stores)

    def nested(depth: int) -> list:
        key: list = []
        for _ in range(depth):
            key = [key]
        return key

    ok = nested(MAX_KEY_DEPTH - 1)  # MAX_KEY_DEPTH arrays in all
    assert await db.put("base", "deep", ok) == ok
    for depth in (MAX_KEY_DEPTH, 490, 5000):
        with pytest.raises(pyidb.DataError, match="nested deeper"):
            await db.put("base", "v", nested(depth))
        with pytest.raises(pyidb.DataError, match="nested deeper"):
            await db.get("base", nested(depth))
    # a deep array inside a value is stored; as an index key it is no key (not indexed)
    await db.put("ix", {"x": nested(900)}, 1)
    assert await db.count_from_index("ix", "by_x") == 0
    assert await db.count("base") == 1
    db.close()


async def test_unhashable_and_non_str_names_are_invalid_argument_errors(factory):
    db = await factory.open("d", 1, upgrade=_stores)
    for bad in ([[]], [{}], {}, 1.5, None, b"base", [["base"]]):
        with pytest.raises(pyidb.InvalidArgumentError):
            db.transaction(bad)  # type: ignore[arg-type]
    for bad in ([], {}, {"a"}, 1.5, None, b"base"):
        async with db.transaction("ix") as tx:
            store = tx.object_store("ix")
            with pytest.raises(pyidb.InvalidArgumentError):
                tx.object_store(bad)  # type: ignore[arg-type]
            with pytest.raises(pyidb.InvalidArgumentError):
                store.index(bad)  # type: ignore[arg-type]
            assert await store.count() == 0
    db.close()


async def test_broken_iterables_are_invalid_argument_errors(factory):
    db = await factory.open("d", 1, upgrade=_stores)
    released = released_memoryview()
    for bad in (5, None, BrokenIterable(), released, object()):
        with pytest.raises(pyidb.InvalidArgumentError):
            db.transaction(bad)  # type: ignore[arg-type]
    async with db.transaction("base", "readwrite") as tx:
        store = tx.object_store("base")
        for bad in (5, BrokenIterable(), released, object()):
            for call in (lambda b: store.put_many(b), lambda b: store.add_many(b),
                         lambda b: store.put_many(["v"], b), lambda b: store.get_many(b),
                         lambda b: store.delete_many(b)):
                with pytest.raises(pyidb.InvalidArgumentError):
                    call(bad)
        await store.put("kept", 1)  # raising at the call does not abort the transaction
    assert await db.get_all("base") == ["kept"]
    db.close()


async def test_objects_without_a_truth_value_are_invalid_argument_errors(factory):
    bad = NoTruth()

    def v1(db, old, new, tx):
        store = db.create_object_store("base")
        with pytest.raises(pyidb.InvalidArgumentError):
            db.create_object_store("s2", auto_increment=bad)
        with pytest.raises(pyidb.InvalidArgumentError):
            store.create_index("i", "x", unique=bad)
        with pytest.raises(pyidb.InvalidArgumentError):
            store.create_index("i", "x", multi_entry=bad)

    db = await factory.open("d", 1, upgrade=v1)
    assert db.object_store_names == ["base"]
    with pytest.raises(pyidb.InvalidArgumentError):
        db.transaction("base", bad)  # type: ignore[arg-type]
    with pytest.raises(pyidb.InvalidArgumentError):
        db.transaction("base", durability=bad)  # type: ignore[arg-type]
    with pytest.raises(pyidb.InvalidArgumentError):
        pyidb.KeyRange.bound(1, 2, bad)  # type: ignore[arg-type]
    async with db.transaction("base") as tx:
        store = tx.object_store("base")
        with pytest.raises(pyidb.InvalidArgumentError):
            store.open_cursor(None, bad)  # type: ignore[arg-type]
        with pytest.raises(pyidb.InvalidArgumentError):
            store.open_key_cursor(None, bad)  # type: ignore[arg-type]
        assert await store.count() == 0
    db.close()
