"""Conformance: values (spec StructuredSerializeForStorage) as pyidb maps them to Python.

What comes back: tuples -> lists; integral floats with |x| < 2**53 -> int; datetime -> aware UTC
truncated to ms; bytes/bytearray -> bytes; NaN/inf kept; big ints kept. Values that cannot be
cloned raise DataCloneError at the call, and the store is left unchanged.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pyidb

from ._support import db_name, raises


def _out_of_line(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("s")


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    return await factory.open(db_name("values"), 1, upgrade=_out_of_line)


async def _round_trip(db: pyidb.Database, value: object) -> object:
    await db.put("s", value, 1)
    return await db.get("s", 1)


async def test_plain_values_round_trip(factory):
    values = [
        None, True, False, 0, -5, 1.5, -2.25, "", "héllo \U0001f600 \x00 end", [], {},
        [1, "two", [3.5, None, {"k": [True]}]],
        {"id": 7, "name": "Ada", "tags": ["x", "y"], "nested": {"deep": {"er": [{}]}}},
        "x" * 100_000,
    ]
    async with await _open(factory) as db:
        for v in values:
            got = await _round_trip(db, v)
            assert got == v, v
            assert type(got) is type(v), v


async def test_bools_stay_bools(factory):
    async with await _open(factory) as db:
        got = await _round_trip(db, {"t": True, "f": False, "one": 1, "zero": 0})
        assert type(got["t"]) is bool and type(got["f"]) is bool
        assert type(got["one"]) is int and type(got["zero"]) is int


async def test_integral_floats_come_back_as_int(factory):
    async with await _open(factory) as db:
        safe = 2.0**53 - 1  # Number.MAX_SAFE_INTEGER: the last integral float read as int
        got = await _round_trip(db, [1.0, -0.0, safe, -safe, 0.5, 2.0**53, 1e20])
        assert got == [1, 0, 2**53 - 1, -(2**53 - 1), 0.5, 2**53, 1e20]
        assert [type(x) for x in got] == [int, int, int, int, float, float, float]
        assert math.copysign(1, got[1]) == 1  # -0.0 came back as plain 0


async def test_nan_and_infinities_kept(factory):
    async with await _open(factory) as db:
        got = await _round_trip(db, {"nan": float("nan"), "inf": float("inf"),
                                     "ninf": float("-inf"), "list": [float("nan")]})
        assert math.isnan(got["nan"]) and math.isnan(got["list"][0])
        assert got["inf"] == float("inf") and got["ninf"] == float("-inf")


async def test_big_ints_kept(factory):
    big = [2**70, -(2**70), 2**53 + 1, 10**30 + 7]
    async with await _open(factory) as db:
        got = await _round_trip(db, big)
        assert got == big
        assert all(type(x) is int for x in got)


async def test_tuples_come_back_as_lists(factory):
    async with await _open(factory) as db:
        got = await _round_trip(db, (1, (2, 3), {"t": ("a",)}))
        assert got == [1, [2, 3], {"t": ["a"]}]
        assert type(got) is list and type(got[1]) is list


async def test_bytes_and_bytearray_come_back_as_bytes(factory):
    raw = bytes(range(256))
    async with await _open(factory) as db:
        got = await _round_trip(db, {"b": raw, "ba": bytearray(b"\x00\xff"), "e": b""})
        assert got == {"b": raw, "ba": b"\x00\xff", "e": b""}
        assert type(got["ba"]) is bytes and type(got["e"]) is bytes


async def test_datetime_values(factory):
    plus2 = timezone(timedelta(hours=2))
    async with await _open(factory) as db:
        got = await _round_trip(db, [
            datetime(2020, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
            datetime(2020, 1, 1, 12, tzinfo=plus2),
            datetime(1999, 12, 31, 23, 59, 59),
            datetime(1900, 1, 1, tzinfo=UTC),
        ])
        assert got == [
            datetime(2020, 1, 1, 12, 0, 0, 123000, tzinfo=UTC),  # truncated to ms
            datetime(2020, 1, 1, 10, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),  # naive taken as UTC
            datetime(1900, 1, 1, tzinfo=UTC),
        ]
        for d in got:
            assert d.tzinfo is not None and d.utcoffset() == timedelta(0)
        assert got[1].hour == 10


async def test_shared_references_are_not_cycles(factory):
    shared = [1, 2]
    async with await _open(factory) as db:
        got = await _round_trip(db, {"a": shared, "b": shared, "c": [shared, shared]})
        assert got == {"a": [1, 2], "b": [1, 2], "c": [[1, 2], [1, 2]]}


async def test_unicode_dict_keys_and_strings(factory):
    value = {"ключ": "значение", "": "empty key", "1": "numeric-looking key", "🙂": "\U0001f642"}
    async with await _open(factory) as db:
        assert await _round_trip(db, value) == value


def _uncloneables() -> list[object]:
    cyclic_list: list[object] = [1]
    cyclic_list.append(cyclic_list)
    cyclic_dict: dict[str, object] = {}
    cyclic_dict["self"] = {"parent": cyclic_dict}
    return [
        {1, 2}, frozenset({"a"}), date(2020, 1, 1), object(), lambda: None, {1: "int key"},
        {"ok": {("t",): "tuple key"}}, cyclic_list, cyclic_dict, [1, {2, 3}],
    ]


async def test_uncloneable_values_raise_data_clone_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            for i, bad in enumerate(_uncloneables()):
                with raises(pyidb.DataCloneError):
                    store.put(bad, i)  # raises at once, at the call
                with raises(pyidb.DataCloneError):
                    store.add(bad, i)
        assert await db.count("s") == 0


async def test_data_clone_error_leaves_store_unchanged(factory):
    async with await _open(factory) as db:
        await db.put("s", "original", 1)
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.DataCloneError):
                store.put({"bad": {1, 2}}, 1)
            assert await store.get(1) == "original"
            # the synchronous error does not abort the transaction: this write commits
            await store.put("second", 2)
        assert await db.get_all("s") == ["original", "second"]


async def test_data_clone_error_through_shortcut(factory):
    async with await _open(factory) as db:
        with raises(pyidb.DataCloneError):
            await db.put("s", {"when": date(2020, 1, 1)}, 1)
        assert await db.count("s") == 0


async def test_stored_value_is_a_copy_of_the_put_object(factory):
    value = {"n": 1, "list": [1, 2], "inner": {"x": "a"}}
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            request = store.put(value, 1)
            # mutating after the call must not change what was stored (clone at call time)
            value["n"] = 2
            value["list"].append(3)
            value["inner"]["x"] = "b"
            await request
            assert await store.get(1) == {"n": 1, "list": [1, 2], "inner": {"x": "a"}}
        assert await db.get("s", 1) == {"n": 1, "list": [1, 2], "inner": {"x": "a"}}


async def test_got_value_is_a_copy(factory):
    async with await _open(factory) as db:
        await db.put("s", {"list": [1], "d": {"k": "v"}}, 1)
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            first = await store.get(1)
            first["list"].append(2)
            first["d"]["k"] = "changed"
            first["new"] = True
            again = await store.get(1)
            assert again == {"list": [1], "d": {"k": "v"}}
            assert again is not first
        assert await db.get("s", 1) == {"list": [1], "d": {"k": "v"}}


async def test_get_all_values_are_independent_copies(factory):
    async with await _open(factory) as db:
        await db.put("s", {"a": [1]}, 1)
        await db.put("s", {"a": [1]}, 2)
        got = await db.get_all("s")
        got[0]["a"].append(99)
        assert got[1] == {"a": [1]}
        assert await db.get_all("s") == [{"a": [1]}, {"a": [1]}]


async def test_put_replaces_whole_value(factory):
    async with await _open(factory) as db:
        await db.put("s", {"a": 1, "b": 2}, "k")
        await db.put("s", {"c": 3}, "k")
        assert await db.get("s", "k") == {"c": 3}
        assert await db.count("s") == 1


async def test_add_existing_key_is_constraint_error(factory):
    async with await _open(factory) as db:
        await db.add("s", "first", 1)
        with raises(pyidb.ConstraintError):
            await db.add("s", "second", 1)
        assert await db.get("s", 1) == "first"


async def test_large_nested_value(factory):
    value = {"rows": [{"i": i, "s": str(i) * 3, "f": i / 7} for i in range(2000)]}
    async with await _open(factory) as db:
        got = await _round_trip(db, value)
        assert got == value
