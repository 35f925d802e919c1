"""pyidb.export_database / import_database on every backend: the schema, every value type and the
key generators survive a round trip through other backends with an identical re-export; a
truncated, damaged or refused file leaves no database."""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
import tempfile
from datetime import UTC, datetime

import pyidb

from ._support import db_name, raises

VALUES = [
    None, True, 0, -1, 2**53 - 1, 2**53, -(2**70), 10**400, 0.5, -1e300, math.nan, math.inf,
    -math.inf, "", "é ü 😀", "\ud83d lone", b"", b"\x00\xff" * 10, datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 30, 1, 123000, tzinfo=UTC), [], [1, [2, [3]]], {},
    {"$t": "a user key named $t", "v": 1}, {"nested": {"b": b"x", "d": [math.nan, 2**64]}},
]
KEYS = [-5, 0, 1.5, 2.0**53, "", "a", "é", b"", b"\x01", datetime(2000, 1, 1, tzinfo=UTC),
        [], [1, "a", [b"x"]]]


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("out_of_line")
    auto = db.create_object_store("auto", key_path="meta.id", auto_increment=True)
    auto.create_index("by_tags", "tags", multi_entry=True)
    auto.create_index("by_name", "name", unique=True)
    people = db.create_object_store("people", key_path=["last", "first"])
    people.create_index("by_both", ["first", "age"])
    db.create_object_store("plain_auto", auto_increment=True)


async def _filled(factory: pyidb.Factory, n: int = 30) -> pyidb.Database:
    db = await factory.open(db_name("transfer"), 7, upgrade=_schema)
    async with db.transaction(["out_of_line", "auto", "people", "plain_auto"], "readwrite") as tx:
        s = tx.object_store("out_of_line")
        for i, key in enumerate(KEYS):
            await s.put(VALUES[i % len(VALUES)], key)
        await s.put_many(VALUES, [f"v{i:03d}" for i in range(len(VALUES))])
        await tx.object_store("auto").add_many(
            [{"name": f"n{i}", "tags": ["t", f"t{i % 3}"], "v": VALUES[i % len(VALUES)]}
             for i in range(n)])
        await tx.object_store("people").put_many(
            [{"last": "L", "first": f"F{i}", "age": i} for i in range(5)])
        plain = tx.object_store("plain_auto")
        await plain.add_many(["x"] * 5)
        await plain.delete(pyidb.KeyRange.lower_bound(3))  # the generator stays at 6
        await plain.put("explicit", 100.5)  # raises it to 101
        await plain.delete(100.5)
    return db


async def _export(db: pyidb.Database) -> str:
    out = io.StringIO()
    await pyidb.export_database(db, out)
    return out.getvalue()


def _engine_urls() -> list[str]:
    """The other backends a round trip goes through: SQLite where Python has sqlite3."""
    urls = []
    if sys.platform != "emscripten":
        urls.append(f"sqlite:///{tempfile.mkdtemp()}/transfer.db")
    return [*urls, "memory:"]


async def _names(factory: pyidb.Factory) -> list[str]:
    return [d["name"] for d in await factory.databases()]


async def test_round_trip_through_other_backends_is_identical(factory):
    db = await _filled(factory)
    name = db.name
    first = await _export(db)
    text = first
    for url in _engine_urls():  # e.g. browser -> SQLite -> memory
        other = pyidb.factory(url)
        copy = await pyidb.import_database(other, name, io.StringIO(text))
        text = await _export(copy)
        assert text == first, url
        copy.close()
    db.close()
    back = await pyidb.import_database(factory, name, io.StringIO(text), overwrite=True)
    assert await _export(back) == first  # ... -> the starting backend again
    back.close()


async def test_schema_values_and_generators_are_restored(factory):
    src = await _filled(factory)
    text = await _export(src)
    want_values = await src.get_all("out_of_line")
    want_keys = await src.get_all_keys("out_of_line")
    db = await pyidb.import_database(pyidb.factory("memory:"), "copy", io.StringIO(text))
    assert db.version == 7
    assert db.object_store_names == ["auto", "out_of_line", "people", "plain_auto"]
    tx = db.transaction(db.object_store_names)
    auto = tx.object_store("auto")
    assert (auto.key_path, auto.auto_increment) == ("meta.id", True)
    assert auto.index_names == ["by_name", "by_tags"]
    assert (auto.index("by_tags").multi_entry, auto.index("by_name").unique) == (True, True)
    assert tx.object_store("people").key_path == ["last", "first"]
    assert tx.object_store("people").index("by_both").key_path == ["first", "age"]
    got = await tx.object_store("out_of_line").get_all()
    assert repr(got) == repr(want_values)  # repr: NaN is unequal to itself; types must match too
    assert await tx.object_store("out_of_line").get_all_keys() == want_keys
    assert await auto.index("by_tags").count("t1") == 10
    assert await db.add("plain_auto", "next") == 101  # the generator, not the largest key + 1
    assert await db.add("auto", {"name": "new"}) == 31
    assert await db.get("auto", 31) == {"name": "new", "meta": {"id": 31}}
    db.close()
    src.close()


async def test_values_read_back_exactly(factory):
    src = await factory.open(db_name("values"), 1,
                             upgrade=lambda db, o, n, tx: db.create_object_store("v"))
    await src.put("v", VALUES, "all")
    text = await _export(src)
    db = await pyidb.import_database(pyidb.factory("memory:"), "v", io.StringIO(text))
    got = await db.get("v", "all")
    assert repr(got) == repr(await src.get("v", "all"))
    assert got[10] != got[10] and got[7] == 10**400 and got[17] == b"\x00\xff" * 10
    db.close()
    src.close()


