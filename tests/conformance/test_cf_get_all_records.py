"""Conformance: ``get_all_records`` and ``direction=`` on ``get_all``/``get_all_keys`` (IndexedDB 3.0).

The expected answers come from a small model of the spec, as the web-platform-tests compute them
(``support-get-all.js``): the records in range, in (key, primary key) order; the ``*unique``
directions keep the first record (lowest primary key) of each key; ``prev*`` reverses; then the
first ``count``. In Chromium every check runs twice: on the browser's own ``getAllRecords`` and on
the shim's cursor path (forced), which older browsers use: both must give the same answers.

Errors, in pyidb's order: ``count`` (not an int from 0 to 2**32-1) and ``direction`` are argument
checks (a JS TypeError, raised by WebIDL before the method runs), then the deleted source
(InvalidStateError), the inactive transaction (TransactionInactiveError), then the query (DataError).
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import pyidb
from pyidb import KeyRange, Record

from ._support import browser_only, db_name, raises

DIRECTIONS = ("next", "nextunique", "prev", "prevunique")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
COUNTS = (None, 0, 1, 3, 2**32 - 1)


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    letters = db.create_object_store("letters")
    letters.create_index("by_half", "half")  # two index keys, 13 records each
    letters.create_index("by_upper", "upper", unique=True)
    letters.create_index("by_attr", "attrs", multi_entry=True)
    db.create_object_store("empty").create_index("by_x", "x")
    db.create_object_store("mixed")


def _value(letter: str) -> dict[str, Any]:
    attrs = ["vowel" if letter in "aeiou" else "consonant"]
    if letter == "a":
        attrs.append("first")
    return {"ch": letter, "half": "first" if letter <= "m" else "second",
            "upper": letter.upper(), "attrs": attrs}


async def _open(factory: pyidb.Factory) -> pyidb.Database:
    db = await factory.open(db_name("records"), 1, upgrade=_schema)
    async with db.transaction("letters", "readwrite") as tx:
        await tx.object_store("letters").put_many([_value(c) for c in LETTERS], list(LETTERS))
    return db


def _index_records(index_key: Callable[[dict[str, Any]], list[Any]]) -> list[Record]:
    """The index's records in (index key, primary key) order."""
    rows = [Record(k, c, _value(c)) for c in LETTERS for k in index_key(_value(c))]
    return sorted(rows, key=lambda r: (r.key, r.primary_key))


STORE_RECORDS = [Record(c, c, _value(c)) for c in LETTERS]
INDEXES = {
    "by_half": _index_records(lambda v: [v["half"]]),
    "by_upper": _index_records(lambda v: [v["upper"]]),
    "by_attr": _index_records(lambda v: v["attrs"]),
}


def _expected(records: list[Record], query: Any, count: int | None, direction: str) -> list[Record]:
    """The spec's answer (as web-platform-tests' filterWithGetAllRecordsOptions computes it)."""
    if query is not None:
        q = query if isinstance(query, KeyRange) else KeyRange.only(query)
        records = [r for r in records if q.includes(r.key)]
    if direction.endswith("unique"):
        seen: list[Any] = []
        records = [r for r in records if r.key not in seen and not seen.append(r.key)]
    if direction.startswith("prev"):
        records = records[::-1]
    return records[:count] if count else records


async def _on_every_path(factory: pyidb.Factory, check: Callable[[], Awaitable[None]]) -> None:
    """Run ``check``; in the browser, on the native calls and again on the cursor path."""
    if factory.url != "browser":
        await check()
        return
    from pyidb.browser import shim

    try:
        for native in (True, False):
            shim.use_native_get_all(native)
            await check()
    finally:
        shim.use_native_get_all(True)


async def _check_source(source: pyidb.ObjectStore | pyidb.Index, records: list[Record],
                        queries: list[Any]) -> None:
    for query in queries:
        for direction in DIRECTIONS:
            for count in COUNTS:
                want = _expected(records, query, count, direction)
                where = (source.name, query, count, direction)
                got = await source.get_all_records(query, count, direction)
                assert got == want, where
                assert all(type(r) is Record for r in got), where
                assert await source.get_all(query, count, direction) == [r.value for r in want], where
                keys = await source.get_all_keys(query, count, direction)
                assert keys == [r.primary_key for r in want], where


