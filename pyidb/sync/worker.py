"""The sync worker: push the outbox, then pull the server's changes, with retries.

    worker = sync.worker("http://127.0.0.1:8765", token="alice-token", batch_size=100)
    report = await worker.sync_once()      # {"pushed": 3, "rejected": 0, "pulled": 5}
    worker.start(); ...; await worker.stop()
    worker.status                          # SyncStatus(last_sync=..., pending=0, last_error=None)

Every step is safe to interrupt (a closed tab, a killed process, a lost connection): events stay
in the outbox with their seq until the server's answer is stored, and the server answers a
retried seq from its own record without applying it again. A pulled page and its cursor are
written in one IndexedDB transaction, so the cursor never runs ahead of the data.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from .client import DEFERRED, META, OUTBOX, REJECTED, SYNCED, VERSIONS, SyncPlugin, closed
from .protocol import PROTOCOL_VERSION, SyncError, decode, encode, key_text
from .schema import join_models
from .transport import HttpTransport, Transport, TransportError

APPLY_CHUNK = 100  # pulled records written per model-client call (see _apply_changes)


@dataclass
class SyncStatus:
    """What a UI shows: ``running``, ``last_sync`` (time of the last full push+pull), ``pending``
    (events still to push), ``last_error`` (None after a success), ``failures`` in a row,
    ``upgrade_required`` (the server needs a newer client schema)."""

    running: bool = False
    last_sync: float | None = None
    pending: int = 0
    last_error: str | None = None
    failures: int = 0
    upgrade_required: bool = False
    history: list[dict] = field(default_factory=list, repr=False)


class SyncWorker:
    """See the module doc. ``backoff=(first_delay, cap)`` in seconds: after n failures in a row
    the worker waits ``min(cap, first_delay * 2**n)`` scaled by a random factor in [0.5, 1]
    (jitter, so that many clients do not retry in step)."""

    def __init__(self, plugin: SyncPlugin, transport: str | Transport, *, token: str | None = None,
                 batch_size: int = 100, pull_limit: int = 500, interval: float = 5.0,
                 max_retries: int = 5, backoff: tuple[float, float] = (0.5, 30.0)) -> None:
        self.plugin = plugin
        self.transport: Transport = (HttpTransport(transport, token=token) if isinstance(transport, str)
                                     else transport)
        self.batch_size, self.pull_limit, self.interval = batch_size, pull_limit, interval
        self.max_retries, self.backoff = max_retries, backoff
        self.status = SyncStatus()
        self._task: asyncio.Task | None = None
        self._deferred_deletes: set[tuple] = set()
        self._wake = asyncio.Event()

    @property
    def client(self) -> Any:
        return self.plugin.client

    @functools.cached_property
    def _joins(self) -> dict[str, tuple[str, str]]:
        return join_models(self.client.schema)

    # -- one round -------------------------------------------------------------------------------
    async def sync_once(self) -> dict[str, int]:
        """Push every open event, then pull until the server has nothing newer; retries a failing
        request ``max_retries`` times with backoff before raising (the events stay queued)."""
        report = await self._round(self._push_all, self._pull_all)
        self.status.last_sync, self.status.last_error, self.status.failures = time.time(), None, 0
        return report

    async def push(self) -> dict[str, int]:
        """Only push the outbox (with retries); see :meth:`sync_once`."""
        return await self._round(self._push_all)

    async def pull(self) -> dict[str, int]:
        """Only pull (with retries); see :meth:`sync_once`."""
        return await self._round(self._pull_all)

    async def _round(self, *steps: Any) -> dict[str, int]:
        """Run the steps in order holding this database's sync lock (see :func:`with_web_lock`)."""
        report = {"pushed": 0, "merged": 0, "rejected": 0, "pulled": 0}

        async def run() -> None:
            for step in steps:
                await self._guarded(step, report)

        await with_web_lock(f"pyidb-sync:{self.client.db.name}", run)
        return report

    async def _guarded(self, step: Any, report: dict[str, int]) -> None:
        """Run a step with retries, keeping :attr:`status` up to date."""
        try:
            await self._retrying(step, report)
        except SyncError as exc:
            self.status.last_error = str(exc)
            self.status.upgrade_required = exc.code == "upgrade_required"
            raise
        except TransportError as exc:
            self.status.last_error = str(exc)
            self.status.failures += 1
            raise
        finally:
            self.status.pending = await self._pending()

    async def _retrying(self, step: Any, report: dict[str, int]) -> None:
        for attempt in range(self.max_retries + 1):
            try:
                return await step(report)
            except TransportError:
                if attempt == self.max_retries:
                    raise
                await asyncio.sleep(self.delay(attempt))

    def delay(self, failures: int) -> float:
        """The backoff before retry number ``failures + 1`` (exponential, capped, jittered)."""
        first, cap = self.backoff
        return min(cap, first * 2 ** failures) * random.uniform(0.5, 1.0)

    async def _pending(self) -> int:
        stats = await self.plugin.outbox.stats()
        return stats["pending"] + stats["in_flight"] + stats["failed"]

    async def _push_all(self, report: dict[str, int]) -> None:
        client_id, outbox = await self.plugin.outbox.client_id(), self.plugin.outbox

        def send(batch: list[dict]) -> asyncio.Future:
            body = {"protocol": PROTOCOL_VERSION, "schema_version": self.plugin.schema_version,
                    "client_id": client_id, "events": [wire_event(e) for e in batch]}
            return asyncio.ensure_future(self.transport.post("/push", body))

        batch = await outbox.next_batch(self.batch_size)
        sending = send(batch) if batch else None
        while sending is not None:
            try:
                answer = await sending
            except TransportError as exc:
                await outbox.mark_failed([e["id"] for e in batch], str(exc), retryable=True)
                raise
            results = answer.get("results", [])
            if any(r.get("status") == "retry" for r in results) or len(results) < len(batch):
                await self._apply_push_results(batch, results, report)
                raise TransportError("the server asked to resend events after a gap")
            # The next batch (the events after this one) is on its way while this one's answers
            # are stored: the server and this client work at the same time. Its seqs follow this
            # batch's, so the server applies it after this one whatever happens here.
            following = await outbox.next_batch(self.batch_size, after=batch[-1]["n"])
            sending = send(following) if following else None
            try:
                await self._apply_push_results(batch, results, report)
            except BaseException:
                if sending is not None:  # its events stay in flight with their seqs: resent later
                    sending.cancel()
                    await asyncio.gather(sending, return_exceptions=True)
                raise
            batch = following

    async def _apply_push_results(self, batch: list[dict], results: list[dict],
                                  report: dict[str, int]) -> None:
        """Close the answered events and apply the server's record for each, in one transaction."""
        by_id = {e["id"]: e for e in batch}
        answered = [(by_id[r["id"]], r) for r in results
                    if r.get("id") in by_id and r.get("status") in ("applied", "merged", "rejected")]
        async with self._remote_tx() as (tx, apply):
            outbox = tx.object_store(OUTBOX)
            if answered:
                await outbox.put_many([closed(e, SYNCED if r["status"] != "rejected" else REJECTED,
                                              r.get("reason")) for e, r in answered])
                await self.plugin.outbox.release(tx, [e for e, _ in answered])
            # The server's answer decides the record -- unless a newer local edit of it is still
            # queued (then that edit's own answer will): the last answer per record, if no event
            # of it is left in the queue. "applied" means the server holds what the client wrote:
            # only the version is new, and it is the base of any later local edit as well.
            last: dict[str, tuple[dict, dict]] = {}
            for event, result in answered:
                report["pushed" if result["status"] == "applied" else result["status"]] += 1
                last[key_text(event["open"])] = (event, result)
            versions = [{"ref": event["open"], "version": result.get("version")}
                        for event, result in last.values() if result["status"] == "applied"]
            decided = [(event, result) for event, result in last.values() if result["status"] != "applied"]
            queued = await self._queued(outbox, [event["open"] for event, _ in decided])
            for (event, result), waits in zip(decided, queued, strict=True):
                if not waits:
                    await self._apply_one(tx, apply, event["model"], event["key"], result)
            if versions:
                await tx.object_store(VERSIONS).put_many(versions)
            await self._retry_deferred(tx, apply)

    async def _pull_all(self, report: dict[str, int]) -> None:
        client_id = await self.plugin.outbox.client_id()
        while True:
            async with self.client.db.transaction([META], "readonly") as tx:
                row = await tx.object_store(META).get("cursor")
            body = {"protocol": PROTOCOL_VERSION, "schema_version": self.plugin.schema_version,
                    "client_id": client_id, "cursor": row["value"] if row else None,
                    "limit": self.pull_limit}
            page = await self.transport.post("/pull", body)
            report["pulled"] += await self._apply_page(page)
            if not page.get("has_more"):
                return

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
        waiting = await outbox.index("queue").count()
        if waiting == 0:
            return [False] * len(refs)
        if waiting <= 4 * len(refs):
            open_refs = {tuple(e["open"]) for e in await outbox.index("queue").get_all()}
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
        schema = self.client.schema
        if model in self._joins:  # a link needs both of its records
            for side, target in zip("AB", self._joins[model], strict=True):
                if await tx.object_store(target).count(record[side]) == 0:
                    return False
            return True
        for rel in schema.models[model].relations.values():
            if rel.kind != "owner" or rel.references != schema.models[rel.target].id_fields:
                continue
            values = [record.get(f) for f in rel.fields]
            if any(v is None for v in values):
                continue
            key = values[0] if len(values) == 1 else values
            if await tx.object_store(rel.target).count(key) == 0:
                return False
        return True

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

    async def _delete_blocked(self, scope: Any, model: str, record: dict) -> bool:
        """Would deleting ``record`` locally be refused by an onDelete Restrict relation (a local
        record pointing at it, directly or through a cascade)?"""
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
                    if await self._delete_blocked(scope, rel.target, child):
                        return True
            elif rel.on_delete != "SetNull" and await children.count(where=where):
                return True
        return False


    async def history(self, model: str, key: Any) -> list[dict]:
        """Every version the server keeps of one record, oldest first: ``[{"version", "deleted",
        "record", "client_id"}, ...]`` (only records of this client's scope)."""
        answer = await self.transport.post("/history", {
            "protocol": PROTOCOL_VERSION, "schema_version": self.plugin.schema_version,
            "model": model, "key": encode(key)})
        return [{**v, "record": decode(v["record"]) if v.get("record") is not None else None}
                for v in answer.get("versions", [])]

    # -- background loop -----------------------------------------------------------------------
    def start(self) -> None:
        """Sync now and then every ``interval`` seconds (sooner after :meth:`nudge`)."""
        if self._task is None or self._task.done():
            self.status.running = True
            self._task = asyncio.ensure_future(self._run())

    def nudge(self) -> None:
        """Sync as soon as possible (e.g. after a local write or when the network comes back)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop after the current round (a round is never cut in the middle: it does
        not need to be, but finishing it keeps the status right); queued events stay queued."""
        task, self._task = self._task, None
        self.status.running = False
        if task is not None:
            self._wake.set()
            await task

    async def _run(self) -> None:
        while self.status.running:
            try:
                await self.sync_once()
                wait = self.interval
            except SyncError:
                wait = self.interval if not self.status.upgrade_required else self.backoff[1]
            except TransportError:
                wait = self.delay(self.status.failures)
            if not self.status.running:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

