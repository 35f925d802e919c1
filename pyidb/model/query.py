"""Reads inside one transaction: plan, fetch, filter, order, slice, include."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..api import Transaction
from .errors import FieldNotFoundError, InvalidValueError
from .planner import Plan, plan_query
from .schema import Model, Relation, Schema
from .storage import decode, encode, model_indexes
from .where import Node, matches, parse_order, parse_where, sort_key, sort_records, unique_criterion

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Reader", "record_key"]

_FIND_ARGS = {"where", "order", "take", "skip", "cursor", "distinct", "include"}


def record_key(model: Model, record: dict[str, Any], fields: tuple[str, ...] | None = None) -> Any:
    """The stored key of ``record`` (user form) over ``fields`` (default: the id)."""
    fields = fields or model.id_fields
    values = [encode(model.fields[f], record.get(f)) for f in fields]
    return values[0] if len(values) == 1 else values


def _tuple(model: Model, record: dict[str, Any], fields: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(record.get(f) for f in fields)


class Reader:
    """The read half of a transaction context (see :class:`pyidb.model.ops.Context`)."""

    client: Client
    schema: Schema
    tx: Transaction

    def model(self, name: str) -> Model:
        return self.schema.models[name]

    # -- resolving relation filters --------------------------------------------------------
    async def resolve(self, model: Model, node: Node) -> Node:
        kind = node[0]
        if kind in ("and", "or"):
            return (kind, [await self.resolve(model, n) for n in node[1]])
        if kind == "not":
            return ("not", await self.resolve(model, node[1]))
        if kind != "rel":
            return node
        _, name, how, sub = node
        rel = model.relations[name]
        target = self.model(rel.target)
        local, remote = self._link(model, rel)
        if sub is None:  # "is": None -> no related record; "is_not": None -> one exists
            found = await self._linked_keys(rel, target, ("and", []), remote)
            return ("keys", local, found, how == "is")
        negate = how in ("none", "is_not", "every")
        if how == "every":
            sub = ("not", sub)
        found = await self._linked_keys(rel, target, sub, remote)
        return ("keys", local, found, negate)

    def _link(self, model: Model, rel: Relation) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(this model's fields, the target's fields) that a related pair agrees on."""
        if rel.kind == "owner":
            return rel.fields, rel.references
        if rel.kind == "back":
            return rel.references, rel.fields
        return model.id_fields, self.model(rel.target).id_fields

    async def _linked_keys(self, rel: Relation, target: Model, sub: Node,
                           remote: tuple[str, ...]) -> set[tuple[Any, ...]]:
        rows = await self.fetch(target, await self.resolve(target, sub), [])
        keys = {k for k in (_tuple(target, r, remote) for r in rows) if None not in k}
        if rel.kind != "many":
            return keys
        assert rel.join_store is not None
        mine = rel.join_side
        other = "B" if mine == "A" else "A"
        joins = await self.tx.object_store(rel.join_store).get_all()
        wanted = {record_key(target, dict(zip(target.id_fields, k, strict=True))) for k in keys} \
            if len(target.id_fields) == 1 else None
        out: set[tuple[Any, ...]] = set()
        for j in joins:
            partner = j[other]
            if wanted is not None:
                hit = partner in wanted
            else:
                hit = tuple(partner) in keys
            if hit:
                mk = j[mine]
                out.add(tuple(mk) if isinstance(mk, list) else (mk,))
        return out

    # -- fetching ----------------------------------------------------------------------------
    def plan(self, model: Model, node: Node, order: list[tuple[str, bool]], take: int | None,
             skip: int, early_stop: bool) -> Plan:
        return plan_query(model, node, order, take=take, skip=skip, early_stop=early_stop)

    async def fetch(self, model: Model, node: Node, order: list[tuple[str, bool]], *,
                    take: int | None = None, skip: int = 0, early_stop: bool = True,
                    plan: Plan | None = None) -> list[dict[str, Any]]:
        """Records of ``model`` matching the resolved ``node``, in ``order`` (not sliced)."""
        plan = plan or self.plan(model, node, order, take, skip, early_stop)
        store = self.tx.object_store(model.name)
        rows: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for scan in plan.scans:
            source = store if scan.index is None else store.index(scan.index)
            if plan.limit is not None and plan.exact and plan.direction == "next":
                raw = await source.get_all(scan.range, plan.limit or None)
                rows += [decode(model, s) for s in raw]  # exact: the range is the whole where
            elif plan.limit is not None:
                if plan.limit == 0:
                    break
                async for cursor in source.open_cursor(scan.range, plan.direction):  # type: ignore[arg-type]
                    r = decode(model, cursor.value)
                    if matches(node, r):
                        rows.append(r)
                        if len(rows) >= plan.limit:
                            break
            else:
                raw = await source.get_all(scan.range)
                if plan.direction == "prev":
                    raw.reverse()  # (key, id) descending: what a "prev" walk gives
                for s in raw:
                    r = decode(model, s)
                    if len(plan.scans) > 1:
                        k = tuple(sort_key(x) for x in _tuple(model, r, model.id_fields))
                        if k in seen:
                            continue
                        seen.add(k)
                    if matches(node, r):
                        rows.append(r)
        if not plan.ordered:
            return sort_records(rows, order, model.id_fields)
        if take is not None and take < 0:
            rows.reverse()
        return rows

    async def find_many(self, model: Model, args: dict[str, Any]) -> list[dict[str, Any]]:
        node, order, take, skip, cursor, distinct = self.check_find(model, args)
        early = cursor is None and not distinct
        rows = await self.fetch(model, await self.resolve(model, node), order, take=take, skip=skip,
                                early_stop=early)
        rows = slice_rows(model, rows, take, skip, cursor, distinct)
        if args.get("include"):
            await self.include(model, rows, args["include"])
        return rows

    def explain(self, model: Model, args: dict[str, Any]) -> dict[str, Any]:
        node, order, take, skip, cursor, distinct = self.check_find(model, args)
        if _has_rel(node):
            node = ("and", [n for n in (node[1] if node[0] == "and" else [node])
                            if not _has_rel(n)])
        return self.plan(model, node, order, take, skip, cursor is None and not distinct).explain()

    def check_find(self, model: Model, args: dict[str, Any]) -> tuple[Any, ...]:
        unknown = set(args) - _FIND_ARGS
        if unknown:
            raise FieldNotFoundError(f"unknown argument {sorted(unknown)[0]!r} for {model.name} "
                                     f"(arguments: {', '.join(sorted(_FIND_ARGS))})",
                                     model=model.name, value=sorted(unknown)[0])
        node = parse_where(self.schema, model, args.get("where"))
        order = parse_order(model, args.get("order"))
        take, skip = args.get("take"), args.get("skip") or 0
        for name, v in (("take", take), ("skip", skip)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise InvalidValueError(f"{name} must be an int, not {v!r}", model=model.name,
                                        value=v)
        if skip < 0:
            raise InvalidValueError(f"skip must be >= 0, not {skip}", model=model.name, value=skip)
        cursor = args.get("cursor")
        if cursor is not None:
            cursor = self.unique_where(model, cursor)[1]
        distinct = args.get("distinct") or []
        for d in distinct:
            if d not in model.fields or d in model.relations:
                raise FieldNotFoundError(f"distinct: {model.name} has no scalar field {d!r}",
                                         model=model.name, field=d)
        return node, order, take, skip, cursor, list(distinct)

    def unique_where(self, model: Model, where: Any) -> tuple[Node, tuple[tuple[str, ...], tuple[Any, ...]]]:
        """A where that names one record by its id or a unique (else InvalidValueError)."""
        node = parse_where(self.schema, model, where)
        found = unique_criterion(model, node)
        if found is None:
            sets = " or ".join("{" + ", ".join(s) + "}" for s in model.unique_sets())
            raise InvalidValueError(f"a unique where on {model.name} needs {sets}, got {where!r}",
                                    model=model.name, value=where)
        return node, found

    async def find_unique_stored(self, model: Model, where: Any) -> dict[str, Any] | None:
        """The record (user form) a unique where names, or None."""
        node, (fields, values) = self.unique_where(model, where)
        node = await self.resolve(model, node)
        store = self.tx.object_store(model.name)
        key = record_key(model, dict(zip(fields, values, strict=True)), fields)
        if fields == model.id_fields:
            stored = await store.get(key)
        else:
            name = model_indexes(model)[fields][0]
            stored = await store.index(name).get(key)
        if stored is None:
            return None
        record = decode(model, stored)
        return record if matches(node, record) else None

    # -- include -----------------------------------------------------------------------------
    async def include(self, model: Model, rows: list[dict[str, Any]], include: Any) -> None:
        if not isinstance(include, dict):
            raise InvalidValueError(f"include on {model.name} takes {{relation: True | {{...}}}}",
                                    model=model.name, value=include)
        for name, spec in include.items():
            rel = model.relations.get(name)
            if rel is None:
                raise FieldNotFoundError(f"{model.name} has no relation {name!r} to include "
                                         f"(relations: {', '.join(model.relations)})",
                                         model=model.name, field=name)
            if not spec:
                continue
            args = spec if isinstance(spec, dict) else {}
            target = self.model(rel.target)
            local, remote = self._link(model, rel)
            for row in rows:
                key = _tuple(model, row, local)
                if None in key:
                    row[name] = [] if rel.to_many else None
                    continue
                if rel.kind == "many":
                    related = await self._many_partners(rel, model, row)
                    where = {"AND": [args.get("where") or {}]}
                    node = await self.resolve(target, parse_where(self.schema, target, where["AND"][0]))
                    related = [r for r in related if matches(node, r)]
                    order = parse_order(target, args.get("order"))
                    found = slice_rows(target, sort_records(related, order, target.id_fields),
                                       args.get("take"), args.get("skip") or 0, None, [])
                else:
                    link = dict(zip(remote, key, strict=True))
                    sub = {"AND": [link, args.get("where") or {}]} if rel.to_many else link
                    sub_args = {**{k: v for k, v in args.items() if k != "include"}, "where": sub}
                    if not rel.to_many:
                        sub_args = {"where": link, "take": 1}
                    found = await self.find_many(target, sub_args)
                if args.get("include"):
                    await self.include(target, found, args["include"])
                row[name] = found if rel.to_many else (found[0] if found else None)

    async def _many_partners(self, rel: Relation, model: Model,
                             row: dict[str, Any]) -> list[dict[str, Any]]:
        assert rel.join_store is not None
        key = record_key(model, row)
        store = self.tx.object_store(rel.join_store)
        if rel.join_side == "A":
            joins = await store.get_all(_prefix(key))
            partners = [j["B"] for j in joins]
        else:
            joins = await store.index("index(B)").get_all(key)
            partners = [j["A"] for j in joins]
        target = self.model(rel.target)
        values = await self.tx.object_store(target.name).get_many(partners)
        return [decode(target, v) for v in values if v is not None]


def _prefix(key: Any) -> Any:
    from ..key_range import KeyRange

    return KeyRange.bound([key], [key, []], False, True)


def _has_rel(node: Node) -> bool:
    if node[0] == "rel":
        return True
    if node[0] in ("and", "or"):
        return any(_has_rel(n) for n in node[1])
    if node[0] == "not":
        return _has_rel(node[1])
    return False


def slice_rows(model: Model, rows: list[dict[str, Any]], take: int | None, skip: int,
               cursor: tuple[tuple[str, ...], tuple[Any, ...]] | None,
               distinct: list[str]) -> list[dict[str, Any]]:
    """Prisma's cursor, distinct, skip and take (negative take: from the end) on ordered rows."""
    if cursor is not None:
        fields, values = cursor
        at = next((i for i, r in enumerate(rows) if _tuple(model, r, fields) == values), None)
        if at is None:
            return []
        rows = rows[at:] if take is None or take >= 0 else rows[:at + 1]
    if distinct:
        seen: set[Any] = set()
        kept = []
        for r in rows:
            k = tuple(repr(r.get(d)) for d in distinct)
            if k not in seen:
                seen.add(k)
                kept.append(r)
        rows = kept
    if take is None:
        return rows[skip:]
    if take >= 0:
        return rows[skip:skip + take]
    end = max(0, len(rows) - skip)
    return rows[max(0, end + take):end]
