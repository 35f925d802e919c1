"""Export a whole database to a file and import it back, streamed: never the whole database in memory.

>>> await pyidb.export_database(db, "backup.jsonl")                    # schema + every record
>>> db2 = await pyidb.import_database(pyidb.factory("sqlite:///b.db"), "app", "backup.jsonl")

The file format, version 1 ("pyidb-export"), is JSON lines, ASCII only (so lone surrogates survive
any file or FFI), one JSON document per line, values in pyidb's tagged wire form
(:mod:`pyidb.wire`: ``{"$t": "bytes"|"date"|"num"|"bigint"|"obj", "v": ...}``):

1. a header::

    {"format": "pyidb-export", "format_version": 1, "database": "app", "version": 3,
     "stores": [{"name": "notes", "key_path": "id", "auto_increment": true, "key_generator": 8,
                 "count": 2, "indexes": [{"name": "by_tag", "key_path": "tags", "unique": false,
                                          "multi_entry": true}]}]}

   ``key_generator`` is the key the store's generator would give next (None without one);
   ``count`` the number of records that follow for that store;
2. one line per record, stores in header order, records in key order: ``[store_number, value]``
   for a store with a key path (the key is inside the value), ``[store_number, key, value]``
   otherwise;
3. a trailer: ``{"end": {"records": TOTAL, "sha256": HEX}}``, the SHA-256 of every byte before
   it. A missing trailer (a truncated file), a wrong count or checksum, a malformed line: the
   import raises :class:`TransferError` and no database is left behind.

IndexedDB has no call that reads a key generator's current number, so the export reads it by
adding a record in a readwrite transaction that it then aborts (an abort rolls the generator
back, as the spec requires); the import restores it by putting and deleting a record at
``key_generator - 1`` when the imported keys do not already raise it that far.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from . import wire
from .api import Database, Factory, ObjectStore
from .errors import ConstraintError, DataError, Error
from .js_numbers import from_js_number
from .key_path import inject_key
from .paging import PAGE, pages

__all__ = ["FORMAT", "FORMAT_VERSION", "Progress", "TransferError", "export_database",
           "import_database"]

FORMAT = "pyidb-export"
FORMAT_VERSION = 1

Progress = Callable[[int, int], Any]
"""``progress(done, total)``: records written or read so far, of ``total``. Called synchronously
between requests (an ``async`` callback would let the transaction commit): keep it quick."""

_MAX_GENERATOR = 2**53 + 1  # a generator past 2**53 gives no more keys


class TransferError(DataError):
    """An export file that cannot be imported; the message says where and what is wrong."""


# --- export ----------------------------------------------------------------------------------

def _line(doc: Any) -> str:
    return wire.dumps(doc, True, ensure_ascii=True) + "\n"


async def _generator_state(db: Database, name: str) -> int:
    """The key the generator of store ``name`` gives next: add a record, read its key, abort."""
    async with db.transaction(name, "readwrite") as tx:
        store = tx.object_store(name)
        try:
            key = await store.add({} if store.key_path is not None else None)
        except ConstraintError:  # the generator is used up
            key = _MAX_GENERATOR
        tx.abort()
    return int(key)


def _store_header(store: ObjectStore, count: int, generator: int | None) -> dict[str, Any]:
    indexes = []
    for index_name in store.index_names:
        index = store.index(index_name)
        indexes.append({"name": index_name, "key_path": index.key_path, "unique": index.unique,
                        "multi_entry": index.multi_entry})
    return {"name": store.name, "key_path": store.key_path, "auto_increment": store.auto_increment,
            "key_generator": generator, "count": count, "indexes": indexes}


@contextmanager
def _writer(destination: str | os.PathLike[str] | IO[Any]) -> Iterator[Callable[[str], Any]]:
    if isinstance(destination, (str, os.PathLike)):
        # Written aside and renamed when complete: a failed export never leaves a file that
        # looks like a backup.
        part = f"{os.fspath(destination)}.part"
        try:
            with open(part, "w", encoding="ascii", newline="\n") as f:
                yield f.write
            os.replace(part, destination)
        finally:
            if os.path.exists(part):
                os.remove(part)
    elif isinstance(destination, io.TextIOBase):
        yield destination.write
    else:
        yield lambda text: destination.write(text.encode("ascii"))


async def export_database(
    db: Database,
    destination: str | os.PathLike[str] | IO[Any],
    *,
    progress: Progress | None = None,
) -> int:
    """Write every store of ``db`` (schema and records) to ``destination``: a path or a text or
    binary file. Returns the number of records written.

    >>> await pyidb.export_database(db, "backup.jsonl", progress=lambda done, total: None)
    12

    The records are read in pages of 1,000 in one readonly transaction (one consistent snapshot).
    """
    names = db.object_store_names
    generators: dict[str, int] = {}
    if names:
        probe = db.transaction(names)
        auto = [n for n in names if probe.object_store(n).auto_increment]
        for name in auto:
            generators[name] = await _generator_state(db, name)
    hasher = hashlib.sha256()
    written = 0
    with _writer(destination) as write:
        def emit(text: str) -> None:
            hasher.update(text.encode("ascii"))
            write(text)

        header: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                                  "database": db.name, "version": db.version, "stores": []}
        if names:
            tx = db.transaction(names)
            stores = [tx.object_store(n) for n in names]
            counts = [await s.count() for s in stores]
            header["stores"] = [_store_header(s, c, generators.get(s.name))
                                for s, c in zip(stores, counts, strict=True)]
            emit(_line(header))
            total = sum(counts)
            for number, store in enumerate(stores):
                async for keys, found in pages(store):
                    if keys is None:  # the keys are inside the values
                        emit("".join([_line([number, v]) for v in found]))
                    else:
                        emit("".join([_line([number, k, v])
                                      for k, v in zip(keys, found, strict=True)]))
                    written += len(found)
                    if progress is not None:
                        progress(written, total)
        else:
            emit(_line(header))
        write(_line({"end": {"records": written, "sha256": hasher.hexdigest()}}))
    return written


# --- import ----------------------------------------------------------------------------------

class _Reader:
    """Lines of an export file with their number, hashing every byte before the trailer.

    Lines are read and parsed PAGE at a time, in one json call (a quarter of the cost of parsing
    each line alone)."""

    def __init__(self, lines: Any) -> None:
        self._lines = iter(lines)
        self._ahead: list[tuple[Any, bytes]] = []
        self.number = 0
        self.hasher = hashlib.sha256()

    def _read_ahead(self) -> None:
        raws = [r.encode("utf-8", "surrogatepass") if isinstance(r, str) else bytes(r)
                for r in itertools.islice(self._lines, PAGE)]
        for i, data in enumerate(raws):
            if not data.endswith(b"\n"):
                self.number += i + 1
                self.fail("the line is cut short (no end of line): the file is truncated")
        try:
            docs = wire.loads_many(raws)
        except Error:
            docs = []
        if len(docs) != len(raws):  # a bad line (or one holding two documents): find it
            docs = []
            for i, data in enumerate(raws):
                try:
                    docs.append(wire.loads(data))
                except Error as e:
                    self.number += i + 1
                    self.fail(f"not valid pyidb-export JSON ({e.message})")
        self._ahead = list(zip(docs, raws, strict=True))
        self._ahead.reverse()

    def next(self) -> tuple[Any, bytes] | None:
        """The next line parsed, with its bytes; None at the end of the file."""
        if not self._ahead:
            self._read_ahead()
            if not self._ahead:
                return None
        self.number += 1
        return self._ahead.pop()

    def fail(self, why: str) -> Any:
        raise TransferError(f"export file, line {self.number}: {why}; nothing was imported")


def _check(reader: _Reader, ok: bool, why: str) -> None:
    if not ok:
        reader.fail(why)


def _is_key_path(p: Any) -> bool:
    return p is None or type(p) is str or (type(p) is list and all(type(x) is str for x in p))


def _read_header(reader: _Reader) -> dict[str, Any]:
    line = reader.next()
    _check(reader, line is not None, "the file is empty")
    header, data = line  # type: ignore[misc]
    reader.hasher.update(data)
    _check(reader, type(header) is dict and header.get("format") == FORMAT,
           f'not a pyidb export (the first line must be an object with "format": "{FORMAT}")')
    _check(reader, header.get("format_version") == FORMAT_VERSION,
           f"format_version {header.get('format_version')!r} is not {FORMAT_VERSION}, the one "
           "this pyidb reads")
    _check(reader, type(header.get("database")) is str, '"database" must be a string')
    _check(reader, type(header.get("version")) is int and header["version"] >= 1,
           '"version" must be an integer >= 1')
    stores = header.get("stores")
    _check(reader, type(stores) is list, '"stores" must be a list')
    for s in stores:
        _check(reader, type(s) is dict and type(s.get("name")) is str, "a store without a name")
        where = f"store {s['name']!r}"
        _check(reader, _is_key_path(s.get("key_path")), f"{where}: bad key_path")
        _check(reader, type(s.get("auto_increment")) is bool, f"{where}: auto_increment not bool")
        gen = s.get("key_generator")
        _check(reader, gen is None or (type(gen) is int and 1 <= gen <= _MAX_GENERATOR),
               f"{where}: key_generator must be null or an integer in 1..2**53+1")
        _check(reader, type(s.get("count")) is int and s["count"] >= 0,
               f"{where}: count must be an integer >= 0")
        _check(reader, type(s.get("indexes")) is list, f"{where}: indexes must be a list")
        for i in s["indexes"]:
            _check(reader, type(i) is dict and type(i.get("name")) is str
                   and _is_key_path(i.get("key_path")) and i.get("key_path") is not None
                   and type(i.get("unique")) is bool and type(i.get("multi_entry")) is bool,
                   f"{where}: an index needs name, key_path, unique and multi_entry")
    return header


def _batches(reader: _Reader, stores: list[dict[str, Any]]) -> Iterator[tuple[int, list[Any]]]:
    """(store_number, records) batches of at most PAGE; checks the trailer at the end."""
    current, batch, seen = 0, [], [0] * len(stores)
    while True:
        line = reader.next()
        _check(reader, line is not None,
               "the file ends before its trailer line: it is truncated")
        doc, data = line  # type: ignore[misc]
        if type(doc) is dict:
            _check(reader, list(doc) == ["end"] and type(doc["end"]) is dict,
                   "expected a record or the trailer")
            if batch:
                yield current, batch
            end = doc["end"]
            _check(reader, end.get("sha256") == reader.hasher.hexdigest(),
                   "the checksum does not match: the file was changed or damaged")
            for s, n in zip(stores, seen, strict=True):
                _check(reader, n == s["count"],
                       f"store {s['name']!r} has {n} records, the header says {s['count']}")
            _check(reader, end.get("records") == sum(seen), "the record total does not match")
            _check(reader, reader.next() is None, "text after the trailer")
            return
        reader.hasher.update(data)
        _check(reader, type(doc) is list and doc and type(doc[0]) is int
               and 0 <= doc[0] < len(stores), "expected [store_number, (key,) value]")
        number = doc[0]
        _check(reader, number >= current, "records of a store after those of a later store")
        width = 2 if stores[number]["key_path"] is not None else 3
        _check(reader, len(doc) == width,
               f"a record of store {stores[number]['name']!r} has {width} items")
        if number != current or len(batch) >= PAGE:
            if batch:
                yield current, batch
            current, batch = number, []
        seen[number] += 1
        batch.append(doc[1:])


async def _restore_generator(store: ObjectStore, generator: int) -> None:
    """Raise the store's generator to ``generator`` (a put then a delete of key generator-1)."""
    key = from_js_number(generator - 1)  # 2**53, the last key, is a float (a JS number)
    if key < 1 or await store.count(key):
        return  # nothing to raise, or the record there already raised it
    value: Any = None
    if store.key_path is not None:
        value = {}
        inject_key(value, key, store.key_path)  # type: ignore[arg-type]
    await store.put(value, None if store.key_path is not None else key)
    await store.delete(key)


