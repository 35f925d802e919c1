"""The engine's bulk-load path (record_store._insert_many): a put_many/add_many of new keys is
written with one put_many per tree; anything else (a key already stored or twice in the batch)
falls back to record by record. Both must leave the same records and index entries."""

from __future__ import annotations

import pytest

import pyidb
from pyidb import KeyRange


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("s", key_path="id")
    store.create_index("by_n", "n")
    store.create_index("by_tag", "tags", multi_entry=True)


@pytest.fixture(params=["memory", "sqlite"])
def bulk_factory(request, tmp_path):
    url = "memory:" if request.param == "memory" else f"sqlite:///{tmp_path}/bulk.db"
    f = pyidb.factory(url)
    yield f
    close = getattr(f, "close", None)
    if close is not None:
        close()


def _rec(i: int, n: float, tags: list[str]) -> dict:
    return {"id": i, "n": n, "tags": tags}


async def _index(db: pyidb.Database, index: str, query) -> list:
    async with db.transaction("s") as tx:
        return await tx.object_store("s").index(index).get_all_keys(query)


async def test_bulk_load_writes_records_and_every_index_entry(bulk_factory):
    db = await bulk_factory.open("bulk", 1, upgrade=_schema)
    data = [_rec(i, i * 0.5, [f"t{i % 3}", "all"]) for i in range(300)]
    async with db.transaction("s", "readwrite") as tx:
        assert await tx.object_store("s").put_many(data) == list(range(300))
    assert await db.get_all("s") == data
    assert await _index(db, "by_n", KeyRange.bound(10, 20)) == list(range(20, 41))
    assert await _index(db, "by_tag", "t1") == [i for i in range(300) if i % 3 == 1]
    assert len(await _index(db, "by_tag", "all")) == 300
    db.close()


async def test_bulk_with_a_key_twice_keeps_the_last_and_its_index_entries_only(bulk_factory):
    db = await bulk_factory.open("bulk", 1, upgrade=_schema)
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many([_rec(1, 1.0, ["a"]), _rec(2, 2.0, ["b"]),
                                             _rec(1, 9.0, ["z"])])
    assert await db.get_all("s") == [_rec(1, 9.0, ["z"]), _rec(2, 2.0, ["b"])]
    assert await _index(db, "by_n", None) == [2, 1]
    assert await _index(db, "by_tag", "a") == []
    assert await _index(db, "by_tag", "z") == [1]
    db.close()


async def test_bulk_over_stored_keys_replaces_their_index_entries(bulk_factory):
    db = await bulk_factory.open("bulk", 1, upgrade=_schema)
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many([_rec(i, float(i), ["old"]) for i in range(5)])
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many([_rec(i, 10.0 + i, ["new"]) for i in range(3, 8)])
    assert [r["n"] for r in await db.get_all("s")] == [0.0, 1.0, 2.0, 13.0, 14.0, 15.0, 16.0, 17.0]
    assert await _index(db, "by_tag", "old") == [0, 1, 2]
    assert await _index(db, "by_tag", "new") == [3, 4, 5, 6, 7]
    assert await _index(db, "by_n", KeyRange.bound(3, 4)) == []
    db.close()


async def test_add_many_of_a_stored_key_writes_nothing_of_the_batch(bulk_factory):
    db = await bulk_factory.open("bulk", 1, upgrade=_schema)
    await db.put("s", _rec(7, 7.0, ["x"]))
    with pytest.raises(pyidb.ConstraintError):
        async with db.transaction("s", "readwrite") as tx:
            await tx.object_store("s").add_many([_rec(i, float(i), ["y"]) for i in range(5, 10)])
    assert await db.get_all("s") == [_rec(7, 7.0, ["x"])]
    assert await _index(db, "by_tag", "y") == []
    db.close()


async def test_a_failed_transaction_takes_back_a_bulk_load(bulk_factory):
    db = await bulk_factory.open("bulk", 1, upgrade=_schema)
    with pytest.raises(RuntimeError):
        async with db.transaction("s", "readwrite") as tx:
            await tx.object_store("s").put_many([_rec(i, float(i), ["y"]) for i in range(50)])
            raise RuntimeError("the program fails after the load")
    assert await db.get_all("s") == []
    assert await _index(db, "by_tag", "y") == []
    db.close()
