"""The client: ``Client.open``, one delegate per model with Prisma Client's methods, ``tx()``.

Every call runs in one IndexedDB transaction (readonly for reads, readwrite over every store of the
client for writes) and so is atomic; inside ``async with client.tx() as t:`` calls share one
transaction and an error in any of them aborts all of it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .. import errors as idb_errors
from ..api import Database, Factory, Transaction
from ..factories import default_factory
from .errors import InvalidValueError, ModelError, RecordNotFoundError, SchemaError, UniqueViolationError
from .events import Plugin
from .history import (
    HybridClock,
    as_of_version,
    last_version,
    records_as_of,
    require_history,
    versions_of,
)
from .live import Hub, hub_for
from .query import record_key, slice_rows
from .remote import apply_remote, apply_remote_link, apply_remote_many, join_relation
from .schema import Model, Schema
from .storage import META_STORE, history_store, layout
from .upgrade import plan_upgrade, run_upgrade
from .where import matches, parse_where, sort_records
from .writes import Writer

__all__ = ["Client", "Context", "ModelClient"]


class Context(Writer):
    """Reads and writes of one transaction (what a model delegate calls into)."""

    def __init__(self, client: Client, tx: Transaction, origin: str) -> None:
        self.client = client
        self.schema = client.schema
        self.tx = tx
        self.origin = origin
        self.changed_models = set()
        self.failed: BaseException | None = None


def _convert(exc: BaseException, model: str) -> BaseException:
    if isinstance(exc, idb_errors.ConstraintError):
        return UniqueViolationError(f"Unique constraint failed on {model}: {exc}", model=model)
    return exc


class ModelClient:
    """``client.user``: Prisma Client's methods for one model."""

    def __init__(self, client: Client, model: Model, ctx: Context | None = None) -> None:
        self._client = client
        self._model = model
        self._ctx = ctx

    async def _run(self, write: bool, fn: Any, alone: bool = False) -> Any:
        """``fn(ctx)`` in this delegate's transaction, or in one of its own (``alone``: a read
        of this model's store only, no relation involved)."""
        ctx = self._ctx
        if ctx is not None:
            if ctx.failed is not None:
                raise ModelError(f"this transaction was aborted by an earlier error: {ctx.failed!r}",
                                 model=self._model.name)
            try:
                return await fn(ctx)
            except BaseException as exc:
                ctx.failed = exc
                if not ctx.tx._is_finished():
                    ctx.tx.abort()
                converted = _convert(exc, self._model.name)
                if converted is exc:
                    raise
                raise converted from exc
        client = self._client
        scope = [self._model.name] if alone and not write else client.store_names
        tx = client.db.transaction(scope, "readwrite" if write else "readonly")
        ctx = Context(client, tx, "local")
        if not write:  # a read needs no commit to wait for: it is done when its result is
            try:
                return await fn(ctx)
            except BaseException:
                if tx._is_active():
                    tx.abort()
                raise
        try:
            async with tx:
                result = await fn(ctx)
        except idb_errors.ConstraintError as exc:
            raise _convert(exc, self._model.name) from exc
        if ctx.changed_models:
            client.hub.wake()
        return result

    # -- reads ---------------------------------------------------------------------------------
    async def find_many(self, *, where: Any = None, order: Any = None, take: int | None = None,
                        skip: int | None = None, cursor: Any = None, distinct: Sequence[str] | None = None,
                        include: Any = None, as_of: Any = None, explain: bool = False) -> Any:
        """``await client.post.find_many(where={"published": True}, order={"id": "desc"}, take=10)``."""
        args = _args(where=where, order=order, take=take, skip=skip, cursor=cursor,
                     distinct=distinct, include=include)
        m = self._model
        if explain:
            return await self._run(False, lambda ctx: _async(ctx.explain(m, args)))
        if as_of is not None:
            version = as_of_version(m, as_of)
            return await self._run(False, lambda ctx: _find_as_of(ctx, m, args, version))
        alone = not include and not _mentions_relation(m, where)
        return await self._run(False, lambda ctx: ctx.find_many(m, args), alone)

    async def find_first(self, *, where: Any = None, order: Any = None, skip: int | None = None,
                         cursor: Any = None, include: Any = None, as_of: Any = None) -> dict | None:
        """``await client.post.find_first(where={"title": {"startswith": "H"}})`` (None if none)."""
        rows = await self.find_many(where=where, order=order, take=1, skip=skip, cursor=cursor,
                                    include=include, as_of=as_of)
        return rows[0] if rows else None

    async def find_first_or_raise(self, **kwargs: Any) -> dict:
        """As :meth:`find_first`, but RecordNotFoundError instead of None."""
        found = await self.find_first(**kwargs)
        if found is None:
            raise RecordNotFoundError(f"no {self._model.name} record matches {kwargs.get('where')!r}",
                                      model=self._model.name, value=kwargs.get("where"))
        return found

    async def find_unique(self, *, where: Any, include: Any = None, as_of: Any = None) -> dict | None:
        """``await client.user.find_unique(where={"email": "a@x.org"})`` (None if absent)."""
        m = self._model

        async def run(ctx: Context) -> dict | None:
            if as_of is not None:
                rows = await _find_as_of(ctx, m, {"where": where}, as_of_version(m, as_of))
                ctx.unique_where(m, where)
                found = rows[0] if rows else None
            else:
                found = await ctx.find_unique_stored(m, where)
            if found is not None and include:
                await ctx.include(m, [found], include)
            return found

        if as_of is not None:
            as_of_version(m, as_of)
        return await self._run(False, run)

    async def find_unique_or_raise(self, *, where: Any, include: Any = None,
                                   as_of: Any = None) -> dict:
        """As :meth:`find_unique`, but RecordNotFoundError instead of None."""
        found = await self.find_unique(where=where, include=include, as_of=as_of)
        if found is None:
            raise RecordNotFoundError(f"no {self._model.name} record matches {where!r}",
                                      model=self._model.name, value=where)
        return found

    async def count(self, *, where: Any = None) -> int:
        """``await client.post.count(where={"published": True})`` (an index count when it can)."""
        m = self._model

        async def run(ctx: Context) -> int:
            node = await ctx.resolve(m, parse_where(ctx.schema, m, where))
            plan = ctx.plan(m, node, [], None, 0, False)
            if plan.exact and len(plan.scans) == 1:
                store = ctx.tx.object_store(m.name)
                scan = plan.scans[0]
                source = store if scan.index is None else store.index(scan.index)
                return await source.count(scan.range)
            return len(await ctx.fetch(m, node, [], plan=plan))

        return await self._run(False, run)

    async def group_by(self, *, by: Sequence[str], where: Any = None, count: Any = None,
                       sum: Sequence[str] = (), avg: Sequence[str] = (),
                       min: Sequence[str] = (), max: Sequence[str] = ()) -> list[dict]:
        """``await client.post.group_by(by=["author_id"], count=True, sum=["views"])``."""
        from .groups import group_rows

        m = self._model
        rows = await self.find_many(where=where)
        return group_rows(m, rows, by, count, {"_sum": sum, "_avg": avg, "_min": min, "_max": max})

    async def history(self, *, where: Any) -> list[dict]:
        """Versions of one record, newest first: ``[{"version", "at", "data"}]``."""
        m = self._model
        require_history(m, "history()")

        async def run(ctx: Context) -> list[dict]:
            _node, (fields, values) = ctx.unique_where(m, where)
            if fields == m.id_fields:
                key = record_key(m, dict(zip(fields, values, strict=True)))
            else:
                found = await ctx.find_unique_stored(m, where)
                if found is None:
                    return []
                key = record_key(m, found)
            return await versions_of(ctx.tx, m, key)

        return await self._run(False, run)

    async def watch(self, *, where: Any = None, order: Any = None, take: int | None = None,
                    skip: int | None = None, include: Any = None) -> AsyncIterator[list[dict]]:
        """``async for rows in client.task.watch(where=...):`` the result now and after each change
        (until the loop is left or cancelled, or the client is closed)."""
        import asyncio

        args = dict(where=where, order=order, take=take, skip=skip, include=include)
        event = asyncio.Event()
        watchers = self._client.hub.watchers
        watchers.add(event)
        try:
            last: Any = None
            first = True
            while not self._client.closed:
                event.clear()
                rows = await self.find_many(**args)
                if first or rows != last:
                    first, last = False, rows
                    yield rows
                await event.wait()  # a commit, or close(): the loop then ends
        finally:
            watchers.discard(event)

    # -- writes --------------------------------------------------------------------------------
    async def create(self, *, data: dict, include: Any = None) -> dict:
        """``await client.user.create(data={"email": "a@x.org", "posts": {"create": [...]}})``."""
        m = self._model

        async def run(ctx: Context) -> dict:
            record = await ctx.create(m, data)
            if include:
                await ctx.include(m, [record], include)
            return record

        return await self._run(True, run)

    async def create_many(self, *, data: Sequence[dict], skip_duplicates: bool = False) -> int:
        """``await client.post.create_many(data=[{...}, ...])``: the number created (no nested
        writes; ``skip_duplicates`` leaves out records whose id or unique fields exist)."""
        m = self._model
        return await self._run(True, lambda ctx: ctx.create_many(m, data, skip_duplicates))

    async def update(self, *, where: Any, data: dict, include: Any = None) -> dict:
        """``await client.post.update(where={"id": 1}, data={"views": {"increment": 1}})``."""
        m = self._model

        async def run(ctx: Context) -> dict:
            before = await ctx._must_find(m, where)
            after = await ctx.update_record(m, before, data)
            if include:
                await ctx.include(m, [after], include)
            return after

        return await self._run(True, run)

    async def update_many(self, *, where: Any = None, data: dict) -> int:
        """``await client.post.update_many(where={"published": False}, data={"views": 0})``: how
        many were updated (no relation writes)."""
        m = self._model

        async def run(ctx: Context) -> int:
            _scalars, nested = ctx._split(m, data, update=True)
            if nested:
                raise InvalidValueError(f"update_many on {m.name} takes no relation writes "
                                        f"({', '.join(nested)})", model=m.name)
            rows = await ctx.find_many(m, {"where": where})
            for row in rows:
                await ctx.update_record(m, row, data)
            return len(rows)

        return await self._run(True, run)

    async def upsert(self, *, where: Any, data: dict, include: Any = None) -> dict:
        """``data={"create": {...}, "update": {...}}``."""
        m = self._model
        if not isinstance(data, dict) or set(data) != {"create", "update"}:
            raise InvalidValueError(f"upsert on {m.name} takes data={{'create': ..., 'update': ...}}",
                                    model=m.name, value=data)

        async def run(ctx: Context) -> dict:
            found = await ctx.find_unique_stored(m, where)
            record = await (ctx.update_record(m, found, data["update"]) if found is not None
                            else ctx.create(m, data["create"]))
            if include:
                await ctx.include(m, [record], include)
            return record

        return await self._run(True, run)

    async def delete(self, *, where: Any, include: Any = None) -> dict:
        """``await client.user.delete(where={"id": 1})``: the deleted record (onDelete rules apply
        to the records pointing at it)."""
        m = self._model

        async def run(ctx: Context) -> dict:
            record = await ctx._must_find(m, where)
            if include:
                await ctx.include(m, [record], include)
            await ctx.delete_record(m, record)
            return record

        return await self._run(True, run)

    async def delete_many(self, *, where: Any = None) -> int:
        """``await client.post.delete_many(where={"published": False})``: how many were deleted."""
        m = self._model

        async def run(ctx: Context) -> int:
            rows = await ctx.find_many(m, {"where": where})
            for row in rows:
                await ctx.delete_record(m, row)
            return len(rows)

        return await self._run(True, run)

    async def apply_remote(self, op: str, key: Any, data: dict | None = None) -> None:
        """Write a record exactly as given (for sync): ``op`` "upsert" puts ``data`` (a full record
        in the form the client returns, its id matching ``key``), "delete" removes the record by
        key if it exists. Values are type-checked and foreign keys must exist; no defaults, no
        nested writes, no cascades (a delete restricted by referrers raises). Events and history
        are written as for any write, with the context's origin."""
        m = self._model
        return await self._run(True, lambda ctx: apply_remote(ctx, m, op, key, data))

    async def apply_remote_many(self, records: list[dict]) -> None:
        """``apply_remote("upsert", key, record)`` for each record in order, batched: one read of
        the stored records and one write (the keys are taken from the records)."""
        m = self._model
        return await self._run(True, lambda ctx: apply_remote_many(ctx, m, records))