async def test_store_every_direction_range_and_count(factory):
    queries = [None, "c", "zz", KeyRange.bound("g", "m"), KeyRange.bound("g", "m", True, True),
               KeyRange.lower_bound("x"), KeyRange.upper_bound("b", True)]
    async with await _open(factory) as db:
        async def check() -> None:
            store = db.transaction("letters").object_store("letters")
            await _check_source(store, STORE_RECORDS, queries)

        await _on_every_path(factory, check)


async def test_index_unique_directions_over_duplicate_keys(factory):
    async with await _open(factory) as db:
        async def check() -> None:
            store = db.transaction("letters").object_store("letters")
            await _check_source(store.index("by_half"), INDEXES["by_half"],
                                [None, "first", KeyRange.lower_bound("first", True)])
            await _check_source(store.index("by_attr"), INDEXES["by_attr"],
                                [None, "vowel", KeyRange.bound("consonant", "first")])
            await _check_source(store.index("by_upper"), INDEXES["by_upper"],
                                [None, "Q", KeyRange.bound("G", "M", False, True)])

        await _on_every_path(factory, check)


async def test_unique_directions_pick_the_lowest_primary_key(factory):
    async with await _open(factory) as db:
        async def check() -> None:
            index = db.transaction("letters").object_store("letters").index("by_half")
            first, second = _value("a"), _value("n")
            assert await index.get_all_records(direction="prevunique") == [
                Record("second", "n", second), Record("first", "a", first)]
            assert await index.get_all_records(direction="nextunique") == [
                Record("first", "a", first), Record("second", "n", second)]
            assert await index.get_all_keys(None, 1, "prevunique") == ["n"]
            assert await index.get_all(None, 1, "prev") == [_value("z")]

        await _on_every_path(factory, check)


async def test_empty_store_and_index(factory):
    async with await _open(factory) as db:
        async def check() -> None:
            store = db.transaction("empty").object_store("empty")
            for direction in DIRECTIONS:
                assert await store.get_all_records(None, 5, direction) == []
                assert await store.index("by_x").get_all_records(None, None, direction) == []

        await _on_every_path(factory, check)


async def test_records_keep_every_key_and_value_type(factory):
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.UTC)
    # in key order: numbers, dates, strings, binary, arrays
    rows = [(-1.5, b"\x00raw"), (7, when), (2**53 - 1, 2**70), (when, [1, "two", None]),
            ("s", {"nan": float("nan")}), (b"key", True), ([1, "a"], {"nested": {"x": 1.25}})]
    async with await _open(factory) as db:
        async with db.transaction("mixed", "readwrite") as tx:
            await tx.object_store("mixed").put_many([v for _, v in rows], [k for k, _ in rows])

        async def check() -> None:
            got = await db.get_all_records("mixed", direction="prev")
            assert [r.primary_key for r in got] == [k for k, _ in reversed(rows)]
            assert [r.key for r in got] == [r.primary_key for r in got]
            assert type(got[-3].primary_key) is int  # 2**53-1 comes back an int
            by_key = {repr(r.primary_key): r.value for r in got}
            assert by_key["-1.5"] == b"\x00raw"
            assert by_key["7"] == when
            assert by_key[repr(2**53 - 1)] == 2**70
            nan = by_key["'s'"]["nan"]
            assert nan != nan
            assert by_key[repr(when)] == [1, "two", None]
            assert by_key[repr([1, "a"])] == {"nested": {"x": 1.25}}

        await _on_every_path(factory, check)


async def test_records_are_named_tuples(factory):
    async with await _open(factory) as db:
        (record,) = await db.get_all_records("letters", "c")
        key, primary_key, value = record
        assert (key, primary_key, value) == ("c", "c", _value("c"))
        assert record.key == "c" and record.primary_key == "c" and record.value == _value("c")
        assert record._fields == ("key", "primary_key", "value")
        assert pyidb.Record is Record


