"""Spec 5 "object store storage operations" and 6 "index" records, over a :class:`Storage`.

An object store is a tree ``encode_key(primary key) -> encoded value``; an index is a tree
``encode_key(index key) + encode_key(primary key) -> encode_key(primary key)``. Because encoded
keys are prefix-free and ordered, index entries sort by (index key, primary key), as the spec
orders index records.

Each operation is atomic on its own (spec: "revert all changes made by operation" when it
fails): writes go through a :class:`Journal` that can undo them, so a failing request, even a
batch of thousands of records, leaves nothing behind while its transaction goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..api import make_records
from ..errors import ConstraintError
from ..key_encoding import decode_key, encode_key
from ..key_path import extract_index_keys, inject_key
from ..wire import decode, encode, loads_many
from .bounds import Bounds, index_key_of, point_bounds
from .catalog import IndexSchema, StoreSchema
from .key_generator import generate_key, possibly_update
from .storage.base import Storage


class Journal:
    """Undo log of one operation's writes."""

    __slots__ = ("entries", "storage")

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.entries: list[tuple[Any, ...]] = []

    def put(self, tree: int, key: bytes, value: bytes, old: bytes | None) -> None:
        self.entries.append((tree, key, old))
        self.storage.put(tree, key, value)

    def insert_many(self, tree: int, items: list[tuple[bytes, bytes]]) -> None:
        """Put pairs whose keys are known to be new (undo deletes them)."""
        self.entries.extend([(tree, key, None) for key, _ in items])
        self.storage.put_many(tree, items)

    def delete(self, tree: int, key: bytes, old: bytes) -> None:
        self.entries.append((tree, key, old))
        self.storage.delete(tree, key)

    def generator(self, store: StoreSchema) -> None:
        self.entries.append((store, store.generator, store.generator_dirty))

    def undo(self) -> None:
        storage = self.storage
        for entry in reversed(self.entries):
            if isinstance(entry[0], StoreSchema):
                entry[0].generator, entry[0].generator_dirty = entry[1], entry[2]
            elif entry[2] is None:
                storage.delete(entry[0], entry[1])
            else:
                storage.put(entry[0], entry[1], entry[2])
        self.entries.clear()


def index_entries(index: IndexSchema, value: Any, pk: bytes) -> list[bytes]:
    return [encode_key(k) + pk for k in extract_index_keys(value, index.key_path, index.multi_entry)]


def encode_plain(indexes: tuple[IndexSchema, ...], value: Any) -> tuple[Any, ...]:
    """A plain value (:func:`pyidb.clone.is_plain`) taken at call time without a copy:
    ``(its bytes, indexes, then per index its encoded key, None or a tuple of keys)``.

    This is all :func:`store_record` needs of it later. A copy would live until the request
    runs and be traced by every garbage collection meanwhile; this tuple of bytes is untracked
    by the first one. (A clone is never a tuple, which tells the two apart.)
    """
    out: list[Any] = [encode(value, False), indexes]
    is_dict = type(value) is dict
    for index in indexes:
        path = index.key_path
        if is_dict and type(path) is str and path and "." not in path and not index.multi_entry:
            # The common index (one top-level field holding a number or an ASCII string): that
            # value is already its own key (a plain int is safe, a plain float finite).
            found = value.get(path)
            kind = type(found)
            if kind is int or kind is float or (kind is str and found.isascii()):
                out.append(encode_key(found))
                continue
        keys = extract_index_keys(value, path, index.multi_entry)
        if index.multi_entry:
            out.append(tuple([encode_key(k) for k in keys]))
        else:
            out.append(encode_key(keys[0]) if keys else None)
    return tuple(out)


def _known_entries(encoded: tuple[Any, ...], n: int, index: IndexSchema,
                   pk: bytes) -> list[bytes] | None:
    """The entries of the ``n``-th index of the store if ``encoded`` has them (no index was
    created or deleted since the call), else None."""
    indexes = encoded[1]
    if n >= len(indexes) or indexes[n] is not index:
        return None
    found = encoded[n + 2]
    if found is None:
        return []
    if type(found) is bytes:
        return [found + pk]
    return [k + pk for k in found]


def _check_unique(storage: Storage, store: StoreSchema, index: IndexSchema, entry: bytes,
                  pk: bytes) -> None:
    ik = index_key_of(entry, pk)
    for _, other in storage.scan(index.tree, *point_bounds(ik), limit=2):
        if other != pk:
            raise ConstraintError(
                f"unique index {index.name!r} of object store {store.name!r} already has a "
                f"record with index key {decode_key(ik)!r}"
            )


