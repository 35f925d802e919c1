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
from dataclasses import dataclass, field
from typing import Any

from .client import META, OUTBOX, REJECTED, VERSIONS, SyncPlugin, closed
from .local import LocalWrites
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


class SyncWorker(LocalWrites):
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
                await outbox.mark_batch_failed(batch, str(exc))
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
            refused = [(e, r) for e, r in answered if r["status"] == "rejected"]
            if refused:
                await outbox.put_many([closed(e, REJECTED, r.get("reason")) for e, r in refused])
                await self.plugin.outbox.release(tx, [e for e, _ in refused])
            await self.plugin.outbox.close_synced(tx, [e for e, r in answered if r["status"] != "rejected"])
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
