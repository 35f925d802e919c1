"""Regressions found while integrating backends; each runs on every backend."""

import sys

import pyidb

from ._support import db_name


async def _open(factory):
    return await factory.open(db_name("reg"), 1, upgrade=lambda db, o, n, tx: db.create_object_store("s"))


async def test_caught_request_error_does_not_linger_as_the_current_exception(factory):
    db = await _open(factory)
    await db.add("s", 1, "k")
    try:
        await db.add("s", 2, "k")
    except pyidb.ConstraintError:
        pass
    assert sys.exc_info() == (None, None, None)
    try:
        raise KeyError("later")
    except KeyError as exc:
        assert exc.__context__ is None, "a later error was chained to the handled request error"
    db.close()


async def test_error_of_request_escaping_async_with_is_the_transaction_error(factory):
    db = await _open(factory)
    await db.add("s", 1, "k")
    tx = db.transaction("s", "readwrite")
    try:
        async with tx:
            await tx.object_store("s").put(5, "other")
            await tx.object_store("s").add(2, "k")
    except pyidb.ConstraintError:
        pass
    assert isinstance(tx.error, pyidb.ConstraintError)
    assert await db.get("s", "other") is None  # the put before the failure was rolled back
    db.close()


async def test_failed_batch_aborts_the_transaction_even_if_caught(factory):
    db = await _open(factory)
    await db.add("s", 1, "k")
    tx = db.transaction("s", "readwrite")
    store = tx.object_store("s")
    await store.put("before", "a")
    try:
        await store.add_many(["x", "dup"], ["b", "k"])
    except pyidb.ConstraintError:
        pass
    try:
        await tx.done
    except pyidb.ConstraintError:
        pass
    assert isinstance(tx.error, pyidb.ConstraintError)
    assert await db.get_all_keys("s") == ["k"]  # nothing of the batch, nor the put before it
    db.close()
