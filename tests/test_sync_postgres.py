"""Two sync server processes on one PostgreSQL serving one scope at once: no change lost or
applied twice, and the scope's versions strictly increasing with no gap, in commit order."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.sync.schemas import BLOG
from tests.sync.server_process import ServerProcess
from tests.test_sync_server import BASE, TOKENS, post, pull_all, push


def test_two_servers_one_postgresql_one_scope(tmp_path: Path, sync_pg_database: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with ServerProcess(tmp_path / "a", BLOG, tokens=TOKENS, db=sync_pg_database) as a, \
            ServerProcess(tmp_path / "b", BLOG, tokens=TOKENS, db=sync_pg_database) as b:
        errors: list[BaseException] = []
        cursors: list[str] = []

        def client(n: int) -> None:
            try:
                for batch in range(4):  # each batch to the other server, and every batch twice
                    events = [post(f"c{n}-{batch}-{i}", batch * 10 + i + 1) for i in range(10)]
                    first = push((a, b)[batch % 2], f"client{n}", events)
                    again = push((b, a)[batch % 2], f"client{n}", events)
                    assert first == again and all(r["status"] == "applied" for r in first)
                    cursors.append(pull_all((a, b)[n % 2], None)[1])  # readers race the writers
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        changes, _ = pull_all(a)
        assert len(changes) == 160 and len({c["key"] for c in changes}) == 160
        assert [c["version"] for c in changes] == list(range(1, 161))
        # A cursor taken by any reader mid-run, continued on either server, misses nothing: the
        # changes after it are exactly those with a higher version.
        for cursor in cursors:
            after, _ = pull_all(b, cursor)
            since = int(cursor.rsplit(":", 1)[1])
            assert [c["version"] for c in after] == list(range(since + 1, 161))
        r = b.post("/history", {**BASE, "model": "Post", "key": "c0-0-0"}, "ta").json()
        assert len(r["versions"]) == 1