async def test_used_up_generator_stays_used_up(factory):
    src = await factory.open(db_name("gen"), 1, upgrade=lambda db, o, n, tx:
                             db.create_object_store("s", auto_increment=True))
    await src.put("s", "last", 2.0**53)
    with raises(pyidb.ConstraintError):
        await src.add("s", "no more keys")
    db = await pyidb.import_database(pyidb.factory("memory:"), "g", io.StringIO(await _export(src)))
    await db.delete("s", 2.0**53)
    with raises(pyidb.ConstraintError):
        await db.add("s", "still no more keys")
    db.close()
    src.close()


async def test_pages_progress_and_empty_database(factory):
    db = await factory.open(db_name("pages"), 1, upgrade=lambda db, o, n, tx:
                            db.create_object_store("s", key_path="id"))
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many([{"id": i, "x": "y" * (i % 7)} for i in range(2345)])
    calls = []
    out = io.StringIO()
    assert await pyidb.export_database(db, out, progress=lambda d, t: calls.append((d, t))) == 2345
    assert calls == [(1000, 2345), (2000, 2345), (2345, 2345)]
    lines = out.getvalue().splitlines()
    assert len(lines) == 2345 + 2
    assert [json.loads(line)[1]["id"] for line in lines[1:-1]] == list(range(2345))
    calls.clear()
    copy = await pyidb.import_database(pyidb.factory("memory:"), "p", io.StringIO(out.getvalue()),
                                       progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (2345, 2345) and len(calls) == 3
    assert await copy.count("s") == 2345
    copy.close()
    db.close()
    empty = await factory.open(db_name("empty"), 3)
    text = await _export(empty)
    empty.close()
    again = await pyidb.import_database(pyidb.factory("memory:"), "e", io.StringIO(text))
    assert (again.version, again.object_store_names) == (3, [])
    again.close()


def _damaged(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines(keepends=True)
    record = lines[3]
    return [
        ("", "empty"),
        (text[: len(text) // 2], "truncated|cut short"),
        ("".join(lines[:-1]), "truncated"),
        ("".join(lines[:3] + lines[4:]), "checksum"),
        (text.replace('"n1"', '"m1"', 1), "checksum"),
        (text.replace('"n1"', '"n9"', 1), "checksum"),  # damage first, not the unique index
        ("".join([*lines[:3], record[:-2] + "\n", *lines[4:]]), "not valid"),
        ("".join([*lines[:3], record[:-1] + "," + record, *lines[4:]]), "not valid"),
        ("".join([*lines[:3], "\n", *lines[3:]]), "line 4: not valid"),
        ("".join([lines[0].replace('"format_version":1', '"format_version":2'), *lines[1:]]),
         "format_version 2"),
        ('{"format":"something-else"}\n' + text, "not a pyidb export"),
        (text + "[0]\n", "after the trailer"),
    ]


async def test_damaged_files_are_refused_and_leave_no_database(factory):
    src = await _filled(factory)
    text = await _export(src)
    src.close()
    for bad, message in _damaged(text):
        with raises(pyidb.TransferError, match=message):
            await pyidb.import_database(factory, "damaged", io.StringIO(bad))
        assert "damaged" not in await _names(factory)


def _file(lines: list[object]) -> str:
    """An export file with a right checksum around ``lines`` (to reach the schema's checks)."""
    body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    end = {"end": {"records": len(lines) - 1, "sha256": hashlib.sha256(body.encode()).hexdigest()}}
    return body + json.dumps(end) + "\n"


async def test_a_record_the_schema_refuses_aborts_the_import(factory):
    header = {"format": "pyidb-export", "format_version": 1, "database": "x", "version": 1,
              "stores": [{"name": "s", "key_path": "id", "auto_increment": False,
                          "key_generator": None, "count": 3,
                          "indexes": [{"name": "u", "key_path": "email", "unique": True,
                                       "multi_entry": False}]}]}
    text = _file([header, [0, {"id": 1, "email": "a"}], [0, {"id": 2, "email": "b"}],
                  [0, {"id": 3, "email": "a"}]])
    with raises(pyidb.ConstraintError):
        await pyidb.import_database(factory, "refused", io.StringIO(text))
    assert "refused" not in await _names(factory)
    fine = text.replace('"id":3,"email":"a"', '"id":3,"email":"c"')
    fine = _file([json.loads(line) for line in fine.splitlines()[:-1]])
    db = await pyidb.import_database(factory, "refused", io.StringIO(fine))
    assert await db.get_all_keys("s") == [1, 2, 3]
    db.close()
    await factory.delete_database("refused")


async def test_overwrite_only_when_asked_and_only_with_a_good_file(factory):
    src = await _filled(factory)
    name = src.name
    text = await _export(src)
    await src.put("out_of_line", "changed", "v000")
    with raises(pyidb.ConstraintError, match="overwrite=True"):
        await pyidb.import_database(factory, name, io.StringIO(text))
    src.close()
    for bad, message in _damaged(text)[1:4]:
        with raises(pyidb.TransferError, match=message):
            await pyidb.import_database(factory, name, io.StringIO(bad), overwrite=True)
        db = await factory.open(name)  # the old database is still there, unchanged
        assert await db.get("out_of_line", "v000") == "changed"
        db.close()
    db = await pyidb.import_database(factory, name, io.StringIO(text), overwrite=True)
    assert await db.get("out_of_line", "v000") is None
    assert await _export(db) == text
    db.close()