def store_record(
    storage: Storage,
    store: StoreSchema,
    value: Any,
    needs_tags: bool,
    key: Any,
    no_overwrite: bool,
    journal: Journal,
) -> Any:
    """Spec "store a record into an object store"; ``value`` is already cloned (or taken by
    :func:`encode_plain`). Returns the key.

    Writes go through ``journal``; the caller undoes it if this (or a later record of the same
    batch) fails.
    """
    if store.auto_increment:
        if key is None:
            journal.generator(store)
            key = generate_key(store)
            if store.key_path is not None:
                inject_key(value, key, store.key_path)  # type: ignore[arg-type]
        elif type(key) in (int, float):
            journal.generator(store)
            possibly_update(store, key)
    pk = encode_key(key)
    encoded = value if type(value) is tuple else None
    raw = encode(value, needs_tags) if encoded is None else encoded[0]
    old = storage.get(store.tree, pk)
    if old is not None and no_overwrite:
        raise ConstraintError(
            f"a record with key {key!r} already exists in object store {store.name!r}; "
            "use put() to replace it"
        )
    new_entries: list[tuple[IndexSchema, bytes]] = []
    stale: list[tuple[IndexSchema, bytes]] = []
    old_value = decode(old) if old is not None and store.indexes else None
    for n, index in enumerate(store.indexes.values()):
        entries = None if encoded is None else _known_entries(encoded, n, index, pk)
        if entries is None:
            if value is encoded:  # an index created since the call: read the value back
                value = decode(raw)
            entries = index_entries(index, value, pk)
        if old_value is not None:
            # Overwrite: touch only the entries that change (most updates keep their index keys).
            before = index_entries(index, old_value, pk)
            stale.extend((index, e) for e in before if e not in entries)
            entries = [e for e in entries if e not in before]
        for entry in entries:
            if index.unique:
                _check_unique(storage, store, index, entry, pk)
            new_entries.append((index, entry))
    for index, entry in stale:
        journal.delete(index.tree, entry, pk)
    journal.put(store.tree, pk, raw, old)
    for index, entry in new_entries:
        journal.put(index.tree, entry, pk, None)
    return key


def store_many(
    storage: Storage,
    store: StoreSchema,
    records: list[tuple[Any, bool, Any]],
    no_overwrite: bool,
) -> list[Any]:
    """Store ``(value, needs_tags, key)`` records as one operation: all of them or none."""
    journal = Journal(storage)
    try:
        keys = _insert_many(storage, store, records, journal)
        if keys is None:
            keys = [store_record(storage, store, value, needs_tags, key, no_overwrite, journal)
                    for value, needs_tags, key in records]
    except BaseException:
        journal.undo()
        raise
    return keys


def _insert_many(storage: Storage, store: StoreSchema, records: list[tuple[Any, bool, Any]],
                 journal: Journal) -> list[Any] | None:
    """The common bulk load: every key given (no generator), none in the store yet nor twice in
    the batch, no unique index. Then nothing needs a per-record read or check, and each tree
    gets one :meth:`Storage.put_many` (one ``executemany`` on SQLite instead of three statements
    per record). None (nothing written) when the batch is not such a load: the caller then
    stores record by record."""
    indexes = tuple(store.indexes.values())
    if len(records) < 2 or store.auto_increment or any(i.unique for i in indexes):
        return None
    rows: list[tuple[bytes, bytes]] = []
    entries: list[list[tuple[bytes, bytes]]] = [[] for _ in indexes]
    for value, needs_tags, key in records:
        pk = encode_key(key)
        if type(value) is tuple:  # encode_plain's bytes and index keys
            raw = value[0]
            for n, index in enumerate(indexes):
                found = _known_entries(value, n, index, pk)
                if found is None:  # an index created since the call: read the value back
                    found = index_entries(index, decode(raw), pk)
                entries[n].extend([(e, pk) for e in found])
        else:
            raw = encode(value, needs_tags)
            for n, index in enumerate(indexes):
                entries[n].extend([(e, pk) for e in index_entries(index, value, pk)])
        rows.append((pk, raw))
    pks = [pk for pk, _ in rows]
    if len(set(pks)) != len(pks) or storage.contains_any(store.tree, pks):
        return None
    journal.insert_many(store.tree, rows)
    for index, pairs in zip(indexes, entries, strict=True):
        journal.insert_many(index.tree, pairs)
    return [key for _, _, key in records]


def put_one(storage: Storage, store: StoreSchema, value: Any, needs_tags: bool, key: Any,
            no_overwrite: bool) -> Any:
    journal = Journal(storage)
    try:
        return store_record(storage, store, value, needs_tags, key, no_overwrite, journal)
    except BaseException:
        journal.undo()
        raise


def delete_records(storage: Storage, store: StoreSchema, bounds: Bounds) -> None:
    """Spec "delete records from an object store" for a key range's byte bounds."""
    lo, hi = bounds
    if store.indexes:
        for pk, raw in list(storage.scan(store.tree, lo, hi)):
            value = decode(raw)
            for index in store.indexes.values():
                for entry in index_entries(index, value, pk):
                    storage.delete(index.tree, entry)
    storage.delete_range(store.tree, lo, hi)


def clear_store(storage: Storage, store: StoreSchema) -> None:
    """Spec "clear an object store"."""
    storage.delete_range(store.tree, None, None)
    for index in store.indexes.values():
        storage.delete_range(index.tree, None, None)


