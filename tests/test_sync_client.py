"""The sync client (outbox plugin + worker) with model clients against a real server process.

Faults are injected on purpose with tests/sync/faults.py (a transport wrapper around the real
HTTP transport) and by closing a client in the middle of a push.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

import pyidb
from pyidb.model import Schema, UniqueViolationError
from pyidb.sync.client import open_client
from pyidb.sync.protocol import SyncError
from pyidb.sync.transport import TransportError
from tests.sync.faults import FaultyTransport
from tests.sync.schemas import BLOG
from tests.sync.server_process import ServerProcess

TOKENS = {"ta": "alice", "tb": "bob"}
SCHEMA = Schema.from_prisma(BLOG)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(tmp_path_factory.mktemp("server"), BLOG, tokens=TOKENS) as s:
        yield s


_names = iter(range(1_000_000))


async def new_client(factory: pyidb.Factory | None = None, name: str | None = None):
    return await open_client(name or f"c{next(_names)}", SCHEMA, factory=factory or pyidb.factory("memory:"))


def fast(worker):
    worker.backoff = (0.001, 0.01)  # the tests need no real waiting between retries
    return worker


async def test_outbox_event_is_in_the_same_transaction_as_the_write() -> None:
    client = await new_client()
    await client.post.create(data={"id": "p1", "owner": "alice", "title": "a"})
    with pytest.raises(UniqueViolationError):
        await client.post.create(data={"id": "p1", "owner": "alice", "title": "again"})
    with pytest.raises(RuntimeError):
        async with client.tx() as t:
            await t.post.update(where={"id": "p1"}, data={"title": "aborted"})
            raise RuntimeError("abort the transaction")
    stats = await client.outbox.stats()
    assert stats["pending"] == 1  # the failed create and the aborted update left no event
    batch = await client.outbox.next_batch(10)
    assert [(e["seq"], e["op"], e["data"]["title"]) for e in batch] == [(1, "create", "a")]
    assert (await client.outbox.stats())["in_flight"] == 1
    await client.outbox.mark_failed(batch[0]["id"], "boom", retryable=True)
    again = await client.outbox.next_batch(10)
    assert again[0]["seq"] == 1 and again[0]["attempts"] == 1  # same seq on every retry
    await client.outbox.mark_synced([batch[0]["id"]])
    assert await client.outbox.stats() == {"pending": 0, "in_flight": 0, "failed": 0, "rejected": 0,
                                           "synced": 1}
    assert await client.outbox.next_batch(10) == []
    assert await client.outbox.clear_synced() == 1


async def test_two_clients_converge_and_no_echo(server: ServerProcess) -> None:
    a, b = await new_client(), await new_client()
    wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
    await wa.sync_once()
    await wb.sync_once()
    await a.post.create(data={"id": "echo1", "owner": "alice", "title": "hello"})
    report = await wa.sync_once()
    assert report["pushed"] == 1 and report["pulled"] == 0  # its own change is not applied again
    assert (await wb.sync_once())["pulled"] == 1
    assert (await b.post.find_unique(where={"id": "echo1"}))["title"] == "hello"
    await b.post.update(where={"id": "echo1"}, data={"title": "from b"})
    await wb.sync_once()
    await wa.sync_once()
    assert (await a.post.find_unique(where={"id": "echo1"}))["title"] == "from b"
    # Applying pulled changes wrote nothing to the outbox (it would push them back).
    assert (await a.outbox.stats())["synced"] == 1 and (await b.outbox.stats())["synced"] == 1
    assert wa.status.last_error is None and wa.status.pending == 0 and wa.status.last_sync


async def test_synced_events_leave_the_outbox_clear_synced_keeps_recent_ones(server: ServerProcess) -> None:
    client = await new_client()
    worker = client.sync_worker(server.url, token="ta")
    await client.post.create(data={"id": "cs1", "owner": "alice", "title": "one"})
    await worker.push()
    async with client.db.transaction(["sync_outbox", "sync_meta"], "readonly") as tx:
        assert await tx.object_store("sync_outbox").count() == 0  # the synced event is gone...
        logged = await tx.object_store("sync_meta").get_all(pyidb.KeyRange.bound("synced:", "synced;"))
    assert [[e[1] for e in row["value"]["events"]] for row in logged] == [[1]]  # ...its id and seq kept
    await client.post.create(data={"id": "cs2", "owner": "alice", "title": "two"})
    await client.post.create(data={"id": "cs3", "owner": "alice", "title": "three"})
    await worker.push()
    assert (await client.outbox.stats())["synced"] == 3
    # Only what was synced more than an hour ago goes: nothing yet.
    assert await client.outbox.clear_synced(older_than=3600) == 0
    assert (await client.outbox.stats())["synced"] == 3
    async with client.db.transaction(["sync_meta"], "readwrite") as tx:  # the first push was long ago
        meta = tx.object_store("sync_meta")
        first = await meta.get(logged[0]["name"])
        first["value"]["synced_at"] -= 7200
        await meta.put(first)
    assert await client.outbox.clear_synced(older_than=3600) == 1
    assert (await client.outbox.stats())["synced"] == 2
    assert await client.outbox.clear_synced() == 2
    assert (await client.outbox.stats())["synced"] == 0


async def test_events_stored_by_an_older_outbox_still_count() -> None:
    # Before synced events were deleted and pending ones stored without a status, an outbox held
    # {"status": "pending"} events in its queue and closed {"status": "synced"} ones.
    client = await new_client()
    await client.post.create(data={"id": "old1", "owner": "alice", "title": "a"})
    await client.post.create(data={"id": "old2", "owner": "alice", "title": "b"})
    async with client.db.transaction(["sync_outbox"], "readwrite") as tx:
        outbox = tx.object_store("sync_outbox")
        first, second = await outbox.get_all()
        await outbox.put({**first, "status": "pending"})
        closed = {k: v for k, v in second.items() if k not in ("q", "open", "data", "after")}
        await outbox.put({**closed, "status": "synced", "seq": 7, "synced_at": time.time()})
    assert await client.outbox.stats() == {"pending": 1, "in_flight": 0, "failed": 0, "rejected": 0,
                                           "synced": 1}
    batch = await client.outbox.next_batch(10)
    assert [e["id"] for e in batch] == [first["id"]] and batch[0]["status"] == "in_flight"
    assert (await client.outbox.stats())["in_flight"] == 1
    assert await client.outbox.clear_synced() == 1
    await client.outbox.mark_synced([first["id"]])
    assert await client.outbox.stats() == {"pending": 0, "in_flight": 0, "failed": 0, "rejected": 0,
                                           "synced": 1}


async def test_next_batch_skips_closed_events_and_remembers_where_the_open_ones_start() -> None:
    client = await new_client()
    for i in range(4):
        await client.post.create(data={"id": f"nb{i}", "owner": "alice", "title": str(i)})
    first = await client.outbox.next_batch(2)
    await client.outbox.mark_failed(first[0]["id"], "refused", retryable=False)  # kept, rejected
    await client.outbox.mark_synced([first[1]["id"]])  # deleted
    batch = await client.outbox.next_batch(10)
    assert [e["data"]["id"] for e in batch] == ["nb2", "nb3"]  # in write order, seqs kept going
    assert [e["seq"] for e in batch] == [3, 4]
    async with client.db.transaction(["sync_meta"], "readonly") as tx:
        assert (await tx.object_store("sync_meta").get("open_from"))["value"] == batch[0]["n"]
    await client.outbox.mark_synced([e["id"] for e in batch])
    await client.post.create(data={"id": "nb4", "owner": "alice", "title": "4"})
    assert [e["data"]["id"] for e in await client.outbox.next_batch(10)] == ["nb4"]
    assert [e["data"]["id"] for e in await client.outbox.rejected()] == ["nb0"]


async def test_lost_ack_is_retried_and_applied_once(server: ServerProcess) -> None:
    client = await new_client()
    transport = FaultyTransport(server.url, "ta")
    transport.lose_ack = ["/push"]
    worker = fast(client.sync_worker(transport))
    await client.post.create(data={"id": "ack1", "owner": "alice", "title": "once"})
    await client.post.update(where={"id": "ack1"}, data={"views": 1})
    await worker.sync_once()
    assert transport.sent.count("/push") == 2  # committed, answer lost, resent
    versions = server.post("/history", {"protocol": 1, "schema_version": 1, "model": "Post", "key": "ack1"},
                           "ta").json()["versions"]
    assert [v["record"]["views"] for v in versions] == [0, 1]  # two events, each applied once
    assert (await client.outbox.stats())["synced"] == 2


async def test_a_tab_closed_mid_push_loses_nothing(server: ServerProcess, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tab.db'}"
    client = await new_client(pyidb.factory(url), "tab")
    await client.post.create(data={"id": "tab1", "owner": "alice", "title": "t"})
    transport = FaultyTransport(server.url, "ta")
    worker = client.sync_worker(transport, max_retries=0)

    def close_tab(path: str, answer: dict) -> None:
        if path == "/push":  # the server committed and answered; the tab dies before storing it
            raise asyncio.CancelledError

    transport.on_answer = close_tab
    with pytest.raises(asyncio.CancelledError):
        await worker.sync_once()
    client.close()
    reopened = await new_client(pyidb.factory(url), "tab")
    assert (await reopened.outbox.stats())["in_flight"] == 1
    report = await reopened.sync_worker(server.url, token="ta").sync_once()
    assert report["pushed"] == 1 and (await reopened.outbox.stats())["synced"] == 1
    versions = server.post("/history", {"protocol": 1, "schema_version": 1, "model": "Post", "key": "tab1"},
                           "ta").json()["versions"]
    assert len(versions) == 1


async def test_pull_does_not_overwrite_a_queued_local_edit(server: ServerProcess) -> None:
    a, b = await new_client(), await new_client()
    wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
    await a.post.create(data={"id": "q1", "owner": "alice", "title": "v0"})
    await wa.sync_once()
    await wb.sync_once()
    await a.post.update(where={"id": "q1"}, data={"title": "a offline"})  # queued, not pushed
    await b.post.update(where={"id": "q1"}, data={"title": "b online", "views": 3})
    await wb.sync_once()
    await wa.pull()
    record = await a.post.find_unique(where={"id": "q1"})
    assert record["title"] == "a offline"  # the pulled title did not overwrite the queued edit
    await wa.sync_once()  # a's edit reaches the server after b's: it wins the title, keeps views
    await wb.sync_once()
    for client in (a, b):
        record = await client.post.find_unique(where={"id": "q1"})
        assert (record["title"], record["views"]) == ("a offline", 3)


async def test_a_client_clock_set_back_an_hour_changes_nothing(server: ServerProcess,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = await new_client(), await new_client()
    wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
    await a.post.create(data={"id": "clk", "owner": "alice", "title": "v0"})
    await wa.sync_once()
    await wb.sync_once()
    await b.post.update(where={"id": "clk"}, data={"title": "b, correct clock"})
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # a's clock is an hour behind
    await a.post.update(where={"id": "clk"}, data={"title": "a, clock an hour back"})
    monkeypatch.setattr(time, "time", real)
    await wb.sync_once()
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    await wa.sync_once()  # later in server order: it wins, whatever its clock said
    monkeypatch.setattr(time, "time", real)
    await wb.sync_once()
    for client in (a, b):
        assert (await client.post.find_unique(where={"id": "clk"}))["title"] == "a, clock an hour back"


async def test_a_rejected_event_restores_the_server_state(server: ServerProcess) -> None:
    a, b = await new_client(), await new_client()
    wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
    await a.tag.create(data={"id": "t-a", "name": "urgent"})
    await b.tag.create(data={"id": "t-b", "name": "urgent"})  # offline: the same unique name
    await b.post.create(data={"id": "after-poison", "owner": "alice", "title": "fine"})
    await wa.sync_once()
    report = await wb.sync_once()
    assert report["rejected"] == 1 and report["pushed"] == 1  # the good event after it went through
    [rejected] = await b.outbox.rejected()
    assert "ConstraintError" in rejected["error"]
    assert [t["id"] for t in await b.tag.find_many(where={"name": "urgent"})] == ["t-a"]
    assert await a.post.find_unique(where={"id": "after-poison"}) is None
    await wa.sync_once()
    assert await a.post.find_unique(where={"id": "after-poison"}) is not None


async def test_an_old_client_schema_never_advances_its_cursor(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, BLOG, tokens=TOKENS, schema_version=2) as server:
        client = await new_client()
        worker = client.sync_worker(server.url, token="ta")
        with pytest.raises(SyncError, match="upgrade"):
            await worker.sync_once()
        assert worker.status.upgrade_required
        async with client.db.transaction(["sync_meta"], "readonly") as tx:
            assert await tx.object_store("sync_meta").get("cursor") is None


async def test_offline_push_keeps_events_and_reports_the_error(tmp_path: Path) -> None:
    client = await new_client()
    await client.post.create(data={"id": "off", "owner": "alice", "title": "t"})
    worker = fast(client.sync_worker("http://127.0.0.1:9", token="ta", max_retries=2))
    with pytest.raises(TransportError):
        await worker.sync_once()
    assert worker.status.last_error and worker.status.pending == 1 and worker.status.failures == 1
    stats = await client.outbox.stats()
    assert stats["failed"] == 1  # still queued, with its error, for the next try
    delays = [worker.delay(n) for n in range(12)]
    assert all(0 < d <= worker.backoff[1] for d in delays)


async def test_background_worker_syncs_history_and_stops(server: ServerProcess) -> None:
    a, b = await new_client(), await new_client()
    worker = a.sync_worker(server.url, token="ta", interval=3600)
    worker.start()
    await a.post.create(data={"id": "bg1", "owner": "alice", "title": "v1"})
    await a.post.update(where={"id": "bg1"}, data={"title": "v2"})
    worker.nudge()  # sync now rather than in an hour
    while worker.status.last_sync is None or worker.status.pending:
        await asyncio.sleep(0.01)
        worker.nudge()
    await worker.stop()
    assert not worker.status.running
    wb = b.sync_worker(server.url, token="ta")
    await wb.sync_once()
    assert (await b.post.find_unique(where={"id": "bg1"}))["title"] == "v2"
    assert [v["record"]["title"] for v in await wb.history("Post", "bg1")] == ["v1", "v2"]
    assert await b.sync_worker(server.url, token="tb").history("Post", "bg1") == []


async def test_many_to_many_links_sync(server: ServerProcess) -> None:
    a, b, bob = await new_client(), await new_client(), await new_client()
    wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
    await a.post.create(data={"id": "mm1", "owner": "alice", "title": "t", "labels": {
        "create": [{"id": "red", "name": "red"}, {"id": "blue", "name": "blue"}]}})
    await wa.sync_once()
    await wb.sync_once()

    async def labels(client) -> list[str]:
        post = await client.post.find_unique(where={"id": "mm1"}, include={"labels": True})
        return sorted(label["id"] for label in post["labels"])

    assert await labels(b) == ["blue", "red"]
    await b.post.update(where={"id": "mm1"}, data={"labels": {"disconnect": [{"id": "red"}]}})
    await wb.sync_once()
    await wa.sync_once()
    assert await labels(a) == ["blue"]
    await a.label.delete(where={"id": "blue"})  # its link goes with it, on the server too
    await wa.sync_once()
    await wb.sync_once()
    assert await labels(b) == [] and await b.label.count() == 1
    # Bob cannot link his post to Alice's label (nor learn it exists): his label with the same
    # key and the link are both rejected, and his client drops them.
    await bob.post.create(data={"id": "bobs", "owner": "bob", "title": "b",
                                "labels": {"create": [{"id": "red", "name": "my red"}]}})
    report = await bob.sync_worker(server.url, token="tb").sync_once()
    assert report["rejected"] == 2 and report["pushed"] == 1
    assert sorted(e["model"] for e in await bob.outbox.rejected()) == ["Label", "_LabelToPost"]
    post = await bob.post.find_unique(where={"id": "bobs"}, include={"labels": True})
    assert post["labels"] == [] and await bob.label.count() == 0
    assert await labels(a) == []  # and nothing reached Alice


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    from pyidb.sync.client import SyncPlugin
    from pyidb.sync.worker import SyncWorker

    worker = SyncWorker(SyncPlugin(), "http://127.0.0.1:9", backoff=(1.0, 20.0))
    for n, full in [(0, 1.0), (1, 2.0), (3, 8.0), (4, 16.0), (5, 20.0), (30, 20.0)]:
        samples = [worker.delay(n) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in samples)
        assert max(samples) - min(samples) > 0  # jittered


def replay(db_path: Path, scope: str) -> dict:
    """The server's changelog replayed from empty, and the server's current records."""
    conn = sqlite3.connect(db_path)
    state: dict = {}
    for model, key, deleted, data in conn.execute(
            "SELECT model, key, deleted, data FROM sync_changelog WHERE scope = ? ORDER BY version",
            (scope,)):
        state[(model, key)] = None if deleted else data
    current = {(m, k): (None if d else data) for m, k, d, data in conn.execute(
        "SELECT model, key, deleted, data FROM sync_records WHERE scope = ?", (scope,))}
    conn.close()
    return {"replayed": state, "current": current}
