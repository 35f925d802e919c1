"""Nested relation writes: ``create``, ``connect``, ``connect_or_create``, ``disconnect`` and ``set``
inside a create or update, on either side of a relation and through many-to-many join stores."""

from __future__ import annotations

from typing import Any

from .errors import InvalidValueError
from .query import Reader, record_key
from .schema import Model, Relation

__all__ = ["NestedWrites", "link_values"]


def link_values(rel: Relation, record: dict[str, Any]) -> dict[str, Any]:
    """The foreign-key values that make a target record point at ``record`` (a back relation)."""
    return {f: record[r] for f, r in zip(rel.fields, rel.references, strict=True)}


class NestedWrites(Reader):
    """Relation writes; the record writes themselves are :class:`~pyidb.model.writes.Writer`'s."""

    async def create(self, model: Model, data: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def update_record(self, model: Model, before: dict[str, Any], data: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def _must_find(self, model: Model, where: Any, rel: Relation | None = None) -> dict[str, Any]:
        raise NotImplementedError

    async def _join(self, rel: Relation, mine: Any, other: Any, add: bool) -> None:
        raise NotImplementedError

    async def _to_one_target(self, rel: Relation, ops: dict[str, Any]) -> dict[str, Any] | None:
        """The record a to-one write (create / connect / connect_or_create) points at."""
        target = self.model(rel.target)
        if len(ops) != 1:
            raise InvalidValueError(f"write {rel.model}.{rel.field} with one of create, connect, "
                                    f"connect_or_create at a time, got {sorted(ops)}",
                                    model=rel.model, field=rel.field)
        op, arg = next(iter(ops.items()))
        if op == "create":
            return await self.create(target, arg)
        if op == "connect":
            return await self._must_find(target, arg, rel)
        if op == "connect_or_create":
            where, create = self._where_create(rel, arg)
            found = await self.find_unique_stored(target, where)
            return found if found is not None else await self.create(target, create)
        return None  # disconnect: handled by the caller

    def _where_create(self, rel: Relation, arg: Any) -> tuple[Any, Any]:
        if not isinstance(arg, dict) or set(arg) != {"where", "create"}:
            raise InvalidValueError(f"connect_or_create on {rel.model}.{rel.field} takes "
                                    "{'where': ..., 'create': ...}", model=rel.model,
                                    field=rel.field, value=arg)
        return arg["where"], arg["create"]

    async def _other_side(self, model: Model, record: dict[str, Any], rel: Relation,
                          ops: dict[str, Any]) -> None:
        """Nested writes on a relation whose link lives in the target or in a join store."""
        target = self.model(rel.target)
        for op, arg in ops.items():
            items = arg if isinstance(arg, (list, tuple)) else [arg]
            if op == "set":
                if not isinstance(arg, (list, tuple)):
                    raise InvalidValueError(f"set on {model.name}.{rel.field} takes a list",
                                            model=model.name, field=rel.field, value=arg)
                keep = [await self._must_find(target, w, rel) for w in items]
                keep_keys = {repr(record_key(target, r)) for r in keep}
                for current in await self._related(model, record, rel):
                    if repr(record_key(target, current)) not in keep_keys:
                        await self._unlink(model, record, rel, current)
                for r in keep:
                    await self._link_to(model, record, rel, r)
                continue
            if op == "disconnect" and not rel.to_many:
                if arg is not True:
                    raise InvalidValueError(f"disconnect on {model.name}.{rel.field} takes True",
                                            model=model.name, field=rel.field, value=arg)
                for current in await self._related(model, record, rel):
                    await self._unlink(model, record, rel, current)
                continue
            for item in items:
                if op == "create":
                    if rel.kind == "back":
                        link = link_values(rel, record)
                        if not isinstance(item, dict):
                            raise InvalidValueError(f"create on {model.name}.{rel.field} takes a dict",
                                                    model=model.name, field=rel.field, value=item)
                        await self.create(target, {**item, **link})
                    else:
                        created = await self.create(target, item)
                        await self._link_to(model, record, rel, created)
                elif op == "connect":
                    await self._link_to(model, record, rel, await self._must_find(target, item, rel))
                elif op == "connect_or_create":
                    where, create = self._where_create(rel, item)
                    found = await self.find_unique_stored(target, where)
                    if found is None:
                        if rel.kind == "back":
                            link = link_values(rel, record)
                            await self.create(target, {**create, **link})
                            continue
                        found = await self.create(target, create)
                    await self._link_to(model, record, rel, found)
                elif op == "disconnect":
                    found = await self.find_unique_stored(target, item)
                    if found is not None:
                        await self._unlink(model, record, rel, found)

    async def _related(self, model: Model, record: dict[str, Any], rel: Relation) -> list[dict[str, Any]]:
        if rel.kind == "many":
            return await self._many_partners(rel, model, record)
        target = self.model(rel.target)
        where = link_values(rel, record)
        return await self.find_many(target, {"where": where})

    async def _link_to(self, model: Model, record: dict[str, Any], rel: Relation,
                       other: dict[str, Any]) -> None:
        target = self.model(rel.target)
        if rel.kind == "many":
            await self._join(rel, record_key(model, record), record_key(target, other), True)
            return
        link = link_values(rel, record)
        await self.update_record(target, other, link)

    async def _unlink(self, model: Model, record: dict[str, Any], rel: Relation,
                      other: dict[str, Any]) -> None:
        target = self.model(rel.target)
        if rel.kind == "many":
            await self._join(rel, record_key(model, record), record_key(target, other), False)
            return
        if any(not target.fields[f].optional for f in rel.fields):
            raise InvalidValueError(
                f"cannot disconnect {target.name} from {model.name}.{rel.field}: "
                f"{target.name}.{', '.join(rel.fields)} is required", model=target.name,
                field=",".join(rel.fields))
        await self.update_record(target, other, {f: None for f in rel.fields})

