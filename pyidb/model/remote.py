"""Writing state that comes from elsewhere (sync's pull): records and join rows exactly as given.

``apply_remote`` upserts or deletes one record by key: values type-checked, unique and foreign-key
checks, no defaults, no nested writes, no cascades. ``apply_remote_link`` adds or removes one row
of an implicit many-to-many join store. Both emit the usual events and history, so plugins see
them with the transaction's origin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ForeignKeyViolationError, InvalidValueError
from .schema import Model, Relation, Schema
from .storage import check_value, decode, encode

if TYPE_CHECKING:
    from .client import Context

__all__ = ["apply_remote", "apply_remote_link", "join_relation"]


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
