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

from ..errors import UnknownError
from .storage.base import Storage

CATALOG_TREE = 0
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


def load_schema(storage: Storage, name: str) -> DatabaseSchema:
    """The schema of database ``name`` as stored (version 0 and no stores if it is new)."""
    raw = storage.get(CATALOG_TREE, b"D" + _name_bytes(name))
    schema = DatabaseSchema(name)
    if raw is None:
        return schema
    try:
        doc = json.loads(raw)
        schema.version = int(doc["version"])
        for store_name, s in doc["stores"].items():
            store = StoreSchema(store_name, int(s["tree"]), s["key_path"], bool(s["auto_increment"]))
            for index_name, i in s["indexes"].items():
                store.indexes[index_name] = IndexSchema(
                    index_name, int(i["tree"]), i["key_path"], bool(i["unique"]),
                    bool(i["multi_entry"]),
                )
            gen = storage.get(CATALOG_TREE, _gen_key(store.tree))
            store.generator = int(gen) if gen is not None else 1
            schema.stores[store_name] = store
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnknownError(f"the catalog entry of database {name!r} is corrupt: {exc}") from exc
    return schema


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
            gen = storage.get(CATALOG_TREE, _gen_key(store.tree))
            store.generator = int(gen) if gen is not None else 1
            store.generator_dirty = False


def refresh_for_writer(storage: Storage, schema: DatabaseSchema, scope: frozenset[str]) -> bool:
    """On a durable storage, re-read what another process may have changed.

    Returns False if another process changed the database's version meanwhile (the cached schema
    is stale). Key generators are per store, not per process: under the write lock, reload those
    in ``scope`` (readers pass an empty scope).
    """
    raw = storage.get(CATALOG_TREE, b"D" + _name_bytes(schema.name))
    try:
        version = int(json.loads(raw)["version"]) if raw is not None else 0
    except (ValueError, KeyError, TypeError) as exc:
        raise UnknownError(f"the catalog entry of database {schema.name!r} is corrupt") from exc
    if version != schema.version:
        return False
    for name in scope:
        store = schema.stores.get(name)
        if store is not None:
            gen = storage.get(CATALOG_TREE, _gen_key(store.tree))
            store.generator = int(gen) if gen is not None else 1
            store.generator_dirty = False
    return True


def allocate_tree(storage: Storage) -> int:
    raw = storage.get(CATALOG_TREE, _NEXT_TREE)
    tree = int(raw) if raw is not None else 1
    storage.put(CATALOG_TREE, _NEXT_TREE, str(tree + 1).encode())
    return tree


def database_names(storage: Storage) -> list[tuple[str, int]]:
    """``(name, version)`` of every database in the storage."""
    out = []
    for key, raw in storage.scan(CATALOG_TREE, b"D", b"E"):
        name = key[1:].decode("utf-8", "surrogatepass")
        try:
            version = int(json.loads(raw)["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UnknownError(f"the catalog entry of database {name!r} is corrupt") from exc
        out.append((name, version))
    return out
