"""The integrity check of a durable engine file: ``python -m pyidb check FILE`` and the
``sqlite:///FILE?check=1`` open option.

Three layers, each only if the one below is sound:

1. SQLite's ``PRAGMA integrity_check``: pages, B-trees, the free list (structure, not content);
2. the catalog, as on every open (:func:`pyidb.engine.catalog.validate`);
3. pyidb's meaning: every key decodes to itself, every value decodes, a store's key path gives
   the record's key, every index holds exactly the entries its records imply (unique ones once
   per index key), key generators are past every numeric key, and no tree is orphaned.

What no check can find: a changed byte inside a value that still decodes to a valid value and
touches no index (pyidb, like SQLite by default, stores no checksums).

>>> problems = check(storage.begin_read())   # [] if the file is sound
"""

from __future__ import annotations

from typing import Any

from ..errors import Error
from ..key_encoding import decode_key, decode_key_prefix, encode_key
from ..key_path import INVALID_KEY, NO_KEY, extract_key
from ..wire import decode
from . import catalog
from .catalog import StoreSchema
from .record_store import index_entries

_SHOWN = 5  # examples per kind of problem; the count says how many there are


class _Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seen: dict[str, int] = {}

    def add(self, kind: str, detail: str) -> None:
        n = self._seen[kind] = self._seen.get(kind, 0) + 1
        if n <= _SHOWN:
            self.lines.append(f"{kind}: {detail}")

    def done(self) -> list[str]:
        more = [f"{kind}: {n - _SHOWN} more like these" for kind, n in self._seen.items() if n > _SHOWN]
        return self.lines + more


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_store(reader: Any, where: str, store: StoreSchema, report: _Report) -> None:
    expected: dict[str, set[bytes]] = {name: set() for name in store.indexes}
    top = 0.0
    for pk, raw in reader.scan(store.tree):
        try:
            key = decode_key(pk)
            canonical = encode_key(key) == pk
        except Exception:
            canonical = False
        if not canonical:
            report.add(f"{where}: undecodable record key", _short(pk))
            continue
        try:
            value = decode(raw)
        except Error as exc:
            report.add(f"{where}: unreadable value", f"key {_short(key)}: {exc.message}")
            continue
        if store.key_path is not None:
            found = extract_key(value, store.key_path)
            if found is NO_KEY or found is INVALID_KEY or encode_key(found) != pk:
                report.add(f"{where}: value disagrees with its key",
                           f"stored under {_short(key)}, its key path gives {_short(found)}")
        if type(key) in (int, float) and key > top:
            top = key
        for index in store.indexes.values():
            expected[index.name].update(index_entries(index, value, pk))
    for index in store.indexes.values():
        at = f"{where}, index {index.name!r}"
        want = expected[index.name]
        seen_keys: set[bytes] = set()
        for entry, pk in reader.scan(index.tree):
            if entry in want:
                want.discard(entry)
            else:
                report.add(f"{at}: entry without a matching record", _short(entry))
                continue
            ik = entry[: len(entry) - len(pk)]
            if index.unique and ik in seen_keys:
                report.add(f"{at}: unique index key used twice", _short(decode_key_prefix(ik)[0]))
            seen_keys.add(ik)
        for entry in sorted(want):
            report.add(f"{at}: record without its index entry", _short(entry))
    if store.auto_increment and top >= store.generator:
        report.add(f"{where}: key generator behind",
                   f"next number {store.generator}, but key {top} is stored")


def check(reader: Any) -> list[str]:
    """Every problem found in the storage behind ``reader`` (a read view), [] if none."""
    try:
        problems = reader.integrity_check()
        if problems:
            return problems  # broken pages: what is read above them could mislead
        catalog.validate(reader)
        names = catalog.database_names(reader)
        schemas = [catalog.load_schema(reader, name) for name, _ in names]
    except Error as exc:
        return [exc.message]
    report = _Report()
    owned = {catalog.CATALOG_TREE}
    try:
        for schema in schemas:
            for store in schema.stores.values():
                owned.update((store.tree, *(i.tree for i in store.indexes.values())))
                _check_store(reader, f"database {schema.name!r}, store {store.name!r}", store,
                             report)
        for tree in reader.trees():
            if tree not in owned:
                report.add("orphaned tree",
                           f"tree {tree} holds {reader.count(tree)} pairs no store owns")
    except Error as exc:  # the file failed under the check: that is a finding too
        report.add("unreadable", exc.message)
    return report.done()


def check_storage(storage: Any) -> list[str]:
    """:func:`check` on a fresh read view of ``storage`` (errors opening it are findings)."""
    try:
        reader = storage.begin_read()
    except Error as exc:
        return [exc.message]
    try:
        return check(reader)
    finally:
        try:
            storage.end_read(reader)
        except Error:
            pass  # already reported by the check when the file is this broken


def check_file(path: str) -> list[str]:
    """Open the SQLite file at ``path`` read-only (refused files report why) and check it."""
    from .storage.sqlite import SQLiteStorage

    try:
        storage = SQLiteStorage(path, create=False, readonly=True)
    except Error as exc:
        return [exc.message]
    try:
        return check_storage(storage)
    finally:
        storage.close()
