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
        client_id = await self.plugin.outbox.client_id()
        while True:
            batch = await self.plugin.outbox.next_batch(self.batch_size)
            if not batch:
                return
            body = {"protocol": PROTOCOL_VERSION, "schema_version": self.plugin.schema_version,
                    "client_id": client_id,
                    "events": [{k: e[k] for k in ("id", "seq", "model", "op", "key", "data", "after",
                                                   "base_version")} for e in batch]}
            try:
                answer = await self.transport.post("/push", body)
            except TransportError as exc:
                await self.plugin.outbox.mark_failed([e["id"] for e in batch], str(exc), retryable=True)
                raise
            results = answer.get("results", [])
            await self._apply_push_results(batch, results, report)
            if any(r.get("status") == "retry" for r in results) or len(results) < len(batch):
                raise TransportError("the server asked to resend events after a gap")

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
            # The server's answer decides the record -- unless a newer local edit of it is still
            # queued (then that edit's own answer will): the last answer per record, if no event
            # of it is left in the queue.
            last: dict[str, tuple[dict, dict]] = {}
            for event, result in answered:
                report["pushed" if result["status"] == "applied" else result["status"]] += 1
                last[key_text(event["open"])] = (event, result)
            versions = []
            for event, result in last.values():
                if await outbox.index("open").count(event["open"]):
                    continue
                if result["status"] == "applied":  # the server holds exactly the local record
                    versions.append({"ref": event["open"], "version": result.get("version")})
                else:
                    await self._apply_one(tx, apply, event["model"], event["key"], result)
            if versions:
                await tx.object_store(VERSIONS).put_many(versions)

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
        applied = 0
        async with self._remote_tx() as (tx, apply):
            outbox, meta = tx.object_store(OUTBOX), tx.object_store(META)
            if page.get("reset"):
                await self._forget_synced_records(tx, apply)
            # A full resync spans pages until has_more is false; while it runs, our own changes
            # are applied too (the local copies were just dropped). Kept with the cursor, so an
            # interrupted resync resumes as one.
            resyncing = bool(page.get("reset")) or bool((await meta.get("resyncing") or {}).get("value"))
            for change in page.get("changes", []):
                if change.get("own") and not resyncing:
                    continue  # our own change: its push answer already applied it (no echo)
                if not self.plugin.synced(change["model"]):
                    continue
                if await outbox.index("open").count([change["model"], key_text(change["key"])]):
                    continue  # a local edit is queued: the server's answer to it decides
                await self._apply_one(tx, apply, change["model"], change["key"], change)
                applied += 1
            # Records whose parent was not here yet (it is in a later page, or came now).
            progress = True
            while progress:
                progress = False
                for waiting in await tx.object_store(DEFERRED).get_all():
                    await tx.object_store(DEFERRED).delete(waiting["ref"])
                    if await self._apply_one(tx, apply, waiting["model"], waiting["key"], waiting):
                        progress = True
            await meta.put({"name": "cursor", "value": page["cursor"]})
            await meta.put({"name": "resyncing", "value": resyncing and bool(page.get("has_more"))})
        return applied

    async def _apply_one(self, tx: Any, apply: Any, model: str, key: Any, answer: dict) -> bool:
        """Write the server's state of one record; False when it waits for its parent."""
        record, version = answer.get("record"), answer.get("version")
        ref = [model, key_text(key)]
        if record is not None and not await self._parents_present(tx, model, decode(record)):
            # The parent comes in a later page: keep the change until it is there (apply_remote
            # checks foreign keys, and a failed request would abort the page).
            await tx.object_store(DEFERRED).put({"ref": ref, "model": model, "key": key,
                                                 "record": record, "version": version})
            return False
        await apply(model, decode(key), decode(record) if record is not None else None)
        versions = tx.object_store(VERSIONS)
        if version is None:
            await versions.delete(ref)
        else:
            await versions.put({"ref": ref, "version": version})
        return True

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
                if await outbox.index("open").count([model, key_text(key)]) == 0:
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

            yield tx, apply


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
