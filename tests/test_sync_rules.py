"""Sync rules at the edges: a pulled delete that a queued local record blocks (onDelete Restrict),
a pruned tombstone's key, and the server's constraint checks staying index lookups as a scope
grows. Real server processes on SQLite (and PostgreSQL where the rule is the server's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import pyidb
from pyidb.model import Schema
from pyidb.sync.client import open_client
from pyidb.sync.core import SyncServer
from pyidb.sync.schema import SyncSchema
from pyidb.sync.store import Store
from tests.sync.server_process import ServerProcess
from tests.test_sync_server import BASE, delete, pull_all, push

TOKENS = {"ta": "alice"}
FILES = """
/// @@scope(owner)
model Folder {
  id    String @id
  owner String
  name  String
  files File[]
}

model File {
  id       String @id
  folderId String
  folder   Folder @relation(fields: [folderId], references: [id])
  name     String
}

/// @@scope(owner)
model Note {
  id    String @id
  owner String
  text  String
}

model Tag {
  id   String @id
  name String @unique
}

/// @@scope(owner)
model Post {
  id       String    @id
  owner    String
  title    String
  comments Comment[]
}

model Comment {
  id     String @id
  postId String
  post   Post   @relation(fields: [postId], references: [id], onDelete: Cascade)
  text   String
}
"""
SCHEMA = Schema.from_prisma(FILES)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    return request.getfixturevalue("sync_pg_database")


async def test_a_pulled_delete_blocked_by_a_queued_restrict_child_waits(tmp_path: Path) -> None:
    """Rule: a pulled delete that a local record still waiting to be pushed would block (onDelete
    Restrict) does not abort the page: it waits (with the rest of the page applied) until that
    record is gone -- the server refuses the record (its parent is deleted), and its answer
    removes it; then the delete applies."""
    with ServerProcess(tmp_path, FILES, tokens=TOKENS) as server:
        a = await open_client("a", SCHEMA, factory=pyidb.factory("memory:"))
        b = await open_client("b", SCHEMA, factory=pyidb.factory("memory:"))
        wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
        await a.folder.create(data={"id": "f1", "owner": "alice", "name": "docs"})
        await wa.sync_once()
        await wb.sync_once()
        await b.file.create(data={"id": "x1", "folderId": "f1", "name": "draft"})  # queued only
        await a.folder.delete(where={"id": "f1"})
        await a.note.create(data={"id": "n1", "owner": "alice", "text": "same page"})
        await wa.sync_once()

        report = await wb.pull()  # before the rule: ForeignKeyViolationError, the page lost
        assert report["pulled"] == 2
        assert await b.note.find_unique(where={"id": "n1"}) is not None  # the page was applied
        assert await b.folder.count() == 1 and await b.file.count() == 1  # the delete waits

        await wb.sync_once()  # x1 is refused (no folder f1 any more); then f1's delete applies
        assert [e["key"] for e in await b.outbox.rejected()] == ["x1"]
        assert await b.file.count() == 0 and await b.folder.count() == 0
        assert await b.note.count() == 1
        await wb.transport.aclose()
        await wa.transport.aclose()


def test_a_pruned_key_cannot_be_created_again(tmp_path: Path, db_url: str) -> None:
    """A pruned tombstone keeps its key taken: an old create of that key (from a client that
    never saw the delete) is rejected like any create on a deleted key, and no pull returns it."""
    with ServerProcess(tmp_path, FILES, tokens=TOKENS, db=db_url) as server:
        note = {"id": "e1", "seq": 1, "model": "Note", "op": "create", "key": "n1",
                "data": {"id": "n1", "owner": "alice", "text": "first"}}
        assert push(server, "a", [note])[0]["status"] == "applied"
        assert push(server, "a", [delete("n1", 2, "a", model="Note")])[0]["status"] == "applied"
        admin = SyncServer(SyncSchema.parse(FILES), Store(db_url))
        assert admin.prune("alice", 2) == 1
        admin.store.close()
        old = {**note, "id": "e2", "data": {**note["data"], "text": "resurrected?"}}
        answer = push(server, "b", [old])[0]
        assert answer["status"] == "rejected" and answer["reason"].startswith("deleted")
        changes, _ = pull_all(server)
        assert changes == []  # neither the record nor the pruned tombstone


def _vm_steps(store: Store, fn) -> int:
    """SQLite virtual machine steps run by ``fn()`` (grows with the rows a statement visits)."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn = store._conn()
    conn.set_progress_handler(count, 10)
    try:
        fn()
    finally:
        conn.set_progress_handler(None, 10)
    return steps[0]


