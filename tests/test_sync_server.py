"""The sync server's guarantees, through HTTP against a real server process (uvicorn), each test on
SQLite and on PostgreSQL (a throwaway cluster, tests/pg_cluster.py).

Each test drives ``python -m pyidb.sync.server`` with raw protocol requests, so what it proves does
not depend on the client. Faults are injected on purpose: a response thrown away (lost ack), a
SIGKILL, and a pause inside a push transaction (``PYIDB_SYNC_TEST_PAUSE``, see server.pause_hook).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.sync.schemas import BLOG
from tests.sync.server_process import ServerProcess, wait_until

TOKENS = {"ta": "alice", "tb": "bob"}
BASE = {"protocol": 1, "schema_version": 1}


def push(server: ServerProcess, client: str, events: list[dict], token: str = "ta") -> list[dict]:
    r = server.post("/push", {**BASE, "client_id": client, "events": events}, token)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def pull_all(server: ServerProcess, cursor: str | None = None, token: str = "ta",
             limit: int = 500) -> tuple[list[dict], str]:
    changes: list[dict] = []
    while True:
        r = server.post("/pull", {**BASE, "client_id": "reader", "cursor": cursor, "limit": limit}, token)
        assert r.status_code == 200, r.text
        page = r.json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor


def comment(key: str, seq: int, post_id: str, event_id: str = "") -> dict:
    return {"id": event_id or f"cm-{key}-{seq}", "seq": seq, "model": "Comment", "op": "create", "key": key,
            "data": {"id": key, "postId": post_id, "text": "hi"}}


def post_data(key: str, **fields) -> dict:
    return {"id": key, "owner": "alice", "title": f"title {key}", "views": 0, **fields}


def post(key: str, seq: int, **fields) -> dict:
    data = post_data(key, **fields)
    return {"id": f"e-{key}-{seq}", "seq": seq, "model": "Post", "op": "create", "key": key, "data": data}


def update(key: str, seq: int, client: str = "c", base: int | None = None, **fields) -> dict:
    return {"id": f"{client}-u-{seq}", "seq": seq, "model": "Post", "op": "update", "key": key,
            "data": fields, "base_version": base, "after": post_data(key, **fields)}


def delete(key: str, seq: int, client: str = "c", model: str = "Post") -> dict:
    return {"id": f"{client}-d-{seq}", "seq": seq, "model": model, "op": "delete", "key": key, "data": None}


def history(server: ServerProcess, key: str, token: str = "ta", model: str = "Post") -> list[dict]:
    r = server.post("/history", {**BASE, "model": model, "key": key}, token)
    assert r.status_code == 200, r.text
    return r.json()["versions"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    return request.getfixturevalue("sync_pg_database")


@pytest.fixture
def server(tmp_path: Path, db_url: str):
    with ServerProcess(tmp_path, BLOG, tokens=TOKENS, db=db_url) as s:
        yield s


def test_lost_ack_retry_is_applied_once(server: ServerProcess) -> None:
    events = [post("p1", 1), update("p1", 2, views=1), post("p2", 3)]
    first = push(server, "c1", events)  # the answer is "lost": the client never reads it
    again = push(server, "c1", events)  # so it resends the same batch
    assert [r["status"] for r in first] == ["applied", "applied", "applied"]
    assert again == first
    assert len(history(server, "p1")) == 2 and len(history(server, "p2")) == 1
    changes, _ = pull_all(server)
    assert [(c["key"], c["version"]) for c in changes] == [("p1", 2), ("p2", 3)]


def test_events_apply_in_seq_order_and_a_gap_stops_the_batch(server: ServerProcess) -> None:
    results = push(server, "c1", [post("p1", 1), update("p1", 3, title="late"), update("p1", 4, views=2)])
    assert [r["status"] for r in results] == ["applied", "retry"]
    assert "expected 2" in results[1]["reason"]
    # Sent out of order in one batch, they still apply by seq.
    results = push(server, "c1", [update("p1", 3, title="third"), update("p1", 2, title="second")])
    assert [(r["seq"], r["status"]) for r in results] == [(2, "applied"), (3, "applied")]
    assert history(server, "p1")[-1]["record"]["title"] == "third"


def test_the_same_batch_twice_at_once_applies_once(server: ServerProcess) -> None:
    events = [post(f"p{i}", i) for i in range(1, 41)]
    answers: list[list[dict]] = []
    threads = [threading.Thread(target=lambda: answers.append(push(server, "c1", events))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and all(a == answers[0] for a in answers)
    changes, _ = pull_all(server)
    assert sorted(c["version"] for c in changes) == list(range(1, 41))  # 40 changes, no duplicate


def test_a_poison_event_is_rejected_and_does_not_block(server: ServerProcess) -> None:
    results = push(server, "c1", [post("p1", 1), update("p1", 2, views="many"), update("p1", 3, views=3),
                                  update("p1", 4, nope=1), delete("ghost", 5)])
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "rejected", "rejected"]
    assert "Post.views must be a Int" in results[1]["reason"]
    assert "no field 'nope'" in results[3]["reason"]
    assert results[1]["record"]["views"] == 0  # the server's record, for the client to restore
    # Later events go on; the rejected seq answers the same when resent.
    assert push(server, "c1", [update("p1", 6, title="t", views=3)])[0]["status"] == "applied"
    assert push(server, "c1", [update("p1", 2, views="many")])[0] == results[1]
    assert [v["record"]["views"] for v in history(server, "p1")] == [0, 3, 3]


@pytest.mark.parametrize("order", ["a_first", "b_first"])
def test_concurrent_updates_merge_by_field_in_server_order(server: ServerProcess, order: str) -> None:
    push(server, "a", [post("p1", 1)])
    # Both edited version 1 offline: a changed title and body, b changed title and views.
    a = lambda: push(server, "a", [update("p1", 2, "a", base=1, title="from a", body="a body")])  # noqa: E731
    b = lambda: push(server, "b", [update("p1", 1, "b", base=1, title="from b", views=7)])  # noqa: E731
    first, second = (a, b) if order == "a_first" else (b, a)
    assert first()[0]["status"] == "applied"
    answer = second()[0]
    assert answer["status"] == "merged"  # the other's fields are in the record it gets back
    record = history(server, "p1")[-1]["record"]
    assert record["body"] == "a body" and record["views"] == 7  # different fields: both kept
    assert record["title"] == ("from b" if order == "a_first" else "from a")  # same field: the later
    assert answer["record"] == record


@pytest.mark.parametrize("order", ["delete_first", "update_first"])
def test_delete_wins_over_a_concurrent_update(server: ServerProcess, order: str) -> None:
    push(server, "a", [post("p1", 1), comment("k1", 2, "p1")])
    rm = lambda: push(server, "a", [delete("p1", 3, "a")])  # noqa: E731
    up = lambda: push(server, "b", [update("p1", 1, "b", title="edited")])  # noqa: E731
    if order == "delete_first":
        assert rm()[0]["status"] == "applied"
        answer = up()[0]
        assert answer["status"] == "rejected" and answer["reason"].startswith("deleted")
        assert answer["deleted"] is True and answer["record"] is None
    else:
        assert up()[0]["status"] == "applied"
        assert rm()[0]["status"] == "applied"
    changes, _ = pull_all(server)
    assert {(c["model"], c["key"], c["deleted"]) for c in changes} == {("Post", "p1", True),
                                                                        ("Comment", "k1", True)}
    # The key is not reused.
    assert push(server, "a", [post("p1", 4)])[0]["reason"].startswith("deleted")


def test_policies_server_wins_client_wins_strict(tmp_path: Path, db_url: str) -> None:
    policies = {"Post": "server_wins", "Comment": "strict"}
    with ServerProcess(tmp_path, BLOG, tokens=TOKENS, policies=policies, db=db_url) as server:
        push(server, "a", [post("p1", 1), comment("k1", 2, "p1")])
        push(server, "a", [update("p1", 3, "a", base=1, title="a's title")])
        answer = push(server, "b", [update("p1", 1, "b", base=1, title="b's title", views=5)])[0]
        assert answer["status"] == "merged"
        assert answer["record"]["title"] == "a's title" and answer["record"]["views"] == 5
        change = {"seq": 2, "model": "Comment", "op": "update", "key": "k1"}
        assert push(server, "b", [{**change, "id": "b2", "data": {"text": "b"}, "base_version": 2}]
                    )[0]["status"] == "applied"
        stale = push(server, "b", [{**change, "id": "b3", "seq": 3, "data": {"text": "c"},
                                    "base_version": 2}])[0]
        assert stale["status"] == "rejected" and stale["reason"].startswith("conflict")
        assert stale["record"]["text"] == "b"


def test_scope_escape_is_refused_on_push_and_pull(server: ServerProcess) -> None:
    forged = post("p1", 1)
    forged["data"]["owner"] = "bob"  # a forged scope key
    assert push(server, "a", [forged])[0]["record"]["owner"] == "alice"
    push(server, "b", [post("bp", 1)], token="tb")
    # Bob's client cannot touch Alice's record, nor point a Comment at it, nor tell it exists.
    results = push(server, "b", [update("p1", 2, "b", title="pwned"), delete("p1", 3, "b"),
                                 comment("k9", 4, "p1"),
                                 post("p1", 5)], token="tb")
    assert [r["status"] for r in results] == ["rejected"] * 4
    assert all(r["record"] is None for r in results)
    assert "points at no Post in your scope" in results[2]["reason"]
    assert [v["record"]["title"] for v in history(server, "p1")] == ["title p1"]
    assert history(server, "p1", token="tb") == []
    # Alice's client id cannot be used with Bob's token.
    r = server.post("/push", {**BASE, "client_id": "a", "events": []}, "tb")
    assert r.status_code == 403
    # Pull: Bob sees only his record, whatever cursor he sends (guessed, forged, Alice's).
    _, alice_cursor = pull_all(server)
    for cursor in (None, alice_cursor, "0:0", "x", alice_cursor.split(":")[0] + ":1", "zz:99999"):
        changes, _ = pull_all(server, cursor, token="tb")
        assert {c["key"] for c in changes} <= {"bp"}
    changes, _ = pull_all(server, None, token="tb")
    assert [c["key"] for c in changes] == ["bp"]
    assert server.post("/pull", {**BASE, "cursor": None}, "nope").status_code == 401


def test_unknown_or_future_cursor_gets_a_full_resync(server: ServerProcess) -> None:
    push(server, "a", [post("p1", 1), post("p2", 2)])
    _, cursor = pull_all(server)
    r = server.post("/pull", {**BASE, "cursor": cursor}, "ta").json()
    assert r["reset"] is False and r["changes"] == []
    for bad in ("other-epoch:1", cursor.split(":")[0] + ":999", None):
        r = server.post("/pull", {**BASE, "cursor": bad}, "ta").json()
        assert r["reset"] is True and [c["key"] for c in r["changes"]] == ["p1", "p2"]


def test_a_cursor_older_than_pruned_tombstones_gets_a_full_resync(tmp_path: Path, db_url: str) -> None:
    from pyidb.sync.core import SyncServer
    from pyidb.sync.schema import SyncSchema
    from pyidb.sync.store import Store

    with ServerProcess(tmp_path, BLOG, tokens=TOKENS, db=db_url) as server:
        push(server, "a", [post("p1", 1), post("p2", 2)])
        _, old_cursor = pull_all(server)
        push(server, "a", [delete("p1", 3, "a")])
        _, fresh_cursor = pull_all(server)
        # Pruning is an operator's job, done in code next to the running server.
        admin = SyncServer(SyncSchema.parse(BLOG), Store(db_url))
        assert admin.prune("alice", 3) == 1
        admin.store.close()
        r = server.post("/pull", {**BASE, "cursor": old_cursor}, "ta").json()
        assert r["reset"] is True and [c["key"] for c in r["changes"]] == ["p2"]
        r = server.post("/pull", {**BASE, "cursor": fresh_cursor}, "ta").json()
        assert r["reset"] is False and r["changes"] == []


def test_an_older_client_schema_is_told_to_upgrade(tmp_path: Path, db_url: str) -> None:
    with ServerProcess(tmp_path, BLOG, tokens=TOKENS, schema_version=2, db=db_url) as server:
        r = server.post("/pull", {**BASE, "cursor": None}, "ta")
        assert r.status_code == 409 and r.json()["error"] == "upgrade_required"
        r = server.post("/push", {**BASE, "client_id": "a", "events": [post("p1", 1)]}, "ta")
        assert r.status_code == 409
        body = {**BASE, "schema_version": 2, "client_id": "a", "events": [post("p1", 1)]}
        r = server.post("/push", body, "ta")
        assert r.json()["results"][0]["status"] == "applied"


def test_sigkill_mid_batch_then_restart_applies_the_batch_once(tmp_path: Path, db_url: str) -> None:
    pause = tmp_path / "pause"
    pause.mkdir()
    events = [post(f"p{i}", i) for i in range(1, 21)]
    server = ServerProcess(tmp_path, BLOG, tokens=TOKENS, db=db_url,
                           env={"PYIDB_SYNC_TEST_PAUSE": f"10:{pause}"})
    server.start()
    try:
        failed: list[BaseException] = []

        def send() -> None:
            try:
                push(server, "c1", events)
            except Exception as exc:  # the connection dies with the server: the ack is lost
                failed.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        wait_until((pause / "paused").exists)  # 10 of 20 events applied, not committed
        server.kill()
        sender.join()
        assert failed
        server.env = {}
        server.start()
        assert pull_all(server)[0] == []  # nothing of the killed transaction stayed
        results = push(server, "c1", events)  # the client resends the batch
        assert [r["status"] for r in results] == ["applied"] * 20
        changes, _ = pull_all(server)
        assert [c["version"] for c in changes] == list(range(1, 21))
    finally:
        server.stop()


def test_a_pull_racing_a_slow_push_never_skips_its_late_commit(tmp_path: Path, db_url: str) -> None:
    pause = tmp_path / "pause"
    pause.mkdir()
    server = ServerProcess(tmp_path, BLOG, tokens=TOKENS, db=db_url,
                           env={"PYIDB_SYNC_TEST_PAUSE": f"2:{pause}"})
    with server:
        push(server, "c0", [post("p0", 1)])
        _, cursor = pull_all(server)
        batch = [post("p1", 1), post("p2", 2), post("p3", 3)]
        slow = threading.Thread(target=push, args=(server, "c1", batch))
        slow.start()
        wait_until((pause / "paused").exists)  # the slow push holds 2 applied events, uncommitted
        fast = threading.Thread(target=push, args=(server, "c2", [post("q1", 1)]))
        fast.start()  # a second writer of the same scope: it must wait for the first to commit
        page, cursor_during = pull_all(server, cursor)
        assert page == []  # nothing committed yet: the cursor does not move past anything
        (pause / "resume").touch()
        slow.join()
        fast.join()
        late, _ = pull_all(server, cursor_during)
        assert [c["key"] for c in late] == ["p1", "p2", "p3", "q1"]
        assert [c["version"] for c in late] == [2, 3, 4, 5]  # assigned in commit order
