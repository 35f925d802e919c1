"""Schema evolution: what changed since the database was last opened, and the upgrade doing it.

Safe changes run by themselves (new models, fields, indexes; removed indexes; removed empty
models); a change that existing records cannot follow (a field's type, a field becoming
required, a new required field without a default, a removed model that still has records) is a
:class:`SchemaError` saying which model and field, raised before anything changes.
"""

from __future__ import annotations

from typing import Any

from ..api import Database, Transaction
from .errors import SchemaError
from .schema import Schema
from .storage import META_STORE, encode
from .writes import default_value

__all__ = ["plan_upgrade", "run_upgrade"]


def plan_upgrade(schema: Schema, old: dict[str, Any] | None, new: dict[str, Any],
                 counts: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Check the change; returns ``{model: {field: default}}`` to fill into existing records."""
    fills: dict[str, dict[str, Any]] = {}
    if old is None:
        return fills
    old_models = old["schema"]["models"]
    new_models = new["schema"]["models"]
    for name, spec in old_models.items():
        if counts.get(name, 0) == 0:
            continue
        if name not in new_models:
            raise SchemaError(f"model {name} was removed from the schema but its store holds "
                              f"{counts[name]} records: delete them first", model=name)
        if old["layout"].get(name, {}).get("key_path") != new["layout"][name]["key_path"]:
            raise SchemaError(f"model {name}: its id changed on existing records (not supported)",
                              model=name)
        model = schema.models[name]
        for fname, (ftype, optional, is_list) in new_models[name]["fields"].items():
            before = spec["fields"].get(fname)
            if before is None:
                f = model.fields[fname]
                if not optional and not is_list and f.default is None and not f.updated_at:
                    raise SchemaError(f"model {name}: new required field {fname} has no @default "
                                      f"and {counts[name]} records exist", model=name, field=fname)
                if (f.default is not None and f.default.kind != "autoincrement") or f.updated_at \
                        or is_list:
                    fills.setdefault(name, {})[fname] = f
                continue
            if [before[0], before[2]] != [ftype, is_list]:
                raise SchemaError(
                    f"model {name}: field {fname} changed type from {before[0]}"
                    f"{'[]' if before[2] else ''} to {ftype}{'[]' if is_list else ''} on "
                    f"{counts[name]} existing records (not supported: add a new field instead)",
                    model=name, field=fname, value=ftype)
            if before[1] and not optional:
                raise SchemaError(f"model {name}: field {fname} became required on "
                                  f"{counts[name]} existing records", model=name, field=fname)
    return fills


async def run_upgrade(db: Database, tx: Transaction, old: dict[str, Any] | None,
                      new: dict[str, Any], schema: Schema, fills: dict[str, dict[str, Any]]) -> None:
    """The versionchange step: create, change and delete stores and indexes, fill new fields."""
    want = new["layout"]
    old_stores = set((old or {}).get("layout", {}))
    for name in list(db.object_store_names):
        if name in old_stores and name not in want:
            db.delete_object_store(name)
    for name, spec in want.items():
        if name in db.object_store_names:
            store = tx.object_store(name)
            if store.key_path != spec["key_path"] or store.auto_increment != spec["auto_increment"]:
                db.delete_object_store(name)  # checked empty by plan_upgrade
                store = db.create_object_store(name, key_path=spec["key_path"],
                                               auto_increment=spec["auto_increment"])
        else:
            store = db.create_object_store(name, key_path=spec["key_path"],
                                           auto_increment=spec["auto_increment"])
        for index in list(store.index_names):
            idx = store.index(index)
            s = spec["indexes"].get(index)
            if s is None or [idx.key_path, idx.unique, idx.multi_entry] != \
                    [s["key_path"], s["unique"], s["multi_entry"]]:
                store.delete_index(index)
        for index, s in spec["indexes"].items():
            if index not in store.index_names:
                store.create_index(index, s["key_path"], unique=s["unique"],
                                   multi_entry=s["multi_entry"])
    for name, fields in fills.items():
        async for cursor in tx.object_store(name).open_cursor():
            value = dict(cursor.value)
            for fname, f in fields.items():
                if fname not in value:
                    default = [] if f.is_list and f.default is None else default_value(f)
                    value[fname] = encode(f, default)
            await cursor.update(value)
    await tx.object_store(META_STORE).put(new, "schema")
