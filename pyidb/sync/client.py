"""The client side of sync: an outbox written in the same IndexedDB transaction as each write.

    sync = SyncPlugin(schema_version=1)                  # every model, or models={"Post"}
    client = await Client.open("app", schema, plugins=[sync])
    await client.post.create(data={...})                 # + one outbox event, same transaction
    await sync.outbox.stats()                            # {"pending": 1, ...}
    worker = sync.worker("http://127.0.0.1:8765", token="alice-token")
    await worker.sync_once()

Stores the plugin adds to the client's database:

- ``sync_outbox`` (key ``n``, the local write order): one event per create/update/delete with a
  unique ``id``, the model, key and change. Its per-client ``seq`` is given when the event first
  joins a push batch (from a counter in ``sync_meta``, in the same transaction), not when it is
  written: an aborted write must not leave a hole in the sequence, which the server would wait on.
  Until the event is answered its seq and base version are kept in ``sync_meta``'s ``assigned``
  row (``{n: [seq, base_version]}``: one write per batch instead of rewriting every event). An
  event the server took leaves the outbox when its answer is stored (deleting it is a fraction of
  the work of rewriting it); a rejected one stays, with its seq, data and the server's reason.
- ``sync_meta``: this client's id, the next seq, the seqs given to unanswered events, the pull
  cursor (saved in the same transaction as the page it describes), and what is left of synced
  events: ``synced`` (how many, for ``stats()``) and one ``synced:<n>`` row per closed batch,
  ``{"synced_at", "events": [[id, seq], ...]}``, until ``clear_synced`` removes it.
- ``sync_versions``: the server version of each record as last seen (the ``base_version`` of a
  later local change).
- ``sync_deferred``: pulled records waiting for their parent record (in a later page).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from .. import KeyRange
from .protocol import encode, key_text

OUTBOX, META, VERSIONS, DEFERRED = "sync_outbox", "sync_meta", "sync_versions", "sync_deferred"
PENDING, IN_FLIGHT, FAILED, REJECTED, SYNCED = "pending", "in_flight", "failed", "rejected", "synced"
OPEN = (PENDING, IN_FLIGHT, FAILED)
ASSIGNED = "assigned"  # the sync_meta row of the seqs given to unanswered events
SYNCED_COUNT = "synced"  # the sync_meta row counting synced events (stats)
SYNCED_LOG = "synced:"  # prefix of the sync_meta rows of closed batches (clear_synced)
OPEN_FROM = "open_from"  # the sync_meta row: every outbox event before this n is closed


class SyncPlugin:
    """A model-client plugin that logs synced models' writes to the outbox (see the module doc).

    ``models``: the names of the synced models (default: all). ``schema_version``: the version of
    the schema this client runs, sent with every request (the server refuses older ones).
    """

    def __init__(self, *, models: Iterable[str] | None = None, schema_version: int = 1) -> None:
        self.models = set(models) if models is not None else None
        self.schema_version = schema_version
        self.client: Any = None
        self.outbox = Outbox(self)
        self.stores: dict[str, dict] = {
            OUTBOX: {"key_path": "n", "auto_increment": True, "indexes": {
                # Sparse indexes (an index entry costs on every write and delete): "open" exists
                # only while the event is still to be synced; "status" only once it is not
                # pending (failed or rejected): a pending event is stored without it. A synced
                # event is deleted. No index by event id (nothing looks events up by id on the
                # way of a push) nor of the queue: open events are read in key order from the
                # store itself, from the first one (``open_from`` in sync_meta: every event
                # before it is closed, and a closed event never reopens).
                "open": {"key_path": "open", "unique": False, "multi_entry": False},
                "status": {"key_path": "status", "unique": False, "multi_entry": False},
            }},
            META: {"key_path": "name", "auto_increment": False, "indexes": {}},
            VERSIONS: {"key_path": "ref", "auto_increment": False, "indexes": {}},
            DEFERRED: {"key_path": "ref", "auto_increment": False, "indexes": {}},
        }

    def bind(self, client: Any) -> SyncPlugin:
        """Remember the model client this plugin was opened with (done by :func:`open_client`)."""
        self.client = client
        return self

    def worker(self, transport: Any, **options: Any) -> Any:
        """A :class:`pyidb.sync.worker.SyncWorker` for this client: ``sync.worker(url, token=...)``."""
        from .worker import SyncWorker

        return SyncWorker(self, transport, **options)

    def synced(self, model: str) -> bool:
        return self.models is None or model in self.models

    # -- the plugin hook ------------------------------------------------------------------------
    def on_write(self, tx: Any, event: Any) -> None:
        """Called by the model client inside the write's own transaction: add the outbox event.

        Writes that apply the server's changes have ``origin == "remote"`` and are not logged:
        that is what keeps a pulled change from being pushed back (no echo)."""
        if event.origin != "local" or not self.synced(event.model):
            return
        if event.op == "update" and not event.changed:
            return  # e.g. the record side of a many-to-many connect: its link row is the event
        ref = key_text(event.key)
        if event.op == "create":
            data = encode(event.after)
        elif event.op == "update":
            data = encode({f: event.after.get(f) for f in event.changed})
        else:
            data = None
        tx.object_store(OUTBOX).add({
            "id": uuid.uuid4().hex, "model": event.model, "key": encode(event.key), "op": event.op,
            # A create's after is its data: stored once (next_batch and rejected() give it back).
            "data": data, "after": encode(event.after) if event.op == "update" else None,
            "seq": None, "base_version": None, "attempts": 0, "error": None,
            # ``open`` exists only while the event is to be synced (a sparse index): it finds
            # the open events of one record.
            "open": [event.model, ref], "synced_at": None,
        })


async def open_client(name: str, schema: Any, *, factory: Any = None, plugins: Iterable[Any] = (),
                      models: Iterable[str] | None = None, schema_version: int = 1) -> Any:
    """``Client.open`` with sync enabled: the client gets ``client.outbox`` and
    ``client.sync_worker(url_or_transport, token=..., batch_size=..., interval=..., max_retries=...,
    backoff=...)``::

        client = await open_client("app", Schema.from_prisma(text), factory=pyidb.factory("memory:"))
        await client.sync_worker("http://127.0.0.1:8765", token="alice-token").sync_once()
    """
    from ..model import Client, SchemaError

    for taken in ("outbox", "sync", "sync_worker"):
        if taken in {m.lower() for m in schema.models}:
            raise SchemaError(f"a model named {taken!r} would hide client.{taken}: rename it")
    sync = SyncPlugin(models=models, schema_version=schema_version)
    client = await Client.open(name, schema, factory=factory, plugins=[*plugins, sync])
    sync.bind(client)
    client.sync, client.outbox, client.sync_worker = sync, sync.outbox, sync.worker
    return client


class Outbox:
    """The outbox API: ``await outbox.next_batch(100)``, ``mark_synced``, ``mark_failed``,
    ``stats``, ``clear_synced``."""

    def __init__(self, plugin: SyncPlugin) -> None:
        self.plugin = plugin

    @property
    def db(self) -> Any:
        if self.plugin.client is None:
            raise RuntimeError("the sync plugin is not bound to a client: call sync.bind(client)")
        return self.plugin.client.db

    async def client_id(self) -> str:
        """This database's client id (made once, kept in ``sync_meta``)."""
        async with self.db.transaction([META], "readwrite") as tx:
            meta = tx.object_store(META)
            row = await meta.get("client_id")
            if row is None:
                row = {"name": "client_id", "value": uuid.uuid4().hex}
                await meta.put(row)
            return row["value"]

    async def next_batch(self, limit: int = 100, *, after: int | None = None) -> list[dict]:
        """The next ``limit`` open events in write order, each with its ``seq`` (given now, once,
        and kept for every retry) and ``base_version``; they are marked in flight. ``after``:
        only events written after the event numbered ``after`` (its ``n``), e.g. the ones after
        a batch still waiting for its answer."""
        async with self.db.transaction([OUTBOX, META, VERSIONS], "readwrite") as tx:
            outbox, meta = tx.object_store(OUTBOX), tx.object_store(META)
            start = await meta.get(OPEN_FROM) if after is None else None
            lower = after if after is not None else start["value"] - 1 if start else None
            events: list[dict] = []
            first_open = None
            while len(events) < limit:  # the closed events kept (rejected ones) are skipped
                page = await outbox.get_all(KeyRange.lower_bound(lower, open=True)
                                            if lower is not None else None, limit)
                if not page:
                    break
                events.extend(e for e in page if "open" in e)
                if first_open is None:
                    first_open = events[0]["n"] if events else page[-1]["n"] + 1
                lower = page[-1]["n"]
            del events[limit:]
            if after is None and first_open is not None and (start is None or first_open != start["value"]):
                await meta.put({"name": OPEN_FROM, "value": first_open})
            counter = await meta.get("next_seq") or {"name": "next_seq", "value": 1}
            assigned = await meta.get(ASSIGNED) or {"name": ASSIGNED, "value": {}}
            # (An event stored with its seq comes from an older version of this module.)
            fresh = [e for e in events if e["seq"] is None and str(e["n"]) not in assigned["value"]]
            # A create has no base version (the server ignores one: a create is refused on any
            # key it knows): only the other events read theirs.
            edits = [e for e in fresh if e["op"] != "create"]
            seen = await tx.object_store(VERSIONS).get_many([e["open"] for e in edits]) if edits else []
            bases = {e["n"]: v["version"] for e, v in zip(edits, seen, strict=True) if v}
            for event in fresh:
                base = bases.get(event["n"])
                assigned["value"][str(event["n"])] = [counter["value"], base]
                counter["value"] += 1
            for event in events:
                if event["seq"] is None:
                    event["seq"], event["base_version"] = assigned["value"][str(event["n"])]
                _with_after(event)
                if event.get("status", PENDING) == PENDING:
                    event["status"] = IN_FLIGHT  # in the answer only: stats() counts it from meta
            if fresh:
                await meta.put(counter)
                await meta.put(assigned)
        return events

    @staticmethod
    async def release(tx: Any, events: list[dict]) -> None:
        """In ``tx``: the answered ``events`` no longer hold a seq in ``assigned`` (they are
        stored with it now)."""
        meta = tx.object_store(META)
        assigned = await meta.get(ASSIGNED)
        if assigned and any(str(e["n"]) in assigned["value"] for e in events):
            for event in events:
                assigned["value"].pop(str(event["n"]), None)
            await meta.put(assigned)

    @staticmethod
    async def _with_seq(tx: Any, event: dict) -> dict:
        if event.get("seq") is None:
            assigned = await tx.object_store(META).get(ASSIGNED)
            given = assigned["value"].get(str(event["n"])) if assigned else None
            if given:
                event = {**event, "seq": given[0], "base_version": given[1]}
        return event

    @staticmethod
    async def close_synced(tx: Any, events: list[dict]) -> None:
        """In ``tx``: the ``events`` the server took leave the outbox (and ``assigned``); their id
        and seq are kept in one ``synced:<n>`` row of ``sync_meta`` with the time, and counted."""
        if not events:
            return
        outbox, meta = tx.object_store(OUTBOX), tx.object_store(META)
        assigned = await meta.get(ASSIGNED)
        given = assigned["value"] if assigned else {}
        kept, released = [], False
        for event in events:
            seq = event.get("seq")
            taken = given.pop(str(event["n"]), None)
            released = released or taken is not None
            kept.append([event["id"], seq if seq is not None else taken[0] if taken else None])
        ns = sorted(event["n"] for event in events)
        start = 0
        for i in range(1, len(ns) + 1):  # consecutive ns (a whole batch, mostly): one range delete
            if i == len(ns) or ns[i] != ns[i - 1] + 1:
                lo, hi = ns[start], ns[i - 1]
                await outbox.delete(lo if lo == hi else KeyRange.bound(lo, hi))
                start = i
        if released:
            await meta.put(assigned)
        await meta.put({"name": f"{SYNCED_LOG}{ns[0]:015d}",
                        "value": {"synced_at": time.time(), "events": kept}})
        count = await meta.get(SYNCED_COUNT) or {"name": SYNCED_COUNT, "value": 0}
        count["value"] += len(events)
        await meta.put(count)

    @staticmethod
    async def _open_by_id(tx: Any, ids: Iterable[str]) -> list[dict]:
        """The open events with these ids (one read of the queue: this is not on a push's way)."""
        wanted = set(ids)
        events = await tx.object_store(OUTBOX).index("open").get_all()
        return [e for e in events if e["id"] in wanted]

    async def mark_synced(self, ids: Iterable[str]) -> None:
        """Mark open events (by event id) as accepted by the server: they leave the outbox (see
        :meth:`close_synced`)."""
        async with self.db.transaction([OUTBOX, META], "readwrite") as tx:
            await self.close_synced(tx, await self._open_by_id(tx, ids))

    async def mark_failed(self, event_id: str | Iterable[str], error: str, retryable: bool) -> None:
        """Record a failure of one open event (or several, by id): retryable ones stay in the
        queue (status ``failed``, ``attempts`` + 1), others are ``rejected`` and leave it."""
        ids = [event_id] if isinstance(event_id, str) else list(event_id)
        async with self.db.transaction([OUTBOX, META], "readwrite") as tx:
            await self._fail(tx, await self._open_by_id(tx, ids), error, retryable)

    async def mark_batch_failed(self, events: list[dict], error: str) -> None:
        """The events of a batch (as :meth:`next_batch` gave them) failed on the way: they stay
        in the queue as ``failed`` (read by key, not by id)."""
        async with self.db.transaction([OUTBOX, META], "readwrite") as tx:
            stored = await tx.object_store(OUTBOX).get_many([e["n"] for e in events])
            await self._fail(tx, [e for e in stored if e is not None and "open" in e], error, True)

    async def _fail(self, tx: Any, events: list[dict], error: str, retryable: bool) -> None:
        store = tx.object_store(OUTBOX)
        for event in events:
            if retryable:
                event = {**event, "status": FAILED, "error": error, "attempts": event["attempts"] + 1}
            else:
                event = closed(await self._with_seq(tx, event), REJECTED, error)
                await self.release(tx, [event])
            await store.put(event)

    async def stats(self) -> dict[str, int]:
        """``{"pending", "in_flight", "failed", "rejected", "synced"}`` counts."""
        async with self.db.transaction([OUTBOX, META], "readonly") as tx:
            outbox = tx.object_store(OUTBOX)
            index = outbox.index("status")
            # (Events stored by an older version of this module have a status even when pending
            # or synced: they count the same.)
            failed = await index.count(FAILED)
            counts = {PENDING: await outbox.index("open").count() - failed,  # open, not failed
                      IN_FLIGHT: 0, FAILED: failed, REJECTED: await index.count(REJECTED),
                      SYNCED: await index.count(SYNCED)}
            counts[SYNCED] += (await tx.object_store(META).get(SYNCED_COUNT) or {"value": 0})["value"]
            assigned = await tx.object_store(META).get(ASSIGNED)
            if assigned and assigned["value"]:
                # Pending events given a seq are in flight (failed ones keep their status).
                stored = await outbox.get_many([int(n) for n in assigned["value"]])
                moving = sum(1 for e in stored if e is not None and "open" in e
                             and e.get("status", PENDING) == PENDING)
                counts[PENDING] -= moving
                counts[IN_FLIGHT] += moving
            return counts

    async def rejected(self) -> list[dict]:
        """The events the server refused, with its reason in ``error`` (for a UI to show)."""
        async with self.db.transaction([OUTBOX], "readonly") as tx:
            return [_with_after(e) for e in await tx.object_store(OUTBOX).index("status").get_all(REJECTED)]

    async def clear_synced(self, older_than: float = 0.0) -> int:
        """Delete synced events synced more than ``older_than`` seconds ago; returns how many."""
        limit = time.time() - older_than  # housekeeping only: no clock ever orders changes
        removed = 0
        async with self.db.transaction([OUTBOX, META], "readwrite") as tx:
            store, meta = tx.object_store(OUTBOX), tx.object_store(META)
            # Synced events stored in the outbox by an older version of this module:
            async for cursor in store.index("status").open_cursor(SYNCED):
                if (cursor.value.get("synced_at") or 0) <= limit:
                    await cursor.delete()
                    removed += 1
            logged = 0
            # ";" follows ":": the range holds exactly the names that start with SYNCED_LOG.
            async for cursor in meta.open_cursor(KeyRange.bound(SYNCED_LOG, SYNCED_LOG[:-1] + ";",
                                                                False, True)):
                if cursor.value["value"]["synced_at"] <= limit:
                    logged += len(cursor.value["value"]["events"])
                    await cursor.delete()
            if logged:
                count = await meta.get(SYNCED_COUNT)
                await meta.put({"name": SYNCED_COUNT, "value": max(0, count["value"] - logged)})
        return removed + logged


def _with_after(event: dict) -> dict:
    """The event as the API gives it: a create's ``after`` is its ``data`` (stored once)."""
    if event["op"] == "create" and event.get("after") is None and "data" in event:
        event["after"] = event["data"]
    return event


def closed(event: dict, status: str, error: str | None) -> dict:
    """The event out of the queue (``open`` removed from the sparse index), as a
    rejected event is kept: with its data, for a UI to show what was refused. (A synced event is
    not kept: see :meth:`Outbox.close_synced`.)"""
    dropped = ("q", "open", "data", "after") if status == SYNCED else ("q", "open")
    event = {k: v for k, v in event.items() if k not in dropped}
    event.update(status=status, error=error, synced_at=time.time())
    return event