def _checks_steps(path: Path, size: int) -> tuple[int, int]:
    """VM steps of a refused unique create and of a cascading delete in a scope that holds
    ``size`` other tags and ``size`` comments of another post."""
    store = Store(f"sqlite:///{path}")
    server = SyncServer(SyncSchema.parse(FILES), store)
    seq = iter(range(1, 1_000_000))

    def event(model: str, key: str, data: dict | None, op: str = "create") -> dict:
        return {"id": f"e{key}{op}", "seq": next(seq), "model": model, "op": op, "key": key, "data": data}

    def send(*events: dict) -> list[dict]:
        return server.push("alice", {**BASE, "client_id": "c", "events": list(events)})["results"]

    filler = [event("Tag", f"t{i}", {"id": f"t{i}", "name": f"tag {i}"}) for i in range(size)]
    filler += [event("Post", "p0", {"id": "p0", "owner": "alice", "title": "other"})]
    filler += [event("Comment", f"c{i}", {"id": f"c{i}", "postId": "p0", "text": "x"}) for i in range(size)]
    filler += [event("Post", "p1", {"id": "p1", "owner": "alice", "title": "mine"}),
               event("Comment", "k1", {"id": "k1", "postId": "p1", "text": "y"})]
    assert all(r["status"] == "applied" for r in send(*filler))

    results: list[dict] = []
    dup = event("Tag", "dup", {"id": "dup", "name": "tag 7"})
    unique = _vm_steps(store, lambda: results.extend(send(dup)))
    cascade = _vm_steps(store, lambda: results.extend(send(event("Post", "p1", None, "delete"))))
    assert results[0]["status"] == "rejected" and "ConstraintError" in results[0]["reason"]
    assert results[1]["status"] == "applied"
    deleted = [c["key"] for c in server.pull("alice", {**BASE, "cursor": None, "limit": 5000})["changes"]
               if c["deleted"]]
    assert deleted == ["k1", "p1"]  # the cascade took the one comment of p1, no other
    store.close()
    return unique, cascade


def test_constraint_and_ondelete_checks_are_index_lookups(tmp_path: Path) -> None:
    """A unique check and a cascade visit the rows they need, not the whole scope: the work of
    one push does not grow with the scope's other records (it did when they were scanned in
    Python: ~100x from 20 to 2,000 records)."""
    u_small, c_small = _checks_steps(tmp_path / "small.db", 20)
    u_big, c_big = _checks_steps(tmp_path / "big.db", 2000)
    # 100x the other records: the steps may grow with the B-tree depth, not with the count.
    assert u_big < 3 * u_small and c_big < 3 * c_small, (u_small, u_big, c_small, c_big)


def test_sqlite_progress_handler_counts_visited_rows(tmp_path: Path) -> None:
    """The measure used above sees a scan: a full scan of 2,000 rows takes far more steps than an
    index lookup (so a check that scanned would fail the test above)."""
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(f"k{i}", f"v{i}") for i in range(2000)])
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 100)
    conn.execute("SELECT v FROM t WHERE k = 'k7'").fetchall()
    lookup, steps[0] = steps[0], 0
    conn.execute("SELECT v FROM t WHERE v = 'v7'").fetchall()
    assert steps[0] > 20 * max(lookup, 1)
    conn.close()


async def test_pipelined_batches_keep_order_and_exactly_once_when_an_answer_is_lost(tmp_path: Path) -> None:
    """The next batch is sent while the previous one's answers are stored. When that batch's
    answer is lost after the server committed it, its events stay queued with their seqs, the
    events after it were never sent, and the retry applies every event once, in order."""
    from pyidb.sync.transport import HttpTransport, TransportError

    class LoseSecondPushAnswer(HttpTransport):
        pushes = 0

        async def post(self, path: str, body: dict) -> dict:
            answer = await super().post(path, body)
            if path == "/push":
                LoseSecondPushAnswer.pushes += 1
                if LoseSecondPushAnswer.pushes == 2:
                    raise TransportError("injected: the answer was lost after the server committed")
            return answer

    with ServerProcess(tmp_path, FILES, tokens=TOKENS) as server:
        client = await open_client("pipe", SCHEMA, factory=pyidb.factory("memory:"))
        for i in range(7):
            await client.note.create(data={"id": f"n{i}", "owner": "alice", "text": f"t{i}"})
        await client.note.update(where={"id": "n0"}, data={"text": "edited"})  # event 8, after n0's
        worker = client.sync_worker(LoseSecondPushAnswer(server.url, token="ta"), batch_size=2,
                                    max_retries=0)
        with pytest.raises(TransportError):
            await worker.push()
        stats = await client.outbox.stats()
        assert stats["synced"] == 2 and stats["failed"] == 2 and stats["pending"] == 4
        report = await worker.push()
        assert report["pushed"] == 8 - 2  # the lost batch is answered from the server's record
        assert await client.outbox.stats() == {"pending": 0, "in_flight": 0, "failed": 0, "rejected": 0,
                                               "synced": 8}
        changes, _ = pull_all(server)
        assert sorted((c["key"], c["record"]["text"]) for c in changes) == \
            [("n0", "edited"), *[(f"n{i}", f"t{i}") for i in range(1, 7)]]
        for i in range(7):  # each create applied once; n0 also its update, after it
            answer = server.post("/history", {**BASE, "model": "Note", "key": f"n{i}"}, "ta").json()
            versions = answer["versions"]
            assert [v["record"]["text"] for v in versions] == (["t0", "edited"] if i == 0 else [f"t{i}"])
        await worker.transport.aclose()


