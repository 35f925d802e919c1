"""The PostgreSQL storage on a real (throwaway) cluster: seeks, snapshots, locks, failures.

The Storage contract itself runs on PostgreSQL in test_storage.py and the whole conformance
suite in tests/conformance (conftest.py's ``postgresql`` factory); this file proves what only
PostgreSQL needs: index seeks, cross-connection locking and snapshots, schema checks, a dead
client's transaction, a lost connection, keys at the index size limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

import pyidb
from pyidb.engine.storage.postgresql import FORMAT_VERSION, PostgreSQLStorage, check_schema_name
from pyidb.errors import DataError, InvalidArgumentError, InvalidStateError, UnknownError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def where(pg_url: str) -> tuple[str, str]:
    base, schema = pg_url.split("?schema=")
    return base, schema


@pytest.fixture
def storage(where: tuple[str, str]) -> Iterator[PostgreSQLStorage]:
    s = PostgreSQLStorage(where[0], schema=where[1], timeout=2)
    yield s
    s.close()


def fill(s: PostgreSQLStorage, n: int, tree: int = 1) -> None:
    s.begin_write()
    s.put_many(tree, [(i.to_bytes(4, "big"), b"v") for i in range(n)])
    s.commit()


def test_ranges_and_counts_are_primary_key_index_scans(storage: PostgreSQLStorage, where) -> None:
    fill(storage, 20000)
    fill(storage, 200, tree=2)
    with psycopg.connect(where[0], autocommit=True) as conn:
        conn.execute(f"ANALYZE {where[1]}.kv")  # real statistics: the planner could pick anything
    for reverse in (False, True):
        plan = "\n".join(storage.query_plan(1, (5).to_bytes(4, "big"), (900).to_bytes(4, "big"), reverse))
        assert "Index" in plan and "kv_pkey" in plan, plan
        assert "Seq Scan" not in plan and "Sort" not in plan, plan
    plan = "\n".join(storage.query_plan(1, None, None))
    assert "kv_pkey" in plan and "Sort" not in plan, plan


def test_readonly_view_is_one_snapshot(storage: PostgreSQLStorage, where) -> None:
    fill(storage, 3)
    view = storage.begin_read()
    assert view.count(1) == 3
    other = PostgreSQLStorage(where[0], schema=where[1])
    try:
        other.begin_write()
        other.put(1, b"\xff", b"new")
        other.delete(1, (0).to_bytes(4, "big"))
        other.commit()
        # Committed by another connection after the view started: the view does not see it.
        assert view.count(1) == 3 and view.get(1, b"\xff") is None
        assert next(k for k, _ in view.scan(1)) == (0).to_bytes(4, "big")
        storage.end_read(view)
        fresh = storage.begin_read()
        assert fresh.count(1) == 3 and fresh.get(1, b"\xff") == b"new"
        storage.end_read(fresh)
    finally:
        other.close()


def test_writers_of_one_schema_exclude_each_other(storage: PostgreSQLStorage, where) -> None:
    other = PostgreSQLStorage(where[0], schema=where[1], timeout=0.3)
    elsewhere = PostgreSQLStorage(where[0], schema=where[1] + "_b", timeout=0.3)
    try:
        storage.begin_write()
        assert other.try_begin_write() is False
        with pytest.raises(UnknownError, match="write lock"):
            other.begin_write()  # waits 0.3 s for the lock, then gives up
        assert elsewhere.try_begin_write() is True  # another schema: its own lock
        elsewhere.rollback()
        storage.put(1, b"a", b"1")
        storage.commit()
        assert other.try_begin_write() is True
        assert other.get(1, b"a") == b"1"
        other.rollback()
    finally:
        other.close()
        elsewhere.drop()


def test_a_killed_writer_leaves_nothing_and_frees_the_lock(storage: PostgreSQLStorage, where) -> None:
    child = (
        "import os, sys\n"
        "from pyidb.engine.storage.postgresql import PostgreSQLStorage\n"
        "s = PostgreSQLStorage(sys.argv[1], schema=sys.argv[2])\n"
        "s.begin_write(); s.put(1, b'half', b'x'); s.put(1, b'done', b'y')\n"
        "print('locked', flush=True); sys.stdin.readline(); os._exit(9)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child, *where], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "locked"
    assert storage.try_begin_write() is False  # the child holds the lock mid-transaction
    proc.stdin.close()
    assert proc.wait(timeout=30) == 9
    storage.begin_write()  # PostgreSQL ended the dead session: the lock is free
    assert storage.get(1, b"half") is None and storage.get(1, b"done") is None
    storage.rollback()


def test_oversized_key_fails_alone_with_data_error(storage: PostgreSQLStorage) -> None:
    huge = os.urandom(9000)  # incompressible: over PostgreSQL's ~2.7 KB index entry limit
    storage.begin_write()
    storage.put(1, b"before", b"1")
    with pytest.raises(DataError, match="too long"):
        storage.put(1, huge, b"x")
    with pytest.raises(DataError, match="too long"):
        storage.put_many(1, [(b"ok", b"2"), (huge, b"x")])
    storage.put(1, b"after", b"3")  # the transaction goes on
    storage.commit()
    assert [k for k, _ in storage.scan(1)] == [b"after", b"before"]


async def test_oversized_key_through_the_api_is_a_data_error_and_the_transaction_continues(pg_url):
    f = pyidb.factory(pg_url)
    async with await f.open("big", 1, upgrade=lambda db, *_: db.create_object_store("s")) as db:
        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            await store.put("a", 1)
            with pytest.raises(pyidb.DataError):
                await store.put("b", os.urandom(6000))
            await store.put("c", 3)
        assert await db.get_all_keys("s") == [1, 3]
    f.close()


def refuse_key_boom(where) -> None:
    """A fault injected on purpose: a trigger makes PostgreSQL refuse the key b"boom"."""
    with psycopg.connect(where[0], autocommit=True) as conn:
        conn.execute(
            f"CREATE FUNCTION {where[1]}.boom() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN IF NEW.key = '\\x626f6f6d'::bytea THEN RAISE EXCEPTION 'injected'; END IF; "
            "RETURN NEW; END$$"
        )
        conn.execute(f"CREATE TRIGGER boom BEFORE INSERT ON {where[1]}.kv "
                     f"FOR EACH ROW EXECUTE FUNCTION {where[1]}.boom()")


def test_failed_statement_poisons_the_transaction_clearly(storage: PostgreSQLStorage, where) -> None:
    refuse_key_boom(where)
    storage.begin_write()
    storage.put(1, b"a", b"1")
    storage.put(1, b"boom", b"2")  # buffered: the read that needs it sends it
    with pytest.raises(UnknownError, match="injected"):
        storage.count(1)
    with pytest.raises(UnknownError, match="rolled it back"):
        storage.put(1, b"c", b"3")
    with pytest.raises(UnknownError, match="rolled it back"):
        storage.get(1, b"a")
    with pytest.raises(UnknownError, match="rolled it back"):
        storage.commit()
    assert not storage.in_write
    assert storage.get(1, b"a") is None  # nothing of it was kept
    fill(storage, 1)  # and the storage works again
    assert storage.count(1) == 1


def test_a_write_refused_at_commit_keeps_nothing(storage: PostgreSQLStorage, where) -> None:
    # The same injected fault, met by the commit that sends the buffered writes.
    refuse_key_boom(where)
    storage.begin_write()
    storage.put(2, b"a", b"1")
    storage.put(1, b"boom", b"2")
    with pytest.raises(UnknownError, match="injected"):
        storage.commit()
    assert not storage.in_write
    assert storage.count(1) == 0 and storage.count(2) == 0
    fill(storage, 1)
    assert storage.count(1) == 1


def test_lost_connection_between_transactions_reconnects(storage: PostgreSQLStorage, where) -> None:
    fill(storage, 2)
    with psycopg.connect(where[0], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (storage._conn.info.backend_pid,))
    with pytest.raises(UnknownError, match="connection"):
        storage.get(1, b"x")
    storage.begin_write()  # a fresh connection
    storage.put(1, b"x", b"1")
    storage.commit()
    assert storage.count(1) == 3


def test_lost_connection_mid_transaction_keeps_nothing(storage: PostgreSQLStorage, where) -> None:
    storage.begin_write()
    storage.put(1, b"gone", b"1")
    with psycopg.connect(where[0], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (storage._conn.info.backend_pid,))
    storage.put(1, b"gone2", b"1")  # buffered; the commit sends it and finds the connection gone
    with pytest.raises(UnknownError, match="connection"):
        storage.commit()
    assert not storage.in_write
    other = PostgreSQLStorage(where[0], schema=where[1])
    assert other.get(1, b"gone") is None and other.get(1, b"gone2") is None
    other.close()


def test_foreign_schema_is_refused_untouched(where) -> None:
    base, schema = where
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.kv (x int)")
        conn.execute(f"INSERT INTO {schema}.kv VALUES (7)")
        with pytest.raises(UnknownError, match="not pyidb's"):
            PostgreSQLStorage(base, schema=schema)
        assert conn.execute(f"SELECT x FROM {schema}.kv").fetchall() == [(7,)]


def test_newer_format_is_refused(storage: PostgreSQLStorage, where) -> None:
    storage.close()
    with psycopg.connect(where[0], autocommit=True) as conn:
        conn.execute(f"UPDATE {where[1]}.meta SET value=%s WHERE name='format_version'",
                     (str(FORMAT_VERSION + 1),))
    with pytest.raises(UnknownError, match="newer pyidb"):
        PostgreSQLStorage(where[0], schema=where[1])


def test_closed_storage_and_bad_server() -> None:
    with pytest.raises(UnknownError, match="cannot connect"):
        PostgreSQLStorage("postgresql://nobody:secret@127.0.0.1:1/x", timeout=1)
    try:
        PostgreSQLStorage("postgresql://nobody:secret@127.0.0.1:1/x", timeout=1)
    except UnknownError as exc:
        assert "secret" not in str(exc)  # never a password in a message


@pytest.mark.parametrize(
    "name", ["public", "pg_catalog", "pg_toast", "information_schema", "", "A", "1a", "a-b", "a" * 64, "a\0"]
)
def test_schema_names_are_checked(name: str) -> None:
    with pytest.raises(InvalidArgumentError):
        check_schema_name(name)


def test_factory_url_schema_parameter(pg_server, where) -> None:
    with pytest.raises(InvalidArgumentError, match="reserved"):
        pyidb.factory(f"{pg_server.url}?schema=public")
    with pytest.raises(InvalidArgumentError, match="one schema"):
        pyidb.factory(f"{pg_server.url}?schema=a&schema=b")
    f = pyidb.factory(f"{where[0]}?schema={where[1]}&application_name=pyidbtest")
    assert f is pyidb.factory(f"{where[0]}?schema={where[1]}&application_name=pyidbtest")
    assert f.storage.schema == where[1]  # type: ignore[attr-defined]
    f.close()
    with pytest.raises(InvalidStateError):
        f.storage.begin_write()  # type: ignore[attr-defined]


async def test_a_scope_is_a_schema_of_its_own(pg_url, where) -> None:
    f = pyidb.factory(pg_url)
    scope = f"hub{os.getpid()}"
    hub = f.scoped(scope, object_stores=["tasks"])
    async with await hub.open("main", 1, upgrade=lambda db, *_: db.create_object_store("tasks")) as db:
        await db.put("tasks", "x", 1)
    with psycopg.connect(where[0], autocommit=True) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT name FROM (SELECT convert_from(substring(key from 2), 'UTF8') AS name FROM "
            f"{scope}.kv WHERE tree=0 AND key >= '\\x44'::bytea AND key < '\\x45'::bytea) d"
        ).fetchall()}
        assert names == {"main"}  # the scope's own catalog, with the plain database name
        assert conn.execute(f"SELECT count(*) FROM {where[1]}.kv WHERE tree=0 AND key >= '\\x44'::bytea "
                            "AND key < '\\x45'::bytea").fetchone()[0] == 0  # nothing in the host's
        conn.execute(f"DROP SCHEMA {scope} CASCADE")
    with pytest.raises(InvalidArgumentError, match="share the tables"):
        f.scoped(where[1])  # the unscoped factory's own schema
    f.close()


async def test_hundreds_of_concurrent_transactions_keep_the_loop_responsive(pg_url, where) -> None:
    """Another connection holds the schema's write lock; 200 readwrite transactions wait for it
    (on the event loop, never blocking it) while 100 readonly ones and a ticker task go on. Then
    the lock is released and every writer's increment is there exactly once."""
    import asyncio

    f = pyidb.factory(pg_url)
    def up(db, *_):  # writers use "s"; readers "r" (overlapping readers would queue behind them)
        db.create_object_store("s")
        db.create_object_store("r")

    async with await f.open("busy", 1, upgrade=up) as db:
        await db.put("s", 0, "n")
        await db.put("r", 0, "n")
        holder = PostgreSQLStorage(where[0], schema=where[1])
        holder.begin_write()  # another process writing for a while
        try:
            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    await asyncio.sleep(0.01)
                    ticks += 1

            async def write() -> None:
                async with db.transaction("s", "readwrite") as tx:
                    store = tx.object_store("s")
                    await store.put(await store.get("n") + 1, "n")

            async def read() -> int:
                async with db.transaction("r") as tx:
                    return await tx.object_store("r").get("n")

            tick_task = asyncio.create_task(ticker())
            writers = [asyncio.create_task(write()) for _ in range(200)]
            reads = await asyncio.gather(*(read() for _ in range(100)))
            assert reads == [0] * 100  # readers ran while every writer waited for the lock
            assert not any(w.done() for w in writers)
            before = ticks
            while ticks < before + 5:  # the loop keeps turning while the writers wait
                await asyncio.sleep(0.01)
        finally:
            holder.rollback()
            holder.close()
        await asyncio.gather(*writers)
        stop.set()
        await tick_task
        assert await db.get("s", "n") == 200
    f.close()
