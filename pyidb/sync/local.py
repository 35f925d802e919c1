"""How the sync worker writes the server's state into the local database: pulled pages (in one
IndexedDB transaction each, with the cursor), push answers, deferred records and full resyncs.
A mixin of :class:`pyidb.sync.worker.SyncWorker`.

Writes go through the model client with origin "remote" (so the outbox does not log them: no
echo), in the same IndexedDB transaction as the sync stores they touch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .client import DEFERRED, META, OUTBOX, VERSIONS, SyncPlugin
from .protocol import decode, encode, key_text

APPLY_CHUNK = 100  # pulled records written per model-client call (see _apply_changes)


class LocalWrites:
    """The local half of :class:`pyidb.sync.worker.SyncWorker`."""

    plugin: SyncPlugin
    _joins: dict[str, tuple[str, str]]
    _deferred_deletes: set[tuple]

    @property
    def client(self) -> Any:
        return self.plugin.client

    async def _apply_page(self, page: dict) -> int:
        """One page of changes and its cursor, in ONE IndexedDB transaction."""
        async with self._remote_tx() as (tx, apply):
            outbox, meta = tx.object_store(OUTBOX), tx.object_store(META)
            if page.get("reset"):
                await self._forget_synced_records(tx, apply)
            # A full resync spans pages until has_more is false; while it runs, our own changes
            # are applied too (the local copies were just dropped). Kept with the cursor, so an
            # interrupted resync resumes as one.
            resyncing = bool(page.get("reset")) or bool((await meta.get("resyncing") or {}).get("value"))
            changes = [c for c in page.get("changes", [])
                       if (resyncing or not c.get("own"))  # own: its push answer applied it (no echo)
                       and self.plugin.synced(c["model"])]
            # A record with a local edit still queued is left alone: the server's answer to that
            # edit decides it.
            queued = await self._queued(outbox, [[c["model"], key_text(c["key"])] for c in changes])
            changes = [c for c, waits in zip(changes, queued, strict=True) if not waits]
            self._deferred_deletes = {tuple(d["ref"]) for d in await tx.object_store(DEFERRED).get_all()
                                      if d.get("record") is None}
            applied = await self._apply_changes(tx, apply, changes)
            await self._retry_deferred(tx, apply)
            await meta.put({"name": "cursor", "value": page["cursor"]})
            await meta.put({"name": "resyncing", "value": resyncing and bool(page.get("has_more"))})
        return applied

    async def _queued(self, outbox: Any, refs: list[list]) -> list[bool]:
        """For each ``[model, key text]``: has it an event still to push? One read when few events
        are queued, else one count per record, issued together."""
        if not refs:
            return []
        waiting = await outbox.index("open").count()
        if waiting == 0:
            return [False] * len(refs)
        if waiting <= 4 * len(refs):
            open_refs = {tuple(e["open"]) for e in await outbox.index("open").get_all()}
            return [tuple(ref) in open_refs for ref in refs]
        # All requests placed first, then awaited: the engine answers them back to back. (Not
        # asyncio.gather: its tasks resume after the transaction has committed.)
        requests = [outbox.index("open").count(ref) for ref in refs]
        return [await r > 0 for r in requests]

    async def _apply_changes(self, tx: Any, apply: Any, changes: list[dict]) -> int:
        """Apply pulled changes in version order: runs of upserts of one model go in one batch
        (one read and one write of the model's store, one write of their versions)."""
        applied, i = 0, 0
        while i < len(changes):
            model = changes[i]["model"]
            j = i
            while j < len(changes) and changes[j]["model"] == model and changes[j].get("record") is not None:
                j += 1
            if j == i or model in self._joins or self._self_related(model):
                await self._drop_deferred_delete(tx, model, changes[i])
                await self._apply_one(tx, apply, model, changes[i]["key"], changes[i])
                applied, i = applied + 1, i + 1
                continue
            run = changes[i:j]
            for change in run:
                await self._drop_deferred_delete(tx, model, change)
            records = [decode(c["record"]) for c in run]
            present = await self._parents_present_many(tx, model, records)
            ready = [(c, r) for c, r, ok in zip(run, records, present, strict=True) if ok]
            for change, _, ok in zip(run, records, present, strict=True):
                if not ok:  # its parent comes in a later page: kept until it is here
                    await self._defer(tx, model, change)
            # In chunks, each ending in an await of the database: in a page, the event loop gets
            # the thread back between them (no long task while a big page is applied), and the
            # page still commits as one transaction.
            for start in range(0, len(ready), APPLY_CHUNK):
                chunk = ready[start:start + APPLY_CHUNK]
                await apply.many(model, [r for _, r in chunk])
                await tx.object_store(VERSIONS).put_many(
                    [{"ref": [model, key_text(c["key"])], "version": c.get("version")} for c, _ in chunk])
            applied += len(run)
            i = j
        return applied

    async def _drop_deferred_delete(self, tx: Any, model: str, change: dict) -> None:
        """A record the server has (again, e.g. in a full resync) loses a delete deferred for it."""
        if change.get("record") is not None and self._deferred_deletes:
            ref = [model, key_text(change["key"])]
            if tuple(ref) in self._deferred_deletes:
                await tx.object_store(DEFERRED).delete(ref)
                self._deferred_deletes.discard(tuple(ref))

    async def _retry_deferred(self, tx: Any, apply: Any) -> None:
        """Records whose parent was not here yet (it is in a later page, or came now), and
        deletes that a queued local child blocked (its push answer may have removed it)."""
        deferred = tx.object_store(DEFERRED)
        progress = True
        while progress:
            progress = False
            for waiting in await deferred.get_all():
                await deferred.delete(waiting["ref"])
                if await self._apply_one(tx, apply, waiting["model"], waiting["key"], waiting):
                    progress = True
            if not progress:
                progress = await self._break_cycle(tx, apply, await deferred.get_all())

    async def _break_cycle(self, tx: Any, apply: Any, waiting: list[dict]) -> bool:
        """Records that wait for each other (a cycle of foreign keys, e.g. two nodes that are each
        other's parent): write one without its optional foreign keys to waiting records, so the
        others can land; its full record stays deferred and follows. True if one was written."""
        refs = {tuple(w["ref"]) for w in waiting}
        schema = self.client.schema
        for entry in waiting:
            model, record = entry["model"], entry.get("record")
            if record is None or model in self._joins:
                continue
            record = decode(record)
            missing = await self._missing_parents(tx, model, record)
            fields = schema.models[model].fields
            if missing and all(
                    all(fields[f].optional for f in rel.fields)
                    and (rel.target, key_text(_key([record.get(f) for f in rel.fields]))) in refs
                    for rel in missing):
                await apply(model, decode(entry["key"]), {**record, **{f: None for rel in missing
                                                                       for f in rel.fields}})
                return True
        return False

    async def _defer(self, tx: Any, model: str, answer: dict) -> None:
        await tx.object_store(DEFERRED).put({"ref": [model, key_text(answer["key"])], "model": model,
                                             "key": answer["key"], "record": answer.get("record"),
                                             "version": answer.get("version")})

    async def _apply_one(self, tx: Any, apply: Any, model: str, key: Any, answer: dict) -> bool:
        """Write the server's state of one record; False when it has to wait: an upsert for its
        parent, a delete for a queued local record that points at it through a Restrict relation
        (the server will refuse that record, and its answer removes it)."""
        record, version = answer.get("record"), answer.get("version")
        ref = [model, key_text(key)]
        if record is not None and not await self._parents_present(tx, model, decode(record)):
            # apply_remote checks foreign keys, and a failed request would abort the page.
            await self._defer(tx, model, {**answer, "key": key})
            return False
        if record is None and model not in self._joins and await apply.blocked(model, decode(key)):
            await self._defer(tx, model, {**answer, "key": key})
            return False
        await apply(model, decode(key), decode(record) if record is not None else None)
        versions = tx.object_store(VERSIONS)
        if version is None:
            await versions.delete(ref)
        else:
            await versions.put({"ref": ref, "version": version})
        return True

    def _self_related(self, model: str) -> bool:
        return any(r.kind == "owner" and r.target == model
                   for r in self.client.schema.models[model].relations.values())

    async def _parents_present_many(self, tx: Any, model: str, records: list[dict]) -> list[bool]:
        rels = [r for r in self.client.schema.models[model].relations.values() if r.kind == "owner"]
        if not rels:
            return [True] * len(records)
        return [await self._parents_present(tx, model, r) for r in records]

    async def _parents_present(self, tx: Any, model: str, record: dict) -> bool:
        if model in self._joins:  # a link needs both of its records
            for side, target in zip("AB", self._joins[model], strict=True):
                if await tx.object_store(target).count(record[side]) == 0:
                    return False
            return True
        return not await self._missing_parents(tx, model, record)

    async def _missing_parents(self, tx: Any, model: str, record: dict) -> list[Any]:
        """The relations of ``record`` whose parent record is not in the local database yet."""
        schema, missing = self.client.schema, []
        for rel in schema.models[model].relations.values():
            if rel.kind != "owner" or rel.references != schema.models[rel.target].id_fields:
                continue
            values = [record.get(f) for f in rel.fields]
            if any(v is None for v in values):
                continue
            if await tx.object_store(rel.target).count(_key(values)) == 0:
                missing.append(rel)
        return missing

    async def _forget_synced_records(self, tx: Any, apply: Any) -> None:
        """Before a full resync: drop local records that have no queued edit (the snapshot that
        follows brings back every record the server has)."""
        outbox = tx.object_store(OUTBOX)
        await tx.object_store(VERSIONS).clear()
        await tx.object_store(DEFERRED).clear()
        for model in [*self._joins, *delete_order(self.client.schema)]:
            if not self.plugin.synced(model):
                continue
            for key in await tx.object_store(model).get_all_keys():
                if await outbox.index("open").count([model, key_text(key)]) != 0:
                    continue
                if model not in self._joins and await apply.blocked(model, key):
                    # A queued local record points at it (Restrict): the delete waits for it,
                    # unless the snapshot brings the record back.
                    await self._defer(tx, model, {"key": encode(key), "record": None, "version": None})
                else:
                    await apply(model, key, None)

    @asynccontextmanager
    async def _remote_tx(self) -> AsyncIterator[tuple[Any, Any]]:
        """A model-client transaction whose writes have origin "remote" (so the outbox plugin
        does not log them: no echo), with its IndexedDB transaction for the sync stores."""
        async with self.client.tx(origin="remote") as scope:
            tx = scope.transaction  # the same IndexedDB transaction: one commit for all

            async def apply(model: str, key: Any, record: dict | None) -> None:
                if model in self._joins:
                    await scope.apply_remote_link(model, "create" if record is not None else "delete", key)
                    return
                delegate = getattr(scope, model.lower())
                if record is not None:
                    await delegate.apply_remote("upsert", key, record)
                else:
                    ids = self.client.schema.models[model].id_fields
                    where = {ids[0]: key} if len(ids) == 1 else dict(zip(ids, key, strict=True))
                    # delete_many: a missing record is no error, and onDelete applies locally.
                    await delegate.delete_many(where=where)

            async def many(model: str, records: list[dict]) -> None:
                await getattr(scope, model.lower()).apply_remote_many(records)

            async def blocked(model: str, key: Any) -> bool:
                ids = self.client.schema.models[model].id_fields
                where = {ids[0]: key} if len(ids) == 1 else dict(zip(ids, key, strict=True))
                record = await getattr(scope, model.lower()).find_unique(where=where)
                return record is not None and await self._delete_blocked(scope, model, record)

            apply.many, apply.blocked = many, blocked  # type: ignore[attr-defined]
            yield tx, apply

    async def _delete_blocked(self, scope: Any, model: str, record: dict,
                              seen: set[str] | None = None) -> bool:
        """Would deleting ``record`` locally be refused by an onDelete Restrict relation (a local
        record pointing at it, directly or through a cascade)?"""
        seen = set() if seen is None else seen
        ids = self.client.schema.models[model].id_fields
        ref = key_text([model, *(encode(record.get(f)) for f in ids)])
        if ref in seen:  # a cycle of cascades: this record is being looked at already
            return False
        seen.add(ref)
        for rel in self.client.schema.models[model].relations.values():
            if rel.kind != "back":
                continue
            values = [record.get(f) for f in rel.references]
            if any(v is None for v in values):
                continue
            children = getattr(scope, rel.target.lower())
            where = dict(zip(rel.fields, values, strict=True))
            if rel.on_delete == "Cascade":
                for child in await children.find_many(where=where):
                    if await self._delete_blocked(scope, rel.target, child, seen):
                        return True
            elif rel.on_delete != "SetNull" and await children.count(where=where):
                return True
        return False


def delete_order(schema: Any) -> list[str]:
    """Model names, each after every model whose records point at it (children first)."""
    order: list[str] = []

    def visit(name: str, seen: set[str]) -> None:
        if name in order or name in seen:
            return
        seen.add(name)
        for other in schema.models.values():
            if any(r.kind == "owner" and r.target == name for r in other.relations.values()):
                visit(other.name, seen)
        order.append(name)

    for name in schema.models:
        visit(name, set())
    return order


def _key(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values