TREE = """
/// @@scope(owner)
model Node {
  id       String  @id
  owner    String
  parentId String?
  parent   Node?   @relation("tree", fields: [parentId], references: [id], onDelete: Cascade)
  children Node[]  @relation("tree")
}
"""


async def test_records_that_point_at_each_other_sync_and_cascade_once(tmp_path: Path) -> None:
    """Two records that are each other's parent (onDelete Cascade): a pull lands both (each
    waited for the other before), a delete takes both in the model client and on the server (one
    tombstone each; both recursed without end before), and the other client follows."""
    with ServerProcess(tmp_path, TREE, tokens=TOKENS) as server:
        schema = Schema.from_prisma(TREE)
        a = await open_client("tree-a", schema, factory=pyidb.factory("memory:"))
        b = await open_client("tree-b", schema, factory=pyidb.factory("memory:"))
        wa, wb = a.sync_worker(server.url, token="ta"), b.sync_worker(server.url, token="ta")
        await a.node.create(data={"id": "n1", "owner": "alice"})
        await a.node.create(data={"id": "n2", "owner": "alice", "parentId": "n1"})
        await a.node.update(where={"id": "n1"}, data={"parentId": "n2"})  # n1 <-> n2
        await wa.sync_once()
        await wb.sync_once()
        for client in (a, b):  # a too: its first pull is a full resync that brings its own back
            nodes = await client.node.find_many(order={"id": "asc"})
            assert [(n["id"], n["parentId"]) for n in nodes] == [("n1", "n2"), ("n2", "n1")]
        await a.node.delete(where={"id": "n1"})  # the model client's own cascade: both go
        assert await a.node.count() == 0
        report = await wa.sync_once()
        assert report["pushed"] >= 1 and report["rejected"] == 0
        changes, _ = pull_all(server)
        assert sorted((c["key"], c["deleted"]) for c in changes) == [("n1", True), ("n2", True)]
        history = server.post("/history", {**BASE, "model": "Node", "key": "n2"}, "ta").json()["versions"]
        assert [v["deleted"] for v in history][-1] is True and sum(v["deleted"] for v in history) == 1
        await wb.sync_once()
        assert await b.node.count() == 0
        await wa.transport.aclose()
        await wb.transport.aclose()


def test_the_index_table_is_built_for_an_existing_database(tmp_path: Path) -> None:
    """A database written before ``sync_index`` existed (or with another schema) gets it built
    when a server opens it: the unique check still sees the records written before."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    server = SyncServer(SyncSchema.parse(FILES), Store(url))
    tag = {"id": "e1", "seq": 1, "model": "Tag", "op": "create", "key": "t1",
           "data": {"id": "t1", "name": "x"}}
    first = server.push("alice", {**BASE, "client_id": "c", "events": [tag]})["results"][0]
    assert first["status"] == "applied"
    server.store.close()
    conn = sqlite3.connect(tmp_path / "server.db")  # as an older server left it
    conn.execute("DROP TABLE sync_index")
    conn.execute("DELETE FROM sync_meta WHERE name = 'index_layout'")
    conn.commit()
    conn.close()
    server = SyncServer(SyncSchema.parse(FILES), Store(url))
    dup = {**tag, "id": "e2", "seq": 2, "key": "t2", "data": {"id": "t2", "name": "x"}}
    answer = server.push("alice", {**BASE, "client_id": "c", "events": [dup]})["results"][0]
    assert answer["status"] == "rejected" and "ConstraintError" in answer["reason"]
    server.store.close()
