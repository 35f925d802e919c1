"""CPython-only: 100,000 records on the memory and SQLite engines, checked against a sorted model.

Bulk load with ``put_many``, then counts and ``get_all_keys`` over many ranges, cursor walks in
all four directions (over the store and over indexes), a multiEntry index over random tags, and
range deletes that must keep every index in step with the store.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict

import pyidb
from pyidb import KeyRange

N = 100_000
TAGS = [f"t{i:02d}" for i in range(20)]
GROUPS = 7


class Model:
    """Sorted primary keys plus, per index key, the sorted primary keys that carry it."""

    def __init__(self, rng: random.Random) -> None:
        ids = list(range(0, 2 * N, 2))  # even ids: odd numbers are gaps for range bounds
        rng.shuffle(ids)
        self.values = {}
        for i in ids:
            tags = [rng.choice(TAGS) for _ in range(rng.randrange(4))]  # repeats on purpose
            self.values[i] = {"id": i, "tags": tags, "g": i % GROUPS}
        self.load_order = ids
        self.rebuild()

    def rebuild(self) -> None:
        self.keys = sorted(self.values)
        self.by_tag: dict[str, list[int]] = defaultdict(list)
        self.by_g: dict[int, list[int]] = defaultdict(list)
        for k in self.keys:
            v = self.values[k]
            for t in set(v["tags"]):
                self.by_tag[t].append(k)
            self.by_g[v["g"]].append(k)

    def key_range(self, lo: int, hi: int, lo_open: bool, hi_open: bool) -> list[int]:
        a = (bisect.bisect_right if lo_open else bisect.bisect_left)(self.keys, lo)
        b = (bisect.bisect_left if hi_open else bisect.bisect_right)(self.keys, hi)
        return self.keys[a:b]

    def delete_range(self, lo: int, hi: int) -> None:
        for k in self.key_range(lo, hi, False, False):
            del self.values[k]
        self.rebuild()


def _upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    items = db.create_object_store("items", key_path="id")
    items.create_index("by_tag", "tags", multi_entry=True)
    items.create_index("by_g", "g")


def _upgrade_no_indexes(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("items", key_path="id")


async def _load(factory: pyidb.Factory, model: Model, upgrade=_upgrade) -> pyidb.Database:
    db = await factory.open("big", 1, upgrade=upgrade)
    values = [model.values[i] for i in model.load_order]
    async with db.transaction("items", "readwrite", durability="relaxed") as tx:
        store = tx.object_store("items")
        for start in range(0, N, 25_000):
            keys = await store.put_many(values[start:start + 25_000])
            assert keys == model.load_order[start:start + 25_000]
    return db


async def _walk(source, query, direction: str, limit: int) -> list[tuple]:
    out = []
    async for cursor in source.open_cursor(query, direction):
        out.append((cursor.key, cursor.primary_key))
        if len(out) == limit:
            break
    return out


async def test_hundred_thousand_records_ranges_and_cursors(factory):
    rng = random.Random(20240501)
    model = Model(rng)
    db = await _load(factory, model, _upgrade_no_indexes)  # indexes: the next test
    tx = db.transaction("items")
    store = tx.object_store("items")
    assert await store.count() == N
    # Counts and key lists over random ranges, with open and closed bounds, and count limits.
    for _ in range(40):
        lo, hi = sorted(rng.randrange(-10, 2 * N + 10) for _ in range(2))
        lo_open, hi_open = rng.random() < 0.5, rng.random() < 0.5
        if lo == hi and (lo_open or hi_open):
            continue
        expected = model.key_range(lo, hi, lo_open, hi_open)
        query = KeyRange.bound(lo, hi, lo_open, hi_open)
        assert await store.count(query) == len(expected)
        limit = rng.choice([None, 1, 17, 500])
        assert await store.get_all_keys(query, limit) == expected[:limit]
    assert await store.get_all_keys(KeyRange.lower_bound(2 * N - 7)) == [2 * N - 6, 2 * N - 4, 2 * N - 2]
    assert await store.get_all_keys(KeyRange.upper_bound(4, True)) == [0, 2]
    # The whole store, one cursor step per record, forward.
    walked = [k for k, _ in await _walk(store, None, "next", N + 1)]
    assert walked == model.keys
    # The other directions over a slice (a full walk each would only repeat the same path).
    lo, hi = 50_001, 70_001
    expected = model.key_range(lo, hi, False, False)
    assert [k for k, _ in await _walk(store, KeyRange.bound(lo, hi), "prev", N)] == expected[::-1]
    assert [k for k, _ in await _walk(store, KeyRange.bound(lo, hi), "nextunique", N)] == expected
    assert [k for k, _ in await _walk(store, KeyRange.bound(lo, hi), "prevunique", N)] == expected[::-1]
    await tx.done
    db.close()


async def test_multi_entry_index_and_range_deletes_agree_with_the_model(factory):
    rng = random.Random(7)
    model = Model(rng)
    db = await _load(factory, model)

    async def check_indexes() -> None:
        tx = db.transaction("items")
        store = tx.object_store("items")
        by_tag, by_g = store.index("by_tag"), store.index("by_g")
        assert await store.count() == len(model.keys)
        assert await by_tag.count() == sum(len(v) for v in model.by_tag.values())
        all_tags = sorted(set(TAGS) | set(model.by_tag))
        for tag in all_tags:
            assert await by_tag.count(tag) == len(model.by_tag[tag]), tag
        for tag in rng.sample(TAGS, 3):
            assert await by_tag.get_all_keys(tag) == model.by_tag[tag]  # primary key order
        lo_tag, hi_tag = "t05", "t08"
        in_range = [(t, k) for t in all_tags if lo_tag <= t <= hi_tag for k in model.by_tag[t]]
        assert await by_tag.count(KeyRange.bound(lo_tag, hi_tag)) == len(in_range)
        assert await _walk(by_tag, KeyRange.bound(lo_tag, hi_tag), "next", 2000) == in_range[:2000]
        tail = [(t, k) for t in reversed(all_tags) if t >= "t17" for k in reversed(model.by_tag[t])]
        assert await _walk(by_tag, KeyRange.lower_bound("t17"), "prev", 1500) == tail[:1500]
        # Unique directions: one entry per index key, each with its LOWEST primary key (spec:
        # prevunique too yields the first record of each key, walking keys backwards).
        firsts = [(g, model.by_g[g][0]) for g in range(GROUPS) if model.by_g[g]]
        assert await _walk(by_g, None, "nextunique", 100) == firsts
        assert await _walk(by_g, None, "prevunique", 100) == firsts[::-1]
        for g in range(GROUPS):
            assert await by_g.count(g) == len(model.by_g[g])
        await tx.done

    await check_indexes()
    for lo, hi in [(20_000, 39_999), (0, 10), (150_001, 10**9), (77_776, 77_776)]:
        async with db.transaction("items", "readwrite", durability="relaxed") as tx:
            await tx.object_store("items").delete(KeyRange.bound(lo, hi))
        model.delete_range(lo, hi)
        await check_indexes()
    # Bulk re-tagging through a cursor keeps the multiEntry index in step as well.
    async with db.transaction("items", "readwrite", durability="relaxed") as tx:
        async for cursor in tx.object_store("items").index("by_tag").open_cursor("t03"):
            value = dict(cursor.value)
            value["tags"] = [t for t in value["tags"] if t != "t03"] + ["t99"]
            await cursor.update(value)
            model.values[cursor.primary_key] = value
    model.rebuild()
    assert model.by_tag["t03"] == [] and model.by_tag["t99"]
    await check_indexes()
    db.close()
