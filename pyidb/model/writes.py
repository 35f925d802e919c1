"""Writes inside one transaction: create, update, delete, nested relation writes, cascades.

Every record write goes through :meth:`Writer._insert` / ``_replace`` / ``_remove``, which issue
the request, then write the history version (``@@history``) and call the plugins' ``on_write``,
all in the same transaction. A failing check raises before the write it guards; the caller aborts
the transaction on any error, so a call never half-happens.
"""

from __future__ import annotations

import datetime
import os
import secrets
import time
import uuid
from typing import Any

from ..keys import cmp
from .errors import (
    FieldNotFoundError,
    ForeignKeyViolationError,
    InvalidValueError,
    MissingRequiredValueError,
    RecordNotFoundError,
    UniqueViolationError,
)
from .events import WriteEvent
from .nested import NestedWrites
from .query import record_key
from .schema import Default, Field, Model, Relation
from .storage import check_value, decode, encode, history_store, model_indexes

__all__ = ["Writer", "encode_record"]

_NUMBER_OPS = {"increment", "decrement", "multiply", "divide", "set"}
_TO_ONE_OPS = {"create", "connect", "connect_or_create", "disconnect"}
_TO_MANY_OPS = {"create", "connect", "connect_or_create", "disconnect", "set"}


def encode_record(model: Model, record: dict[str, Any]) -> dict[str, Any]:
    return {f.name: encode(f, record.get(f.name)) for f in model.scalars}