def _mentions_relation(model: Model, where: Any) -> bool:
    """Might ``where`` filter on a relation (so that the read needs other stores)?"""
    if not isinstance(where, dict):
        return False
    for key, value in where.items():
        if key in model.relations:
            return True
        if key in ("AND", "OR", "NOT"):
            items = value if isinstance(value, (list, tuple)) else [value]
            if any(_mentions_relation(model, v) for v in items):
                return True
    return False


async def _async(value: Any) -> Any:
    return value


def _args(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


async def _find_as_of(ctx: Context, m: Model, args: dict[str, Any], version: int) -> list[dict]:
    node, order, take, skip, cursor, distinct = ctx.check_find(m, args)
    node = await ctx.resolve(m, node)
    rows = [r for r in await records_as_of(ctx.tx, m, version) if matches(node, r)]
    rows = slice_rows(m, sort_records(rows, order, m.id_fields), take, skip, cursor, distinct)
    if args.get("include"):
        await ctx.include(m, rows, args["include"])
    return rows


class _Models:
    """Model attributes (``.user``, ``.post``) bound to a client or to one transaction."""

    def _bind(self, client: Client, ctx: Context | None) -> None:
        for model in client.schema.models.values():
            attr = model.name.lower()
            if attr in ("tx", "close", "open", "db", "schema") or attr.startswith("_"):
                raise SchemaError(f"model {model.name}: its attribute name {attr!r} is taken",
                                  model=model.name)
            setattr(self, attr, ModelClient(client, model, ctx))


class TxScope(_Models):
    """What ``async with client.tx() as t`` gives: ``t.user.create(...)`` in one transaction."""

    def __init__(self, client: Client, origin: str) -> None:
        self._client = client
        self._origin = origin

    @property
    def transaction(self) -> Transaction:
        """The pyidb transaction underneath (e.g. for a plugin's own stores, which it includes)."""
        return self._tx

    async def __aenter__(self) -> TxScope:
        client = self._client
        self._tx = client.db.transaction(client.store_names, "readwrite")
        self._ctx = Context(client, self._tx, self._origin)
        self._bind(client, self._ctx)
        return self

    async def apply_remote_link(self, join_store: str, op: str, key: list[Any]) -> None:
        """Add (``op`` "create") or remove ("delete") the row ``key`` = ``[A, B]`` of an implicit
        many-to-many join store (e.g. ``"_CategoryToPost"``), as sync's pull applies it; both
        records must exist for a create. Emits the same event a local connect/disconnect does."""
        rel = join_relation(self._client.schema, join_store, op, key)
        model = self._client.schema.models[rel.model]
        ctx = self._ctx
        await ModelClient(self._client, model, ctx)._run(
            True, lambda _ctx: apply_remote_link(ctx, rel, op, key))

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        failed = self._ctx.failed
        if failed is not None:  # a failing call already aborted the transaction
            try:
                await self._tx.done
            except Exception:
                pass
            if exc is None:  # ... and the block caught its error: still nothing was kept
                raise ModelError(f"the transaction was aborted by {failed!r}") from failed
            return False
        await self._tx.__aexit__(exc_type, exc, tb)
        if exc is None and self._ctx.changed_models:
            self._client.hub.wake()
        return False


class Client(_Models):
    """A typed-by-schema client over one pyidb database.

    >>> client = await Client.open("app", Schema.from_prisma(text))
    >>> user = await client.user.create(data={"email": "a@x.org"})
    """

    def __init__(self, db: Database, schema: Schema, factory: Factory, plugins: Sequence[Plugin],
                 stores: list[str]) -> None:
        self.db = db
        self.schema = schema
        self.factory = factory
        self.plugins = tuple(plugins)
        self.store_names = stores
        self.closed = False
        self.hub: Hub = hub_for(factory, db.name)
        self.hlc: HybridClock = self.hub.clock
        # Another client upgrading the schema closes this connection instead of waiting on it
        # (as Dexie does); this client's next call then fails with pyidb.InvalidStateError.
        db.on_versionchange = lambda db, old, new: db.close()
        self._bind(self, None)

    @classmethod
    async def open(cls, name: str, schema: Schema, *, factory: Factory | None = None,
                   plugins: Sequence[Plugin] = ()) -> Client:
        """Open (creating or upgrading) database ``name`` for ``schema``; see pyidb.model."""
        factory = factory or default_factory()
        extra: dict[str, dict[str, Any]] = {}
        for plugin in plugins:
            extra.update(getattr(plugin, "stores", {}) or {})
        want = layout(schema, extra)
        desc = json.loads(json.dumps({"layout": want, "schema": schema.describe()}))
        db = await factory.open(name)
        current = None
        if META_STORE in db.object_store_names:
            current = await db.get(META_STORE, "schema")
        if current != desc:
            counts = {s: await db.count(s) for s in db.object_store_names}
            version = db.version + 1
            db.close()
            fills = plan_upgrade(schema, current, desc, counts)

            async def upgrade(db: Database, old: int, new: int, tx: Transaction) -> None:
                await run_upgrade(db, tx, current, desc, schema, fills)

            db = await factory.open(name, version, upgrade=upgrade)
        client = cls(db, schema, factory, plugins, sorted(want))
        history = [history_store(m.name) for m in schema.models.values() if m.history]
        if history:
            tx = db.transaction(history)
            for store in history:
                client.hlc.observe(await last_version(tx, store))
        return client

    def tx(self, origin: str = "local") -> TxScope:
        """``async with client.tx() as t:`` every ``t.<model>`` call in one transaction.

        ``origin`` is passed to plugins in each :class:`WriteEvent` ("remote" for sync's pull)."""
        return TxScope(self, origin)

    def close(self) -> None:
        """Close the connection; the client's watch() loops end."""
        self.closed = True
        self.db.close()
        self.hub.wake(broadcast=False)