async def _exists(factory: Factory, name: str) -> bool:
    return any(d["name"] == name for d in await factory.databases())


def _lines(source: str | os.PathLike[str] | IO[Any]) -> Any:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb")  # closed by import_database
    return source


async def import_database(
    factory: Factory,
    name: str,
    source: str | os.PathLike[str] | IO[Any],
    *,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> Database:
    """Create database ``name`` on ``factory`` from an export (a path, or a text or binary file)
    and return it open, at the exported version.

    >>> db = await pyidb.import_database(pyidb.factory("memory:"), "app", "backup.jsonl")

    Everything is written in the new database's upgrade transaction, in batches of 1,000 read
    from the file as they are needed: a bad file (:class:`TransferError`) or a record the schema
    refuses (e.g. ``ConstraintError`` of a unique index) aborts it, and no database is left.
    An existing database raises ``ConstraintError`` unless ``overwrite=True``; then the whole
    file is checked first (when the source can seek back) and the old database deleted.
    """
    exists = await _exists(factory, name)
    if exists and not overwrite:
        raise ConstraintError(
            f"database {name!r} already exists; delete it or pass overwrite=True to replace it")
    f = _lines(source)
    try:
        seekable = exists and getattr(f, "seekable", lambda: False)()
        start = f.tell() if seekable else 0
        reader = _Reader(f)
        header = _read_header(reader)
        stores = header["stores"]
        if exists:
            if seekable:  # check every line before the old database goes
                for _ in _batches(reader, stores):
                    pass
                f.seek(start)
                reader = _Reader(f)
                _read_header(reader)
            await factory.delete_database(name)
        total = sum(s["count"] for s in stores)

        async def fill(db: Database, old: int, new: int, tx: Any) -> None:
            for s in stores:
                store = db.create_object_store(s["name"], key_path=s["key_path"],
                                               auto_increment=s["auto_increment"])
                for i in s["indexes"]:
                    store.create_index(i["name"], i["key_path"], unique=i["unique"],
                                       multi_entry=i["multi_entry"])
            done = 0
            batches = _batches(reader, stores)
            for number, batch in batches:
                store = tx.object_store(stores[number]["name"])
                try:
                    if store.key_path is None:
                        await store.put_many([r[1] for r in batch], [r[0] for r in batch])
                    else:
                        await store.put_many([r[0] for r in batch])
                except Error as refused:
                    # A damaged file is the better explanation of a refused record: read on,
                    # and the rest of the file raises TransferError if it is damaged.
                    for _ in batches:
                        pass
                    raise refused
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            for s in stores:
                if s["key_generator"] is not None:
                    await _restore_generator(tx.object_store(s["name"]), s["key_generator"])

        try:
            return await factory.open(name, header["version"], upgrade=fill)
        except BaseException:
            if await _exists(factory, name):  # a failed first upgrade may leave an empty shell
                await factory.delete_database(name)
            raise
    finally:
        if f is not source:
            f.close()