def _now() -> datetime.datetime:
    t = datetime.datetime.now(datetime.UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _cuid() -> str:
    """A collision-resistant id in the cuid shape: 'c' + time + counter + random, base 36."""
    def b36(n: int, width: int) -> str:
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        while n:
            n, r = divmod(n, 36)
            out = digits[r] + out
        return out.rjust(width, "0")[-width:]

    _cuid.counter = (getattr(_cuid, "counter", 0) + 1) % 36**4  # type: ignore[attr-defined]
    return ("c" + b36(int(time.time() * 1000), 8) + b36(_cuid.counter, 4)  # type: ignore[attr-defined]
            + b36(os.getpid() if hasattr(os, "getpid") else 0, 2) + b36(secrets.randbits(64), 10))


def default_value(f: Field) -> Any:
    d = f.default
    assert d is not None
    if d.kind == "autoincrement":
        return None
    if d.kind == "uuid":
        return str(uuid.uuid4())
    if d.kind == "cuid":
        return _cuid()
    if d.kind == "now":
        return _now()
    return list(d.value) if isinstance(d.value, list) else d.value


class Writer(NestedWrites):
    """The write half of a transaction context (nested relation writes: pyidb/model/nested.py)."""

    origin: str
    changed_models: set[str]

    # -- the three primitives every write goes through ---------------------------------------
    async def _emit(self, name: str, op: Any, key: Any, before: dict[str, Any] | None,
                    after: dict[str, Any] | None, changed: tuple[str, ...] = ()) -> None:
        self.changed_models.add(name)
        model = self.schema.models.get(name)
        if model is not None and model.history:
            data = encode_record(model, after) if after is not None else None
            await self.tx.object_store(history_store(name)).put(
                {"key": key, "version": self.client.hlc.next(), "data": data})
        if self.client.plugins:
            event = WriteEvent(name, op, key, before, after, changed, self.origin)
            for plugin in self.client.plugins:
                plugin.on_write(self.tx, event)

    async def _insert(self, model: Model, record: dict[str, Any]) -> dict[str, Any]:
        stored = encode_record(model, record)
        if model.autoincrement and stored[model.id_fields[0]] is None:
            del stored[model.id_fields[0]]
        key = await self.tx.object_store(model.name).add(stored)
        if model.autoincrement:
            record[model.id_fields[0]] = key
        await self._emit(model.name, "create", key, None, dict(record))
        return record

    async def _replace(self, model: Model, before: dict[str, Any], after: dict[str, Any],
                       changed: tuple[str, ...]) -> None:
        key = await self.tx.object_store(model.name).put(encode_record(model, after))
        await self._emit(model.name, "update", key, dict(before), dict(after), changed)

    async def _remove(self, model: Model, record: dict[str, Any]) -> None:
        key = record_key(model, record)
        await self.tx.object_store(model.name).delete(key)
        await self._emit(model.name, "delete", key, dict(record), None)

    async def _join(self, rel: Relation, mine: Any, other: Any, add: bool) -> None:
        assert rel.join_store is not None
        row = {"A": mine, "B": other} if rel.join_side == "A" else {"A": other, "B": mine}
        key = [row["A"], row["B"]]
        store = self.tx.object_store(rel.join_store)
        exists = await store.get_key(key) is not None
        if add and not exists:
            await store.put(row)
            await self._emit(rel.join_store, "create", key, None, row)
        elif not add and exists:
            await store.delete(key)
            await self._emit(rel.join_store, "delete", key, row, None)

    # -- checks ------------------------------------------------------------------------------
    async def _check_unique(self, model: Model, record: dict[str, Any], own: Any = None,
                            only: set[str] | None = None) -> None:
        store = self.tx.object_store(model.name)
        for fields in model.unique_sets():
            if only is not None and not only & set(fields):
                continue
            values = tuple(record.get(f) for f in fields)
            if None in values:
                continue
            key = record_key(model, record, fields)
            source = store if fields == model.id_fields else \
                store.index(model_indexes(model)[fields][0])
            found = await source.get_key(key)
            if found is not None and (own is None or cmp(found, own) != 0):
                shown = ", ".join(f"{f}={v!r}" for f, v in zip(fields, values, strict=True))
                raise UniqueViolationError(
                    f"Unique constraint failed on {model.name}({', '.join(fields)}): a record with "
                    f"{shown} exists", model=model.name, field=",".join(fields),
                    value=values[0] if len(values) == 1 else values)

    async def _check_fks(self, model: Model, record: dict[str, Any],
                         only: set[str] | None = None) -> None:
        for rel in model.relations.values():
            if rel.kind != "owner" or (only is not None and not only & set(rel.fields)):
                continue
            values = tuple(record.get(f) for f in rel.fields)
            if None in values:
                continue
            target = self.model(rel.target)
            key = record_key(target, dict(zip(rel.references, values, strict=True)), rel.references)
            store = self.tx.object_store(target.name)
            source = store if rel.references == target.id_fields else \
                store.index(model_indexes(target)[rel.references][0])
            if await source.get_key(key) is None:
                raise ForeignKeyViolationError(
                    f"Foreign key constraint failed on {model.name}.{rel.field}: no {target.name} "
                    f"with {', '.join(rel.references)} = {values if len(values) > 1 else values[0]!r}",
                    model=model.name, field=",".join(rel.fields), value=values)

    # -- data --------------------------------------------------------------------------------
    def _split(self, model: Model, data: Any, *, update: bool) -> tuple[dict[str, Any],
                                                                        dict[str, dict[str, Any]]]:
        if not isinstance(data, dict):
            raise InvalidValueError(f"data for {model.name} must be a dict, not "
                                    f"{type(data).__name__}", model=model.name, value=data)
        scalars: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for name, value in data.items():
            f = model.fields.get(name)
            if f is None:
                raise FieldNotFoundError(f"{model.name} has no field {name!r} (fields: "
                                         f"{', '.join(model.fields)})", model=model.name, field=name)
            rel = model.relations.get(name)
            if rel is None:
                scalars[name] = self._scalar_update(model, f, value) if update else \
                    check_value(self.schema, model.name, f, value)
                continue
            allowed = _TO_MANY_OPS if rel.to_many else _TO_ONE_OPS
            if not update:
                allowed = allowed - {"disconnect", "set"}
            if not isinstance(value, dict) or not value or set(value) - allowed:
                raise FieldNotFoundError(
                    f"{model.name}.{name} is a relation: write it with one of "
                    f"{', '.join(sorted(allowed))}, got {value!r}", model=model.name, field=name,
                    value=value)
            nested[name] = value
        return scalars, nested

    def _scalar_update(self, model: Model, f: Field, value: Any) -> Any:
        if isinstance(value, dict) and f.type != "Json":
            ops = set(value)
            allowed = _NUMBER_OPS if f.type in ("Int", "Float", "BigInt") and not f.is_list else \
                {"set", "push"} if f.is_list else {"set"}
            if len(ops) != 1 or ops - allowed:
                raise FieldNotFoundError(f"update {model.name}.{f.name} with a value or one of "
                                         f"{', '.join(sorted(allowed))}, got {value!r}",
                                         model=model.name, field=f.name, value=value)
            op, arg = next(iter(value.items()))
            if op == "set":
                return ("set", check_value(self.schema, model.name, f, arg))
            if op == "push":
                items = arg if isinstance(arg, list) else [arg]
                return ("push", [check_value(self.schema, model.name, f, x, element=True)
                                 for x in items])
            if isinstance(arg, bool) or not isinstance(arg, (int, float)):
                raise InvalidValueError(f"{op} on {model.name}.{f.name} takes a number, not {arg!r}",
                                        model=model.name, field=f.name, value=arg)
            if op == "divide" and arg == 0:
                raise InvalidValueError(f"divide {model.name}.{f.name} by zero", model=model.name,
                                        field=f.name, value=arg)
            return (op, arg)
        return ("set", check_value(self.schema, model.name, f, value))

    def _apply(self, model: Model, f: Field, current: Any, change: tuple[str, Any]) -> Any:
        op, arg = change
        if op == "set":
            return arg
        if op == "push":
            return [*(current or []), *arg]
        if current is None:
            return None  # arithmetic on NULL stays NULL, as in SQL
        if op == "increment":
            new = current + arg
        elif op == "decrement":
            new = current - arg
        elif op == "multiply":
            new = current * arg
        else:
            new = current / arg
            if f.type != "Float":
                new = int(new)
        if f.type in ("Int", "BigInt"):
            new = int(new)
        return check_value(self.schema, model.name, f, new)

    def _complete(self, model: Model, given: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for f in model.scalars:
            if f.name in given:
                record[f.name] = given[f.name]
            elif f.updated_at:
                record[f.name] = _now()
            elif f.default is not None:
                record[f.name] = check_value(self.schema, model.name, f, default_value(f)) \
                    if f.default != Default("autoincrement") else None
            elif f.is_list:
                record[f.name] = []
            elif f.optional:
                record[f.name] = None
            else:
                raise MissingRequiredValueError(
                    f"{model.name}.{f.name} is required and has no default", model=model.name,
                    field=f.name)
        return record

    # -- create ------------------------------------------------------------------------------
    async def create(self, model: Model, data: Any) -> dict[str, Any]:
        scalars, nested = self._split(model, data, update=False)
        for name, ops in nested.items():
            rel = model.relations[name]
            if rel.kind == "owner":
                target = await self._to_one_target(rel, ops)
                if target is not None:
                    for local, ref in zip(rel.fields, rel.references, strict=True):
                        scalars[local] = target[ref]
        record = self._complete(model, scalars)
        await self._check_unique(model, record)
        await self._check_fks(model, record)
        record = await self._insert(model, record)
        for name, ops in nested.items():
            rel = model.relations[name]
            if rel.kind != "owner":
                await self._other_side(model, record, rel, ops)
        return record

    async def create_many(self, model: Model, data: Any, skip_duplicates: bool = False) -> int:
        if not isinstance(data, (list, tuple)):
            raise InvalidValueError(f"create_many on {model.name} takes a list of dicts",
                                    model=model.name, value=data)
        records = []
        for item in data:
            scalars, nested = self._split(model, item, update=False)
            if nested:
                raise InvalidValueError(f"create_many on {model.name} takes no nested writes "
                                        f"({', '.join(nested)}); use create", model=model.name)
            records.append(self._complete(model, scalars))
        sets = [(fields, set()) for fields in model.unique_sets()
                if not (model.autoincrement and fields == model.id_fields)]
        kept = []
        for record in records:
            dup = None
            for fields, seen in sets:
                values = tuple(record[f] for f in fields)
                if None in values:
                    continue
                if values in seen:  # key values (str, numbers, dates, bytes) hash as they compare
                    dup = (fields, values)
                seen.add(values)
            if dup is not None:
                if skip_duplicates:
                    continue
                raise UniqueViolationError(
                    f"Unique constraint failed on {model.name}({', '.join(dup[0])}): "
                    f"{dup[1]!r} twice in create_many", model=model.name, field=",".join(dup[0]),
                    value=dup[1])
            kept.append(record)
        # Ids: one get_many for the whole batch (None where free); other uniques and foreign
        # keys: a lookup per record.
        final = kept
        if not model.autoincrement or any(r[model.id_fields[0]] is not None for r in kept):
            keys = [record_key(model, r) for r in kept]
            found = await self.tx.object_store(model.name).get_many(
                [k for k in keys if k is not None])
            taken = {repr(k) for k, v in zip([k for k in keys if k is not None], found,
                                             strict=True) if v is not None}
            if taken:
                if not skip_duplicates:
                    k = next(k for k in keys if repr(k) in taken)
                    raise UniqueViolationError(
                        f"Unique constraint failed on {model.name}({', '.join(model.id_fields)}): "
                        f"a record with id {k!r} exists", model=model.name,
                        field=",".join(model.id_fields), value=k)
                final = [r for r, k in zip(kept, keys, strict=True) if repr(k) not in taken]
        if model.uniques or any(r.kind == "owner" for r in model.relations.values()):
            checked = []
            for record in final:
                try:
                    await self._check_unique(model, record, only=_non_id(model))
                except UniqueViolationError:
                    if skip_duplicates:
                        continue
                    raise
                await self._check_fks(model, record)
                checked.append(record)
            final = checked
        if not final:
            return 0
        stored = [encode_record(model, r) for r in final]
        if model.autoincrement:
            for s in stored:
                if s[model.id_fields[0]] is None:
                    del s[model.id_fields[0]]
        keys = await self.tx.object_store(model.name).add_many(stored)
        if not (self.client.plugins or model.history):
            self.changed_models.add(model.name)  # nobody to tell record by record
            return len(final)
        for record, key in zip(final, keys, strict=True):
            if model.autoincrement:
                record[model.id_fields[0]] = key
            await self._emit(model.name, "create", key, None, dict(record))
        return len(final)

    async def _must_find(self, model: Model, where: Any, rel: Relation | None = None) -> dict[str, Any]:
        found = await self.find_unique_stored(model, where)
        if found is None:
            via = f" (for {rel.model}.{rel.field})" if rel else ""
            raise RecordNotFoundError(f"no {model.name} record matches {where!r}{via}",
                                      model=model.name, value=where)
        return found

    # -- update ------------------------------------------------------------------------------
    async def update_record(self, model: Model, before: dict[str, Any], data: Any) -> dict[str, Any]:
        scalars, nested = self._split(model, data, update=True)
        after = dict(before)
        for name, change in scalars.items():
            after[name] = self._apply(model, model.fields[name], before[name], change)
        for name, ops in nested.items():
            rel = model.relations[name]
            if rel.kind != "owner":
                continue
            if "disconnect" in ops:
                if ops["disconnect"] is not True:
                    raise InvalidValueError(f"disconnect on {model.name}.{name} takes True",
                                            model=model.name, field=name, value=ops["disconnect"])
                if any(not model.fields[f].optional for f in rel.fields):
                    raise InvalidValueError(f"cannot disconnect the required relation "
                                            f"{model.name}.{name}", model=model.name, field=name)
                for f in rel.fields:
                    after[f] = None
                continue
            target = await self._to_one_target(rel, ops)
            assert target is not None
            for local, ref in zip(rel.fields, rel.references, strict=True):
                after[local] = target[ref]
        changed = tuple(f.name for f in model.scalars if _differs(after.get(f.name),
                                                                   before.get(f.name)))
        if changed or scalars:
            for f in model.scalars:
                if f.updated_at and f.name not in scalars:
                    after[f.name] = _now()
            changed = tuple(f.name for f in model.scalars if _differs(after.get(f.name),
                                                                       before.get(f.name)))
        if changed:
            touched = set(changed)
            if touched & set(model.id_fields):
                raise InvalidValueError(f"changing the id of a {model.name} record is not supported "
                                        f"({', '.join(model.id_fields)})", model=model.name,
                                        field=",".join(model.id_fields))
            await self._check_referenced(model, before, touched)
            await self._check_unique(model, after, record_key(model, before), only=touched)
            await self._check_fks(model, after, only=touched)
            await self._replace(model, before, after, changed)
        for name, ops in nested.items():
            rel = model.relations[name]
            if rel.kind != "owner":
                await self._other_side(model, after, rel, ops)
        return after

    async def _check_referenced(self, model: Model, before: dict[str, Any], touched: set[str]) -> None:
        for rel in model.relations.values():
            if rel.kind == "back" and touched & set(rel.references):
                if await self._referrers(model, before, rel):
                    raise ForeignKeyViolationError(
                        f"cannot change {model.name}.{', '.join(rel.references)}: "
                        f"{rel.target} records point at it", model=model.name,
                        field=",".join(rel.references))

    async def _referrers(self, model: Model, record: dict[str, Any], rel: Relation) -> list[dict[str, Any]]:
        owner = self.model(rel.target)
        values = tuple(record.get(f) for f in rel.references)
        if None in values:
            return []
        key = record_key(model, record, rel.references)
        index = model_indexes(owner)[rel.fields][0]
        stored = await self.tx.object_store(owner.name).index(index).get_all(key)
        return [decode(owner, s) for s in stored]

    # -- delete ------------------------------------------------------------------------------
    async def delete_record(self, model: Model, record: dict[str, Any],
                            deleting: set[tuple[str, str]] | None = None) -> None:
        """Delete ``record`` after its relations' onDelete rules. ``deleting``: the records this
        delete is already taking (a cascade cycle that comes back to one stops there)."""
        store = self.tx.object_store(model.name)
        mark = (model.name, repr(record_key(model, record)))
        deleting = set() if deleting is None else deleting
        if mark in deleting or await store.get_key(record_key(model, record)) is None:
            return  # being deleted up the cascade, or already removed along another path
        deleting.add(mark)
        for rel in model.relations.values():
            if rel.kind == "back":
                referrers = await self._referrers(model, record, rel)
                if not referrers:
                    continue
                owner = self.model(rel.target)
                if rel.on_delete == "Cascade":
                    for r in referrers:
                        await self.delete_record(owner, r, deleting)
                elif rel.on_delete == "SetNull":
                    for r in referrers:
                        await self.update_record(owner, r, {f: None for f in rel.fields})
                else:
                    raise ForeignKeyViolationError(
                        f"cannot delete this {model.name}: {len(referrers)} {owner.name} record(s) "
                        f"point at it through {owner.name}.{rel.opposite} (onDelete: "
                        f"{rel.on_delete})", model=model.name, field=rel.field,
                        value=record_key(model, record))
            elif rel.kind == "many":
                target = self.model(rel.target)
                for other in await self._many_partners(rel, model, record):
                    await self._join(rel, record_key(model, record), record_key(target, other), False)
        await self._remove(model, record)


def _non_id(model: Model) -> set[str]:
    return {f for group in model.uniques for f in group}


def _differs(a: Any, b: Any) -> bool:
    return type(a) is not type(b) or a != b
