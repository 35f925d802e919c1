"""Conformance: keys (spec §2.7 "Keys"), key comparison, key validation and key ranges.

Keys are numbers < dates < strings < binaries < arrays; strings compare by UTF-16 code unit;
0 == -0 and 1 == 1.0. Invalid keys raise DataError synchronously, at the call.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone

import pyidb
from pyidb import KeyRange

from ._support import db_name, raises

INVALID_KEYS = [True, False, {}, {"a": 1}, float("nan"), {1, 2}, [1, None], [True], object(),
                2**53, -(2**53), 2**53 + 1, -(2**53) - 1, [1, [2, {}]]]

# One key of each kind, in IndexedDB order.
ORDERED_KEYS = [
    float("-inf"), -(2.0**53), -1.5, 0, 1, 1.5, 2.0**53, float("inf"),
    datetime(1960, 1, 1, tzinfo=UTC), datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    "", "A", "a", "ab", "b", "\U00010000", "\uffff",
    b"", b"\x00", b"\x01", b"\x01\x00", b"\x7f", b"\x80", b"\xff",
    [], [float("-inf")], [1], [1, 0], [1, "a"], [2], ["a"], [b""], [[]], [[1]],
]
# "\U00010000" is the surrogate pair D800 DC00 in UTF-16, so it sorts before "\uffff" in
# IndexedDB although Python's own str order says the opposite.


def _out_of_line(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    return await factory.open(db_name("keys"), 1, upgrade=_out_of_line)


async def test_cmp_orders_types(factory):
    for a, b in itertools.pairwise(ORDERED_KEYS):
        assert pyidb.cmp(a, b) == -1, (a, b)
        assert pyidb.cmp(b, a) == 1, (b, a)
        assert factory.cmp(a, b) == -1, (a, b)


async def test_cmp_equal_numbers(factory):
    assert pyidb.cmp(1, 1.0) == 0
    assert pyidb.cmp(0, -0.0) == 0
    assert pyidb.cmp(-0.0, 0.0) == 0
    assert pyidb.cmp([1, "x"], [1.0, "x"]) == 0
    assert pyidb.cmp(2, 1) == 1


async def test_cmp_strings_by_utf16_code_units(factory):
    assert pyidb.cmp("\U00010000", "\uffff") == -1
    assert pyidb.cmp("\U0001f600", "\ufb01") == -1
    assert pyidb.cmp("a", "a") == 0
    assert pyidb.cmp("Z", "a") == -1
    assert pyidb.cmp("a", "a\x00") == -1


async def test_cmp_dates_by_time(factory):
    a = datetime(2020, 1, 1, 12, tzinfo=UTC)
    b = datetime(2020, 1, 1, 13, tzinfo=timezone(timedelta(hours=2)))  # 11:00 UTC
    assert pyidb.cmp(b, a) == -1
    assert pyidb.cmp(datetime(2020, 1, 1, 12), a) == 0  # naive means UTC


async def test_cmp_rejects_invalid_keys(factory):
    for bad in INVALID_KEYS:
        with raises(pyidb.DataError):
            pyidb.cmp(bad, 1)
        with raises(pyidb.DataError):
            factory.cmp(1, bad)


async def test_put_get_every_key_kind(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for i, key in enumerate(ORDERED_KEYS):
                assert await store.put(i, key) == key
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            for i, key in enumerate(ORDERED_KEYS):
                assert await store.get(key) == i, key
                assert await store.get_key(key) == key
            assert await store.count() == len(ORDERED_KEYS)


async def test_get_all_keys_orders_mixed_keys(factory):
    shuffled = list(ORDERED_KEYS)
    random.Random(7).shuffle(shuffled)
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for key in shuffled:
                await store.add("v", key)
        assert await db.get_all_keys("s") == ORDERED_KEYS


async def test_int_and_float_are_one_key(factory):
    async with await _open(factory) as db:
        await db.put("s", "first", 1)
        await db.put("s", "second", 1.0)
        assert await db.count("s") == 1
        assert await db.get("s", 1) == "second"
        key = await db.get_key("s", 1.0)
        assert key == 1 and type(key) is int


async def test_zero_and_negative_zero_are_one_key(factory):
    async with await _open(factory) as db:
        await db.put("s", "zero", 0)
        await db.put("s", "negative zero", -0.0)
        assert await db.get_all_keys("s") == [0]
        assert await db.get("s", 0.0) == "negative zero"


async def test_keys_come_back_normalized(factory):
    naive = datetime(2021, 3, 4, 5, 6, 7, 891234)
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            assert await store.put("a", bytearray(b"ab")) == b"ab"
            assert await store.put("b", 2.0) == 2
            assert await store.put("c", naive) == datetime(2021, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
        keys = await db.get_all_keys("s")
        assert keys == [2, datetime(2021, 3, 4, 5, 6, 7, 891000, tzinfo=UTC), b"ab"]
        assert type(keys[0]) is int
        assert keys[1].utcoffset() == timedelta(0)
        assert type(keys[2]) is bytes


async def test_tuple_key_is_an_array_key(factory):
    async with await _open(factory) as db:
        await db.put("s", "v", (1, "a"))
        assert await db.get("s", [1, "a"]) == "v"
        assert await db.get_all_keys("s") == [[1, "a"]]


async def test_date_keys_are_truncated_to_milliseconds(factory):
    base = datetime(2022, 2, 2, 2, 2, 2, tzinfo=UTC)
    async with await _open(factory) as db:
        await db.put("s", "x", base + timedelta(microseconds=1001))
        await db.put("s", "y", base + timedelta(microseconds=1999))
        assert await db.count("s") == 1
        assert await db.get("s", base + timedelta(milliseconds=1)) == "y"
        assert await db.get_all_keys("s") == [base + timedelta(milliseconds=1)]


async def test_date_key_naive_is_utc(factory):
    async with await _open(factory) as db:
        await db.put("s", "noon", datetime(2020, 6, 1, 12))
        aware = datetime(2020, 6, 1, 14, tzinfo=timezone(timedelta(hours=2)))
        assert await db.get("s", aware) == "noon"
        (key,) = await db.get_all_keys("s")
        assert key.utcoffset() == timedelta(0) and key.hour == 12


async def test_nested_array_key(factory):
    key = [1, "a", [b"x", datetime(2000, 1, 1, tzinfo=UTC)], []]
    async with await _open(factory) as db:
        assert await db.put("s", "v", key) == key
        assert await db.get("s", key) == "v"
        assert await db.get_key("s", key) == key
        assert await db.get("s", [1, "a", [b"x"]]) is None


async def test_safe_integer_limits_are_keys(factory):
    async with await _open(factory) as db:
        for key in (2.0**53, -(2.0**53), 2**53 - 1, -(2**53 - 1), 1e300, -1e300):
            await db.put("s", "v", key)
        assert await db.count("s") == 6
        keys = await db.get_all_keys("s")
        assert keys[0] == -1e300
        assert [type(k) for k in keys] == [float, float, int, int, float, float]


async def test_int_2_53_is_a_bigint_and_no_key_on_every_backend(factory):
    # issue 9 #8: the int 2**53 is a BigInt in JS (values store it so): no key, neither given
    # explicitly nor found at a key path; the float 2.0**53 is a JS number and a key
    async def up(db, old, new, tx):
        db.create_object_store("s")
        db.create_object_store("inline", key_path="id")

    async with await factory.open(db_name("big"), 1, upgrade=up) as db:
        for big in (2**53, -(2**53)):
            with raises(pyidb.DataError, match="BigInt"):
                await db.put("s", "v", big)
            with raises(pyidb.DataError):
                await db.put("inline", {"id": big})
        assert await db.put("inline", {"id": 2.0**53}) == 2**53
        assert await db.get("inline", 2**53 - 1) is None
        assert await db.get_all("inline") == [{"id": 2**53}]
        assert await db.count("s") == 0


async def test_invalid_keys_rejected_by_put_at_the_call(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for bad in INVALID_KEYS:
                with raises(pyidb.DataError):
                    store.put("v", bad)  # raises at once, before any await
            # a synchronous error does not abort the transaction
            await store.put("ok", 1)
        assert await db.get_all("s") == ["ok"]


async def test_invalid_keys_rejected_by_add(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.DataError):
                store.add("v", [1, {"no": "dicts"}])
            with raises(pyidb.DataError):
                store.add("v", 2**60)
        assert await db.count("s") == 0


async def test_invalid_queries_rejected(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for bad in (True, {}, float("nan")):
                with raises(pyidb.DataError):
                    store.get(bad)
                with raises(pyidb.DataError):
                    store.count(bad)
                with raises(pyidb.DataError):
                    store.delete(bad)
            with raises(pyidb.DataError):
                store.get(None)  # get needs a key or range: null is not allowed
            with raises(pyidb.DataError):
                store.delete(None)


async def test_missing_key_gives_none(factory):
    async with await _open(factory) as db:
        await db.put("s", "v", 1)
        assert await db.get("s", 2) is None
        assert await db.get_key("s", 2) is None
        assert await db.get_all("s", 2) == []
        assert await db.count("s", 2) == 0


async def test_key_range_constructors_and_includes(factory):
    r = KeyRange.bound(1, 10, upper_open=True)
    assert (r.lower, r.upper, r.lower_open, r.upper_open) == (1, 10, False, True)
    assert r.includes(1) and r.includes(9.5) and not r.includes(10) and not r.includes("a")
    only = KeyRange.only("a")
    assert only.includes("a") and not only.includes("b")
    lower = KeyRange.lower_bound(5, open=True)
    assert not lower.includes(5) and lower.includes(6) and lower.includes("z") and lower.includes([])
    upper = KeyRange.upper_bound("m")
    assert upper.includes("m") and upper.includes(1) and not upper.includes("n")
    assert KeyRange.bound([1], [1, 5]).includes([1, 2])


async def test_key_range_invalid(factory):
    with raises(pyidb.DataError):
        KeyRange.bound(2, 1)
    with raises(pyidb.DataError):
        KeyRange.bound(1, 1, lower_open=True)
    with raises(pyidb.DataError):
        KeyRange.bound("a", 1)  # strings sort after numbers
    for bad in (True, {}, float("nan"), None):
        with raises(pyidb.DataError):
            KeyRange.only(bad)
        with raises(pyidb.DataError):
            KeyRange.lower_bound(bad)
    with raises(pyidb.DataError):
        KeyRange.bound(1, 2).includes(True)


async def test_key_range_queries_on_store(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for k in range(1, 11):
                await store.put(f"v{k}", k)
            await store.put("str", "a")
            assert await store.get_all_keys(KeyRange.bound(3, 6)) == [3, 4, 5, 6]
            assert await store.get_all_keys(KeyRange.bound(3, 6, True, True)) == [4, 5]
            assert await store.get_all(KeyRange.lower_bound(9)) == ["v9", "v10", "str"]
            assert await store.get_all_keys(KeyRange.upper_bound(2, open=True)) == [1]
            assert await store.count(KeyRange.lower_bound(5)) == 7
            assert await store.get(KeyRange.lower_bound(4.5)) == "v5"
            assert await store.get_key(KeyRange.lower_bound(4.5)) == 5
            assert await store.get(KeyRange.lower_bound(11)) == "str"
            await store.delete(KeyRange.bound(2, 9))
            assert await store.get_all_keys() == [1, 10, "a"]


async def test_plain_key_query_means_only(factory):
    async with await _open(factory) as db:
        for k in (1, 2, 3):
            await db.put("s", k * 10, k)
        assert await db.count("s", 2) == 1
        assert await db.get_all("s", 2) == [20]
        assert await db.get_all_keys("s", 3) == [3]
        await db.delete("s", 1)
        assert await db.get_all_keys("s") == [2, 3]


async def test_get_all_count_limit(factory):
    async with await _open(factory) as db:
        for k in range(5):
            await db.put("s", k, k)
        assert await db.get_all("s", None, 2) == [0, 1]
        assert await db.get_all_keys("s", KeyRange.lower_bound(2), 2) == [2, 3]
        assert await db.get_all("s", None, 0) == [0, 1, 2, 3, 4]  # 0 means no limit
        assert await db.get_all("s", None, 100) == [0, 1, 2, 3, 4]