def populate_index(storage: Storage, store: StoreSchema, index: IndexSchema) -> None:
    """Index the records already in the store (createIndex on a non-empty store)."""
    for pk, raw in list(storage.scan(store.tree)):
        for entry in index_entries(index, decode(raw), pk):
            if index.unique:
                _check_unique(storage, store, index, entry, pk)
            storage.put(index.tree, entry, pk)


# -- retrieval ----------------------------------------------------------------------------------
def _first(it: Iterator[tuple[bytes, bytes]]) -> tuple[bytes, bytes] | None:
    return next(it, None)


def get_value(storage: Storage, store: StoreSchema, bounds: Bounds) -> Any:
    """Spec "retrieve a value from an object store"."""
    hit = _first(storage.scan(store.tree, *bounds, limit=1))
    return None if hit is None else decode(hit[1])


def get_value_at(storage: Storage, store: StoreSchema, pk: bytes) -> Any:
    """The value of the record whose encoded key is ``pk`` (a point lookup), or None."""
    raw = storage.get(store.tree, pk)
    return None if raw is None else decode(raw)


def get_key(storage: Storage, store: StoreSchema, bounds: Bounds) -> Any:
    hit = _first(storage.scan(store.tree, *bounds, limit=1))
    return None if hit is None else decode_key(hit[0])


def get_many(storage: Storage, store: StoreSchema, keys: Iterable[Any]) -> list[Any]:
    out = []
    for key in keys:
        raw = storage.get(store.tree, encode_key(key))
        out.append(None if raw is None else decode(raw))
    return out


def count_records(storage: Storage, tree: int, bounds: Bounds) -> int:
    return storage.count(tree, *bounds)


def index_get_value(storage: Storage, store: StoreSchema, index: IndexSchema,
                    bounds: Bounds) -> Any:
    """Spec "retrieve a referenced value from an index"."""
    hit = _first(storage.scan(index.tree, *bounds, limit=1))
    if hit is None:
        return None
    raw = storage.get(store.tree, hit[1])
    return None if raw is None else decode(raw)


def index_get_key(storage: Storage, index: IndexSchema, bounds: Bounds) -> Any:
    hit = _first(storage.scan(index.tree, *bounds, limit=1))
    return None if hit is None else decode_key(hit[1])


def get_all_items(storage: Storage, store: StoreSchema, index: IndexSchema | None,
                  bounds: Bounds, direction: str, count: int | None, kind: str) -> list[Any]:
    """Spec 6.2/6.3 "retrieve multiple items" from ``store`` (or its ``index``): ``kind`` is
    "value", "key" (primary keys) or "record" (:class:`~pyidb.Record`), in ``direction``, at most
    ``count`` (None: all). One range scan in that direction, never a sort."""
    reverse = direction.startswith("prev")
    if index is None:  # an object store's keys are unique: "nextunique" is "next"
        rows = list(storage.scan(store.tree, *bounds, reverse=reverse, limit=count))
        if kind == "key":
            return [decode_key(pk) for pk, _ in rows]
        values = loads_many([raw for _, raw in rows])
        if kind == "value":
            return values
        keys = [decode_key(pk) for pk, _ in rows]
        return make_records(keys, keys, values)
    if direction in ("next", "prev"):
        rows = list(storage.scan(index.tree, *bounds, reverse=reverse, limit=count))
    else:
        rows = _unique_entries(storage, index, bounds, reverse, count)
    if kind == "key":
        return [decode_key(pk) for _, pk in rows]
    found = [(entry, pk, storage.get(store.tree, pk)) for entry, pk in rows]
    found = [f for f in found if f[2] is not None]
    values = loads_many([raw for _, _, raw in found])  # type: ignore[misc]
    if kind == "value":
        return values
    return make_records([decode_key(index_key_of(entry, pk)) for entry, pk, _ in found],
                        [decode_key(pk) for _, pk, _ in found], values)


def _unique_entries(storage: Storage, index: IndexSchema, bounds: Bounds, reverse: bool,
                    count: int | None) -> list[tuple[bytes, bytes]]:
    """The first entry (lowest primary key) of each index key in ``bounds``, ascending or (for
    "prevunique") descending index keys, at most ``count``: one streamed scan."""
    out: list[tuple[bytes, bytes]] = []
    last: bytes | None = None
    held: tuple[bytes, bytes] | None = None
    for entry, pk in storage.scan(index.tree, *bounds, reverse=reverse):
        ik = index_key_of(entry, pk)
        if ik == last:
            if reverse:
                held = (entry, pk)  # a lower primary key of the same index key
            continue
        last = ik
        if not reverse:
            out.append((entry, pk))
            if len(out) == count:
                return out
            continue
        if held is not None:
            out.append(held)
            if len(out) == count:
                return out
        held = (entry, pk)
    if held is not None:
        out.append(held)
    return out
