"""Conformance: key paths (spec §2.5 "Key path") and key generators (spec §2.11).

Key path errors: an invalid path is a SyntaxError (KeyPathSyntaxError) at create time; a missing or
invalid in-line key, an explicit key with a key path, or no key for an out-of-line store without a
generator is a DataError at the call. Generators count 1, 2, 3..., are bumped by explicit numeric
keys, stop after 2**53 (ConstraintError) and are rolled back when a transaction aborts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyidb

from ._support import db_name, raises

INVALID_PATHS: list[Any] = ["a..b", "1a", "a b", ".a", "a.", "a-b", " a", "a.1", [], ["a", "1x"],
                            ["a", "b c"]]
VALID_PATHS: list[Any] = ["a", "a.b.c", "$a._b", "if.class", "é", ["a", "b.c"], ""]


def _store(**opts: Any) -> Callable[..., None]:
    def upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        db.create_object_store("s", **opts)

    return upgrade


async def _open(factory: pyidb.Factory, **opts: Any) -> pyidb.Database:
    return await factory.open(db_name("kp"), 1, upgrade=_store(**opts))


async def _fails_to_open(factory: pyidb.Factory, upgrade: Callable[..., None]) -> BaseException:
    name = db_name("kp-bad")
    try:
        db = await factory.open(name, 1, upgrade=upgrade)
    except pyidb.Error as e:
        err: BaseException = e
    else:
        db.close()
        raise AssertionError("open should have failed")
    async with await factory.open(name) as db:  # nothing of the failed upgrade was kept
        assert db.version == 1 and db.object_store_names == []
    return err


# -- key paths ----------------------------------------------------------------------------------
async def test_string_key_path(factory):
    async with await _open(factory, key_path="id") as db:
        assert await db.put("s", {"id": 5, "x": "a"}) == 5
        assert await db.get("s", 5) == {"id": 5, "x": "a"}
        async with db.transaction("s") as tx:
            store = tx.object_store("s")
            assert store.key_path == "id" and store.auto_increment is False


async def test_dotted_key_path(factory):
    async with await _open(factory, key_path="a.b.c") as db:
        assert await db.put("s", {"a": {"b": {"c": "deep"}}, "z": 1}) == "deep"
        assert await db.get("s", "deep") == {"a": {"b": {"c": "deep"}}, "z": 1}


async def test_compound_key_path(factory):
    async with await _open(factory, key_path=["last", "first"]) as db:
        key = await db.put("s", {"first": "Ada", "last": "Lovelace"})
        assert key == ["Lovelace", "Ada"]
        assert await db.get("s", ["Lovelace", "Ada"]) == {"first": "Ada", "last": "Lovelace"}
        async with db.transaction("s") as tx:
            assert tx.object_store("s").key_path == ["last", "first"]


async def test_compound_key_path_missing_part_is_data_error(factory):
    async with await _open(factory, key_path=["a", "b"]) as db:
        async with db.transaction("s", "readwrite") as tx:
            with raises(pyidb.DataError):
                tx.object_store("s").put({"a": 1})
        assert await db.count("s") == 0


async def test_empty_key_path_uses_the_value_itself(factory):
    async with await _open(factory, key_path="") as db:
        assert await db.put("s", "hello") == "hello"
        assert await db.put("s", 5) == 5
        assert await db.put("s", [1, "x"]) == [1, "x"]
        assert await db.get_all_keys("s") == [5, "hello", [1, "x"]]
        with raises(pyidb.DataError):
            await db.put("s", {"not": "a key"})


async def test_length_of_strings_and_lists(factory):
    # JS evaluates "length" on a String or an Array, so it works as a key path
    async with await _open(factory, key_path="length") as db:
        assert await db.put("s", "hello") == 5
        assert await db.put("s", [1, 2, 3]) == 3
        assert await db.get("s", 5) == "hello"


async def test_valid_key_paths_accepted(factory):
    def upgrade(db, old, new, tx):
        for i, path in enumerate(VALID_PATHS):
            db.create_object_store(f"s{i}", key_path=path)
            tx.object_store("s0").create_index(f"i{i}", path)

    async with await factory.open(db_name("kp"), 1, upgrade=upgrade) as db:
        assert len(db.object_store_names) == len(VALID_PATHS)
        async with db.transaction(db.object_store_names) as tx:
            assert tx.object_store("s1").key_path == "a.b.c"
            assert tx.object_store("s5").key_path == ["a", "b.c"]
            assert tx.object_store("s6").key_path == ""


async def test_invalid_key_paths_at_create_object_store(factory):
    seen = []

    def upgrade(db, old, new, tx):
        for path in INVALID_PATHS:
            with raises(pyidb.KeyPathSyntaxError):
                db.create_object_store(f"s-{path!r}", key_path=path)
            seen.append(path)
        db.create_object_store("fine", key_path="a")

    async with await factory.open(db_name("kp"), 1, upgrade=upgrade) as db:
        assert seen == INVALID_PATHS
        assert db.object_store_names == ["fine"]  # the sync errors did not abort the upgrade


async def test_invalid_key_paths_at_create_index(factory):
    def upgrade(db, old, new, tx):
        store = db.create_object_store("s")
        for path in INVALID_PATHS:
            with raises(pyidb.KeyPathSyntaxError) as caught:
                store.create_index("i", path)
            assert caught.value.name == "SyntaxError"
        store.create_index("i", "ok")

    async with await factory.open(db_name("kp"), 1, upgrade=upgrade) as db:
        async with db.transaction("s") as tx:
            assert tx.object_store("s").index_names == ["i"]


async def test_auto_increment_needs_a_simple_key_path(factory):
    def upgrade(db, old, new, tx):
        with raises(pyidb.InvalidAccessError):
            db.create_object_store("empty", key_path="", auto_increment=True)
        with raises(pyidb.InvalidAccessError):
            db.create_object_store("compound", key_path=["a", "b"], auto_increment=True)
        db.create_object_store("ok", key_path="a.b", auto_increment=True)

    async with await factory.open(db_name("kp"), 1, upgrade=upgrade) as db:
        assert db.object_store_names == ["ok"]


async def test_inline_key_missing_without_generator_is_data_error(factory):
    async with await _open(factory, key_path="id") as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.DataError):
                store.put({"other": 1})
            with raises(pyidb.DataError):
                store.add("not an object")
            with raises(pyidb.DataError):
                store.put({"id": True})  # present but not a valid key
            with raises(pyidb.DataError):
                store.put({"id": {"nested": 1}})
            await store.put({"id": 1})
        assert await db.get_all_keys("s") == [1]


async def test_key_path_and_explicit_key_is_data_error(factory):
    async with await _open(factory, key_path="id") as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.DataError):
                store.put({"id": 1}, 1)
            with raises(pyidb.DataError):
                store.add({"id": 1}, 2)
        assert await db.count("s") == 0


async def test_out_of_line_without_key_is_data_error(factory):
    async with await _open(factory) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            assert store.key_path is None
            with raises(pyidb.DataError):
                store.put({"id": 1})
            with raises(pyidb.DataError):
                store.add("v")
        assert await db.count("s") == 0


# -- key generator --------------------------------------------------------------------------------
async def test_generator_numbers_from_one(factory):
    async with await _open(factory, auto_increment=True) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            assert store.auto_increment is True
            assert [await store.add(x) for x in "abc"] == [1, 2, 3]
        assert await db.add("s", "d") == 4
        assert await db.get_all("s") == ["a", "b", "c", "d"]


async def test_explicit_numeric_key_bumps_generator(factory):
    async with await _open(factory, auto_increment=True) as db:
        assert await db.add("s", "a") == 1
        assert await db.put("s", "ten", 10) == 10
        assert await db.add("s", "b") == 11
        assert await db.put("s", "three", 3) == 3  # lower keys do not move it back
        assert await db.add("s", "c") == 12
        assert await db.put("s", "neg", -100) == -100
        assert await db.add("s", "d") == 13


async def test_explicit_float_key_bumps_generator_to_next_integer(factory):
    async with await _open(factory, auto_increment=True) as db:
        await db.put("s", "x", 10.5)
        assert await db.add("s", "y") == 11


async def test_non_numeric_keys_do_not_bump_generator(factory):
    async with await _open(factory, auto_increment=True) as db:
        assert await db.add("s", "a") == 1
        for key in ("100", [100], b"\x64"):
            await db.put("s", "x", key)
        assert await db.add("s", "b") == 2


async def test_generator_exhausted_after_2_53(factory):
    async with await _open(factory, auto_increment=True) as db:
        await db.put("s", "almost", 2**53 - 1)
        last = await db.add("s", "last")
        assert last == 2**53 and type(last) is float  # a JS number beyond 2**53-1: a float
        with raises(pyidb.ConstraintError):
            await db.add("s", "one too many")
        await db.put("s", "explicit keys still work", 5)
        assert await db.count("s") == 3


async def test_generator_exhausted_by_huge_float_key(factory):
    async with await _open(factory, auto_increment=True) as db:
        await db.put("s", "huge", 1e300)
        with raises(pyidb.ConstraintError):
            await db.add("s", "next")
        assert await db.get_all_keys("s") == [1e300]


async def test_generator_exhaustion_caught_keeps_transaction(factory):
    async with await _open(factory, auto_increment=True) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("edge", 2.0**53)
            with raises(pyidb.ConstraintError):
                await store.add("no key left")
            await store.put("still here", 1)
        assert await db.get_all_keys("s") == [1, 2**53]


async def test_generator_rolled_back_on_abort(factory):
    async with await _open(factory, auto_increment=True) as db:
        assert await db.add("s", "a") == 1
        tx = db.transaction("s", "readwrite")
        store = tx.object_store("s")
        assert await store.add("b") == 2
        assert await store.add("c") == 3
        await store.put("bump", 50)
        tx.abort()
        with raises(pyidb.AbortError):
            await tx.done
        assert await db.add("s", "d") == 2  # as if the aborted transaction never ran
        assert await db.get_all("s") == ["a", "d"]


async def test_generator_not_reset_by_clear_or_delete(factory):
    async with await _open(factory, auto_increment=True) as db:
        for x in "abc":
            await db.add("s", x)
        await db.delete("s", 3)
        assert await db.add("s", "d") == 4
        await db.clear("s")
        assert await db.add("s", "e") == 5


async def test_generators_are_per_store(factory):
    def upgrade(db, old, new, tx):
        db.create_object_store("a", auto_increment=True)
        db.create_object_store("b", auto_increment=True)

    async with await factory.open(db_name("kp"), 1, upgrade=upgrade) as db:
        assert await db.add("a", 1) == 1
        assert await db.add("a", 2) == 2
        assert await db.add("b", 3) == 1


async def test_inline_key_injected_into_value(factory):
    async with await _open(factory, key_path="id", auto_increment=True) as db:
        assert await db.add("s", {"name": "a"}) == 1
        assert await db.put("s", {"name": "b"}) == 2
        assert await db.get("s", 1) == {"name": "a", "id": 1}
        assert await db.get_all("s") == [{"name": "a", "id": 1}, {"name": "b", "id": 2}]


async def test_inline_explicit_key_in_value_bumps_generator(factory):
    async with await _open(factory, key_path="id", auto_increment=True) as db:
        assert await db.put("s", {"id": 7}) == 7
        assert await db.add("s", {"x": 1}) == 8
        assert await db.put("s", {"id": "str"}) == "str"
        assert await db.add("s", {"x": 2}) == 9


async def test_dotted_key_path_injection_creates_intermediate_dicts(factory):
    async with await _open(factory, key_path="a.b", auto_increment=True) as db:
        assert await db.add("s", {"x": 1}) == 1
        assert await db.get("s", 1) == {"x": 1, "a": {"b": 1}}
        assert await db.add("s", {"a": {"other": True}}) == 2
        assert await db.get("s", 2) == {"a": {"other": True, "b": 2}}


async def test_injection_impossible_is_data_error(factory):
    async with await _open(factory, key_path="a.b", auto_increment=True) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            with raises(pyidb.DataError):
                store.add("a string cannot hold a key")
            with raises(pyidb.DataError):
                store.add({"a": 5})  # "a" is not an object
        assert await db.count("s") == 0


async def test_out_of_line_generator_does_not_touch_value(factory):
    async with await _open(factory, auto_increment=True) as db:
        assert await db.add("s", {"x": 1}) == 1
        assert await db.get("s", 1) == {"x": 1}


async def test_store_key_path_in_a_later_upgrade_is_unchanged(factory):
    name = db_name("kp")
    db = await factory.open(name, 1, upgrade=_store(key_path=["a", "b"], auto_increment=False))
    db.close()
    seen = []

    def upgrade(db, old, new, tx):
        store = tx.object_store("s")
        seen.append((store.key_path, store.auto_increment, old, new))

    async with await factory.open(name, 2, upgrade=upgrade):
        assert seen == [(["a", "b"], False, 1, 2)]


async def test_failed_create_index_with_multi_entry_array_path(factory):
    def upgrade(db, old, new, tx):
        store = db.create_object_store("s")
        with raises(pyidb.InvalidAccessError):
            store.create_index("i", ["a", "b"], multi_entry=True)
        store.create_index("j", ["a", "b"])

    async with await factory.open(db_name("kp"), 1, upgrade=upgrade) as db:
        async with db.transaction("s") as tx:
            assert tx.object_store("s").index_names == ["j"]
            assert tx.object_store("s").index("j").key_path == ["a", "b"]


async def test_key_path_error_escaping_upgrade_fails_open(factory):
    def upgrade(db, old, new, tx):
        db.create_object_store("s", key_path="not valid")

    err = await _fails_to_open(factory, upgrade)
    assert err.name in ("SyntaxError", "AbortError")
