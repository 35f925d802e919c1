"""Export a whole database to JSON and import it into a fresh one, with the public pyidb API only.

>>> text = dumps_export(await export_database(db))          # schema + every record
>>> db2 = await import_database(factory, loads_export(text))  # same name, recreated from scratch

The file is JSON in pyidb's tagged wire format (:mod:`pyidb.values`), so values JSON cannot carry
(datetimes, bytes, NaN, big ints) come back as they were::

    {"format": "pyidb-export", "format_version": 1, "database": "tasks", "version": 1,
     "stores": [{"name": "tasks", "key_path": "id", "auto_increment": true,
                 "indexes": [{"name": "by_tag", "key_path": "tags", "unique": false,
                              "multi_entry": true}],
                 "records": [[1, {"id": 1, "created": {"$t": "date", "v": 1735603200000}}]]}]}

A key generator resumes after the largest imported numeric key (IndexedDB has no API to read its
current number, so numbers used by since-deleted records may be given out again).
"""

from __future__ import annotations

import json
from typing import Any

import pyidb
from pyidb import values

__all__ = ["FORMAT", "TransferError", "dumps_export", "export_database", "import_database",
           "loads_export"]

FORMAT = "pyidb-export"
FORMAT_VERSION = 1


class TransferError(Exception):
    """An export file that cannot be imported; the message says what is wrong with it."""


async def export_database(db: pyidb.Database) -> dict[str, Any]:
    """Schema and records of every store of ``db``, read in one readonly transaction."""
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                           "database": db.name, "version": db.version, "stores": []}
    names = db.object_store_names
    if not names:
        return doc
    tx = db.transaction(names)
    for name in names:
        store = tx.object_store(name)
        indexes = []
        for index_name in store.index_names:
            index = store.index(index_name)
            indexes.append({"name": index_name, "key_path": index.key_path,
                            "unique": index.unique, "multi_entry": index.multi_entry})
        # Two requests in one transaction see the same records in the same (key) order.
        keys = await store.get_all_keys()
        records = await store.get_all()
        doc["stores"].append({"name": name, "key_path": store.key_path,
                              "auto_increment": store.auto_increment, "indexes": indexes,
                              "records": [[k, v] for k, v in zip(keys, records, strict=True)]})
    return doc


def dumps_export(doc: dict[str, Any], *, indent: int | None = 1) -> str:
    """The export as JSON text (ASCII only, so no file or FFI can mangle lone surrogates)."""
    text = values.dumps(*values.clone(doc), ensure_ascii=True)
    if indent is None:
        return text
    # The tags are plain JSON objects: re-indenting the parsed text keeps them as they are.
    return json.dumps(json.loads(text), indent=indent, ensure_ascii=True) + "\n"


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise TransferError(f"not a pyidb export file: {what}")


def loads_export(text: str | bytes) -> dict[str, Any]:
    """Parse and check an export file; raises TransferError saying what is wrong."""
    try:
        doc = values.loads(text)
    except pyidb.Error as e:
        try:  # say "not JSON" in words about the file, not the stored-data wording of values
            json.loads(text)
        except ValueError as bad:
            raise TransferError(f"not a pyidb export file: it is not JSON text ({bad})") from None
        raise TransferError(f"not a pyidb export file: {e}") from None
    _check(isinstance(doc, dict) and doc.get("format") == FORMAT,
           f'the top level must be an object with "format": "{FORMAT}"')
    _check(doc.get("format_version") == FORMAT_VERSION,
           f"format_version {doc.get('format_version')!r} is not {FORMAT_VERSION}")
    _check(isinstance(doc.get("database"), str), '"database" must be a name (a string)')
    version = doc.get("version")
    _check(type(version) is int and version >= 1, '"version" must be an integer >= 1')
    _check(isinstance(doc.get("stores"), list), '"stores" must be a list')
    for s in doc["stores"]:
        _check(isinstance(s, dict) and isinstance(s.get("name"), str), "a store without a name")
        where = f"store {s['name']!r}"
        _check(isinstance(s.get("auto_increment"), bool), f"{where}: auto_increment must be a bool")
        _check(isinstance(s.get("indexes"), list), f"{where}: indexes must be a list")
        for i in s["indexes"]:
            _check(isinstance(i, dict) and isinstance(i.get("name"), str)
                   and "key_path" in i, f"{where}: an index needs a name and a key_path")
        records = s.get("records")
        _check(isinstance(records, list)
               and all(isinstance(r, list) and len(r) == 2 for r in records),
               f"{where}: records must be [key, value] pairs")
    return doc


async def import_database(factory: pyidb.Factory, doc: dict[str, Any], name: str | None = None,
                          *, version: int | None = None) -> pyidb.Database:
    """Replace database ``name`` (default: the exported name) with the export ``doc``, at
    ``version`` (default: the exported version).

    The old database is deleted, then the schema and the records are written in the new
    database's upgrade transaction: the import happens whole or not at all (a bad record, e.g.
    one that breaks a unique index, aborts it and raises that error). Close your own
    connections to the database first, or the delete waits for them.
    """
    name = doc["database"] if name is None else name

    async def upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        for s in doc["stores"]:
            store = db.create_object_store(s["name"], key_path=s["key_path"],
                                           auto_increment=s["auto_increment"])
            for i in s["indexes"]:
                store.create_index(i["name"], i["key_path"], unique=bool(i.get("unique")),
                                   multi_entry=bool(i.get("multi_entry")))
        for s in doc["stores"]:
            if not s["records"]:
                continue
            store = tx.object_store(s["name"])
            keys = [r[0] for r in s["records"]]
            records = [r[1] for r in s["records"]]
            if s["key_path"] is None:
                await store.put_many(records, keys)  # out-of-line keys travel beside the values
            else:
                await store.put_many(records)  # in-line keys are inside the values

    await factory.delete_database(name)
    return await factory.open(name, version or doc["version"], upgrade=upgrade)
