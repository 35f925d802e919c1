"""Writing state that comes from elsewhere (sync's pull): records and join rows exactly as given.

``apply_remote`` upserts or deletes one record by key: values type-checked, unique and foreign-key
checks, no defaults, no nested writes, no cascades. ``apply_remote_link`` adds or removes one row
of an implicit many-to-many join store. Both emit the usual events and history, so plugins see
them with the transaction's origin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ForeignKeyViolationError, InvalidValueError
from .query import record_key
from .schema import Model, Relation, Schema
from .storage import check_value, decode, encode

if TYPE_CHECKING:
    from .client import Context

__all__ = ["apply_remote", "apply_remote_link", "apply_remote_many", "join_relation"]


async def apply_remote(ctx: Context, m: Model, op: str, key: Any, data: dict | None) -> None:
    store = ctx.tx.object_store(m.name)
    stored = await store.get(key)
    before = decode(m, stored) if stored is not None else None
    if op == "delete":
        if before is not None:
            for rel in m.relations.values():
                if rel.kind == "back" and await ctx._referrers(m, before, rel):
                    raise ForeignKeyViolationError(
                        f"cannot delete {m.name} {key!r}: {rel.target} records point at it",
                        model=m.name, value=key)
            await ctx._remove(m, before)
        return
    if op != "upsert" or not isinstance(data, dict):
        raise InvalidValueError("apply_remote takes ('upsert', key, record) or ('delete', key)",
                                model=m.name, value=op)
    record = {f.name: check_value(ctx.schema, m.name, f, data.get(f.name)) for f in m.scalars}
    values = [encode(m.fields[f], record[f]) for f in m.id_fields]
    if (values[0] if len(values) == 1 else values) != key:
        raise InvalidValueError(f"apply_remote: the record's id {values!r} is not the key {key!r}",
                                model=m.name, value=key)
    if before is None:
        await ctx._check_unique(m, record)
        await ctx._check_fks(m, record)
        await ctx._insert(m, record)
        return
    changed = tuple(f for f in record if record[f] != before.get(f))
    if changed:
        await ctx._check_unique(m, record, key, only=set(changed))
        await ctx._check_fks(m, record, only=set(changed))
        await ctx._replace(m, before, record, changed)


async def apply_remote_many(ctx: Context, m: Model, records: list[dict]) -> None:
    """``apply_remote("upsert", ...)`` for each record, in order, with one read of the stored
    records and one write (sync's pull applies a page this way). The same checks: values, ids,
    foreign keys. A model with unique fields or a relation to itself goes record by record, since
    a later record of the batch may depend on an earlier one's write."""
    from .writes import encode_record

    checked = []
    for data in records:
        if not isinstance(data, dict):
            raise InvalidValueError("apply_remote_many takes records (dicts)", model=m.name, value=data)
        checked.append({f.name: check_value(ctx.schema, m.name, f, data.get(f.name)) for f in m.scalars})
    keys = [record_key(m, r) for r in checked]
    if m.uniques or any(r.kind == "owner" and r.target == m.name for r in m.relations.values()) \
            or len({repr(k) for k in keys}) != len(keys):
        for key, record in zip(keys, checked, strict=True):
            await apply_remote(ctx, m, "upsert", key, record)
        return
    store = ctx.tx.object_store(m.name)
    stored = await store.get_many(keys)
    writes = []
    for record, old in zip(checked, stored, strict=True):
        before = decode(m, old) if old is not None else None
        changed = tuple(f for f in record if before is None or record[f] != before.get(f))
        if changed:
            await ctx._check_fks(m, record, only=None if before is None else set(changed))
            writes.append((before, record, changed))
    if not writes:
        return
    await store.put_many([encode_record(m, record) for _, record, _ in writes])
    for before, record, changed in writes:
        if before is None:
            await ctx._emit(m.name, "create", record_key(m, record), None, dict(record))
        else:
            await ctx._emit(m.name, "update", record_key(m, record), dict(before), dict(record), changed)


def join_relation(schema: Schema, join_store: str, op: str, key: Any) -> Relation:
    """The relation (side A) of ``join_store``, after checking the arguments."""
    rels = [r for m in schema.models.values() for r in m.relations.values()
            if r.join_store == join_store and r.join_side == "A"]
    if not rels or op not in ("create", "delete") or not isinstance(key, (list, tuple)) \
            or len(key) != 2:
        raise InvalidValueError(f"apply_remote_link takes a join store of the schema, 'create' or "
                                f"'delete' and [A, B], got {join_store!r}, {op!r}, {key!r}",
                                value=key)
    return rels[0]


async def apply_remote_link(ctx: Context, rel: Relation, op: str, key: list[Any]) -> None:
    if op == "create":
        for model, k in ((rel.model, key[0]), (rel.target, key[1])):
            if await ctx.tx.object_store(model).get_key(k) is None:
                raise ForeignKeyViolationError(f"apply_remote_link: no {model} with key {k!r}",
                                               model=model, value=k)
    await ctx._join(rel, key[0], key[1], op == "create")