async def test_requests_see_the_transactions_earlier_writes(factory):
    async with await _open(factory) as db:
        async def check() -> None:
            async with db.transaction("letters", "readwrite") as tx:
                store = tx.object_store("letters")
                store.put({**_value("b"), "half": "zzz"}, "b")  # not awaited: still first
                records = await store.index("by_half").get_all_records(None, 1, "prev")
                assert records == [Record("zzz", "b", {**_value("b"), "half": "zzz"})]
                store.delete("b")
                assert await store.get_all_keys(KeyRange.upper_bound("c"), None, "prev") == ["c", "a"]
                tx.abort()

        await _on_every_path(factory, check)


async def test_database_shortcuts_take_a_direction(factory):
    async with await _open(factory) as db:
        async def check() -> None:
            assert await db.get_all("letters", None, 2, "prev") == [_value("z"), _value("y")]
            assert await db.get_all_keys("letters", KeyRange.upper_bound("c"),
                                         direction="prevunique") == ["c", "b", "a"]
            assert await db.get_all_records("letters", count=1, direction="prev") == [
                Record("z", "z", _value("z"))]
            assert await db.get_all_from_index("letters", "by_half", direction="nextunique") == [
                _value("a"), _value("n")]

        await _on_every_path(factory, check)


async def test_bad_count_and_direction_are_argument_errors(factory):
    async with await _open(factory) as db:
        async def check() -> None:
            store = db.transaction("letters").object_store("letters")
            index = store.index("by_half")
            for source in (store, index):
                for method in (source.get_all_records, source.get_all, source.get_all_keys):
                    for count in (-1, 2**32, 1.5, "3", True):
                        with raises(pyidb.InvalidArgumentError, match="count"):
                            method(None, count)
                    for direction in ("sideways", "NEXT", None, 1):
                        with raises(pyidb.InvalidArgumentError, match="direction"):
                            method(None, None, direction)
                    # count is checked before direction, both before the query
                    with raises(pyidb.InvalidArgumentError, match="count"):
                        method(None, -1, "sideways")
                    with raises(pyidb.InvalidArgumentError, match="direction"):
                        method({"not": "a key"}, None, "sideways")
                    with raises(pyidb.DataError):
                        method({"not": "a key"})
            assert await store.get_all_records(None, 2**32 - 1) == STORE_RECORDS  # the maximum

        await _on_every_path(factory, check)


async def test_state_errors_come_after_arguments_and_before_the_query(factory):
    async with await _open(factory) as db:
        tx = db.transaction("letters")
        store = tx.object_store("letters")
        await tx.done  # finished: every request is refused
        for method in (store.get_all_records, store.get_all, store.get_all_keys):
            with raises(pyidb.InvalidArgumentError):
                method(None, -1)
            with raises(pyidb.InvalidArgumentError):
                method(None, None, "up")
            with raises(pyidb.TransactionInactiveError):
                method({"not": "a key"}, 1, "prev")
            with raises(pyidb.TransactionInactiveError):
                method(None, None, "prevunique")
        db.close()

        def upgrade(db2: pyidb.Database, old: int, new: int, up: pyidb.Transaction) -> None:
            store = up.object_store("letters")
            index = store.index("by_half")
            db2.delete_object_store("letters")
            for source in (store, index):
                with raises(pyidb.InvalidArgumentError):
                    source.get_all_records(None, 2**32)
                with raises(pyidb.InvalidStateError):
                    source.get_all_records({"not": "a key"}, 1, "prev")
                with raises(pyidb.InvalidStateError):
                    source.get_all(None, None, "nextunique")

        (await factory.open(db.name, 2, upgrade=upgrade)).close()


@browser_only
async def test_chromium_has_the_native_calls(factory):
    from pyidb.browser import shim

    # Chromium ships getAllRecords and getAll's options form: the native path is what runs
    assert shim.use_native_get_all(True) is True
