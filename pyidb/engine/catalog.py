"""The catalog: databases, their versions and schemas, persisted in storage tree 0.

Layout of tree 0 (everything else lives in numbered trees the catalog hands out):

* ``b"D" + name`` -> JSON ``{"version": int, "stores": {name: store}}`` where a store is
  ``{"tree", "key_path", "auto_increment", "indexes": {name: {"tree", "key_path", "unique",
  "multi_entry"}}}``;
* ``b"G" + tree`` -> a store's key generator current number (ASCII digits);
* ``b"N"`` -> the next free tree number.

Only JSON is stored: opening a database file can never run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import Error, UnknownError
from ..key_path import validate_key_path
from .storage.base import Storage

CATALOG_TREE = 0
MAX_TREE = 2**62  # tree ids are SQLite INTEGERs and 8-byte generator keys
MAX_VERSION = 2**53 - 1
MAX_GENERATOR = 2**53 + 1  # a key generator's number never goes past it (key_generator.py)
_NEXT_TREE = b"N"


def _name_bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def sort_names(names: Any) -> list[str]:
    """Sort names by UTF-16 code units, as a DOMStringList is sorted."""
    return sorted(names, key=lambda s: s.encode("utf-16-be", "surrogatepass"))


@dataclass(eq=False)
class IndexSchema:
    name: str
    tree: int
    key_path: str | list[str]
    unique: bool
    multi_entry: bool
    deleted: bool = False


@dataclass(eq=False)
class StoreSchema:
    name: str
    tree: int
    key_path: str | list[str] | None
    auto_increment: bool
    indexes: dict[str, IndexSchema] = field(default_factory=dict)
    generator: int = 1  # the key generator's current number (spec 2.11)
    generator_dirty: bool = False
    deleted: bool = False


@dataclass(eq=False)
class DatabaseSchema:
    name: str
    version: int = 0
    stores: dict[str, StoreSchema] = field(default_factory=dict)

    def to_json(self) -> bytes:
        stores = {
            s.name: {
                "tree": s.tree,
                "key_path": s.key_path,
                "auto_increment": s.auto_increment,
                "indexes": {
                    i.name: {
                        "tree": i.tree,
                        "key_path": i.key_path,
                        "unique": i.unique,
                        "multi_entry": i.multi_entry,
                    }
                    for i in s.indexes.values()
                },
            }
            for s in self.stores.values()
        }
        return json.dumps({"version": self.version, "stores": stores}).encode()


def _gen_key(tree: int) -> bytes:
    return b"G" + tree.to_bytes(8, "big")


def _where(storage: Storage) -> str:
    path = getattr(storage, "path", None)
    return f"the database file {path}" if path else "the storage"


def _damaged(storage: Storage, what: str) -> UnknownError:
    return UnknownError(
        f"{_where(storage)} has a damaged pyidb catalog ({what}); pyidb refuses to use it. "
        "Restore it from a backup; 'python -m pyidb check FILE' lists what is wrong"
    )


def _expect(cond: bool, storage: Storage, what: str) -> None:
    if not cond:
        raise _damaged(storage, what)


def _number(raw: bytes, lo: int, hi: int) -> int | None:
    """A stored decimal number in [lo, hi], or None (digits only: no sign, space or '1e999')."""
    if not raw.isdigit() or len(raw) > 20:
        return None
    n = int(raw)
    return n if lo <= n <= hi else None


def _key_path(path: Any, nullable: bool) -> bool:
    if path is None:
        return nullable
    try:
        return validate_key_path(path) == path
    except Error:
        return False


def _parse_store(storage: Storage, where: str, s: Any) -> StoreSchema:
    name, doc = s
    _expect(type(doc) is dict and doc.keys() == {"tree", "key_path", "auto_increment", "indexes"},
            storage, f"{where}: not a store entry")
    tree, path, auto = doc["tree"], doc["key_path"], doc["auto_increment"]
    _expect(type(tree) is int and 0 < tree < MAX_TREE, storage, f"{where}: tree id {tree!r}")
    _expect(_key_path(path, True), storage, f"{where}: key path {path!r}")
    _expect(type(auto) is bool and not (auto and (path == "" or type(path) is list)), storage,
            f"{where}: auto_increment {auto!r} with key path {path!r}")
    _expect(type(doc["indexes"]) is dict, storage, f"{where}: indexes is not an object")
    store = StoreSchema(name, tree, path, auto)
    for index_name, i in doc["indexes"].items():
        at = f"{where}, index {index_name!r}"
        _expect(type(i) is dict and i.keys() == {"tree", "key_path", "unique", "multi_entry"},
                storage, f"{at}: not an index entry")
        itree, ipath, unique, multi = i["tree"], i["key_path"], i["unique"], i["multi_entry"]
        _expect(type(itree) is int and 0 < itree < MAX_TREE, storage, f"{at}: tree id {itree!r}")
        _expect(_key_path(ipath, False), storage, f"{at}: key path {ipath!r}")
        _expect(type(unique) is bool and type(multi) is bool and not (multi and type(ipath) is list),
                storage, f"{at}: unique {unique!r}, multi_entry {multi!r}")
        store.indexes[index_name] = IndexSchema(index_name, itree, ipath, unique, multi)
    return store


def parse_schema(storage: Storage, name: str, raw: bytes) -> DatabaseSchema:
    """A catalog entry, checked field by field: anything a writer of pyidb could not have
    written is refused with UnknownError naming the file (never a bare Python exception)."""
    where = f"database {name!r}"
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested deeper than Python
        raise _damaged(storage, f"{where}: not readable JSON ({str(exc)[:100]})") from None
    _expect(type(doc) is dict and doc.keys() == {"version", "stores"} and type(doc["stores"]) is dict,
            storage, f"{where}: not a database entry")
    version = doc["version"]
    _expect(type(version) is int and 0 <= version <= MAX_VERSION, storage,
            f"{where}: version {str(version)[:40]}")
    schema = DatabaseSchema(name, version)
    for entry in doc["stores"].items():
        schema.stores[entry[0]] = _parse_store(storage, f"{where}, store {entry[0]!r}", entry)
    trees = [t for s in schema.stores.values() for t in (s.tree, *(i.tree for i in s.indexes.values()))]
    _expect(len(set(trees)) == len(trees), storage, f"{where}: two stores or indexes share a tree")
    return schema


def _generator(storage: Storage, tree: int) -> int:
    raw = storage.get(CATALOG_TREE, _gen_key(tree))
    if raw is None:
        return 1
    gen = _number(raw, 1, MAX_GENERATOR)
    _expect(gen is not None, storage, f"key generator of tree {tree}: {raw[:40]!r}")
    return gen  # type: ignore[return-value]


def load_schema(storage: Storage, name: str) -> DatabaseSchema:
    """The schema of database ``name`` as stored (version 0 and no stores if it is new)."""
    raw = storage.get(CATALOG_TREE, b"D" + _name_bytes(name))
    if raw is None:
        return DatabaseSchema(name)
    schema = parse_schema(storage, name, raw)
    for store in schema.stores.values():
        store.generator = _generator(storage, store.tree)
    return schema


def validate(storage: Storage) -> None:
    """Check the whole catalog of a durable storage when it is opened: every entry parses, every
    tree id was handed out and belongs to one store or index, nothing unknown is in tree 0, and a
    storage holding records has a catalog. Raises UnknownError naming the file and the fault."""
    next_tree: int | None = None
    owners: dict[int, str] = {}
    generators: list[int] = []
    for key, raw in storage.scan(CATALOG_TREE):
        kind = key[:1]
        if key == _NEXT_TREE:
            next_tree = _number(raw, 1, MAX_TREE)
            _expect(next_tree is not None, storage, f"next tree id {raw[:40]!r}")
        elif kind == b"D":
            try:
                name = key[1:].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise _damaged(storage, f"a database name is not UTF-8: {key[:40]!r}") from None
            schema = parse_schema(storage, name, raw)
            for store in schema.stores.values():
                for tree in (store.tree, *(i.tree for i in store.indexes.values())):
                    _expect(tree not in owners, storage,
                            f"tree {tree} belongs to {owners.get(tree)} and database {name!r}")
                    owners[tree] = f"database {name!r}"
        elif kind == b"G" and len(key) == 9:
            generators.append(int.from_bytes(key[1:], "big"))
            _generator(storage, generators[-1])
        else:
            raise _damaged(storage, f"an unknown catalog row {key[:40]!r}")
    trees = storage.trees()
    if next_tree is None:
        _expect(not owners and not generators and trees in ([], [CATALOG_TREE]), storage,
                "the catalog is missing but the file holds records: it was truncated or damaged")
        return
    high = max([*owners, *trees, *generators], default=0)
    _expect(high < next_tree, storage, f"tree {high} is in use but the next free tree is {next_tree}")
    stray = [t for t in generators if t not in owners]
    _expect(not stray, storage, f"a key generator for tree {stray[:1]} that no store owns")


def save_schema(storage: Storage, schema: DatabaseSchema) -> None:
    storage.put(CATALOG_TREE, b"D" + _name_bytes(schema.name), schema.to_json())


def delete_schema(storage: Storage, schema: DatabaseSchema) -> None:
    """Remove a database: its catalog entry, generators and every tree it owns."""
    for store in schema.stores.values():
        drop_store_trees(storage, store)
    storage.delete(CATALOG_TREE, b"D" + _name_bytes(schema.name))


def drop_store_trees(storage: Storage, store: StoreSchema) -> None:
    storage.delete_range(store.tree, None, None)
    storage.delete(CATALOG_TREE, _gen_key(store.tree))
    for index in store.indexes.values():
        storage.delete_range(index.tree, None, None)


def flush_generators(storage: Storage, schema: DatabaseSchema) -> None:
    """Write the key generators changed by the committing transaction."""
    for store in schema.stores.values():
        if store.generator_dirty:
            storage.put(CATALOG_TREE, _gen_key(store.tree), str(store.generator).encode())
            store.generator_dirty = False


def reload_generators(storage: Storage, schema: DatabaseSchema) -> None:
    """After an abort: generators go back to their committed numbers (spec 2.11)."""
    for store in schema.stores.values():
        if store.generator_dirty:
            store.generator = _generator(storage, store.tree)
            store.generator_dirty = False


def refresh_for_writer(storage: Storage, schema: DatabaseSchema, scope: frozenset[str]) -> bool:
    """On a durable storage, re-read what another process may have changed.

    Returns False if another process changed the database's version meanwhile (the cached schema
    is stale). Key generators are per store, not per process: under the write lock, reload those
    in ``scope`` (readers pass an empty scope).
    """
    raw = storage.get(CATALOG_TREE, b"D" + _name_bytes(schema.name))
    version = parse_schema(storage, schema.name, raw).version if raw is not None else 0
    if version != schema.version:
        return False
    for name in scope:
        store = schema.stores.get(name)
        if store is not None:
            store.generator = _generator(storage, store.tree)
            store.generator_dirty = False
    return True


def allocate_tree(storage: Storage) -> int:
    raw = storage.get(CATALOG_TREE, _NEXT_TREE)
    tree = _number(raw, 1, MAX_TREE - 1) if raw is not None else 1
    if tree is None:
        raise _damaged(storage, f"next tree id {raw!r}")
    storage.put(CATALOG_TREE, _NEXT_TREE, str(tree + 1).encode())
    return tree


def database_names(storage: Storage) -> list[tuple[str, int]]:
    """``(name, version)`` of every database in the storage."""
    out = []
    for key, raw in storage.scan(CATALOG_TREE, b"D", b"E"):
        name = key[1:].decode("utf-8", "surrogatepass")
        out.append((name, parse_schema(storage, name, raw).version))
    return out