async def with_web_lock(name: str, fn: Any) -> None:
    """Run ``await fn()`` holding the Web Lock ``name`` (``navigator.locks``): in a browser with
    several tabs (or workers) on one database, one syncs at a time and the others wait their
    turn. The lock is released when the holder finishes or its tab closes. Elsewhere (CPython,
    Node without Web Locks) it just runs ``fn``: the server's per-client seq check still applies
    each event once."""
    locks = None
    if sys.platform == "emscripten":
        import js  # type: ignore[import-not-found]

        locks = getattr(getattr(js, "navigator", None), "locks", None)
    if locks is None:
        await fn()
        return
    from pyodide.ffi import create_once_callable  # type: ignore[import-not-found]

    failure: list[BaseException] = []

    async def held(_lock: Any) -> None:
        try:
            await fn()
        except BaseException as exc:  # re-raised below as itself, not as a JS error
            failure.append(exc)

    # The callback returns a Task: Pyodide hands it to JS as a thenable, so the lock is held
    # until the task is done.
    await locks.request(name, create_once_callable(lambda lock: asyncio.ensure_future(held(lock))))
    if failure:
        raise failure[0]


def wire_event(event: dict) -> dict:
    """An outbox event as pushed. A create's ``after`` is its ``data`` (the server takes it so):
    not sent twice."""
    fields = ("id", "seq", "model", "op", "key", "data", "base_version")
    wire = {k: event[k] for k in fields}
    if event["op"] != "create":
        wire["after"] = event["after"]
    return wire


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
