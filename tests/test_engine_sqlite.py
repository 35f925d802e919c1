"""CPython-only: the engine on a durable storage (an SQLite file, a PostgreSQL schema): durability,
what the file holds, several processes.

Each multi-process test runs small Python programs in subprocesses on one database file (the
README says the SQLite backend is "durable, crash-safe, shareable by several processes"). A
child that must overlap another waits for a line on stdin, so both start writing together.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import pyidb
from pyidb.key_encoding import decode_key

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYIDB_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def run_child(code: str, *args: str) -> Any:
    """Run ``code`` (sys.argv[1:] = args) in a fresh interpreter; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_gated(code: str, *args: str) -> subprocess.Popen[str]:
    """Start a child that prints "ready" then waits for a line on stdin before its main work."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "ready", (line, proc.stderr.read() if proc.stderr else "")
    return proc


def release(procs: list[subprocess.Popen[str]]) -> list[Any]:
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    notes = db.create_object_store("notes", key_path="id", auto_increment=True)
    notes.create_index("by_tag", "tags", multi_entry=True)
    notes.create_index("by_slug", "slug", unique=True)
    db.create_object_store("kv")


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "shared.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, path: str) -> str:
    """A durable storage several processes share: an SQLite file, or a PostgreSQL schema."""
    return f"sqlite:///{path}" if request.param == "sqlite" else request.getfixturevalue("pg_url")


async def _create(url: str) -> pyidb.Factory:
    f = pyidb.factory(url)
    async with await f.open("app", 1, upgrade=_upgrade) as db:
        await db.put("kv", 0, "counter")
    return f


# -- one process writes, another reads ---------------------------------------------------------
async def test_committed_data_is_read_by_another_process(url):
    f = await _create(url)
    async with await f.open("app") as db:
        async with db.transaction(["notes", "kv"], "readwrite") as tx:
            notes = tx.object_store("notes")
            await notes.add({"slug": "a", "tags": ["x", "y"], "n": 1.5})
            await notes.add({"slug": "b", "tags": ["y"], "blob": b"\x00\xff"})
            await tx.object_store("kv").put({"nested": [1, {"deep": None}]}, ["compound", 2])
    # The writing factory stays open: the reader must see committed data, not wait for close.
    out = run_child(
        """
        import asyncio, json, sys, pyidb
        async def main(url):
            async with await pyidb.factory(url).open("app") as db:
                tx = db.transaction(["notes", "kv"])
                notes = tx.object_store("notes")
                return {
                    "version": db.version, "stores": db.object_store_names,
                    "indexes": notes.index_names,
                    "notes": await notes.get_all(),
                    "y": await notes.index("by_tag").get_all_keys("y"),
                    "b": await notes.index("by_slug").get_key("b"),
                    "kv": await tx.object_store("kv").get(["compound", 2]),
                }
        out = asyncio.run(main(sys.argv[1]))
        out["notes"][1]["blob"] = out["notes"][1]["blob"].hex()
        print(json.dumps(out))
        """,
        url,
    )
    assert out == {
        "version": 1, "stores": ["kv", "notes"], "indexes": ["by_slug", "by_tag"],
        "notes": [
            {"slug": "a", "tags": ["x", "y"], "n": 1.5, "id": 1},
            {"slug": "b", "tags": ["y"], "blob": "00ff", "id": 2},
        ],
        "y": [1, 2], "b": 2, "kv": {"nested": [1, {"deep": None}]},
    }
    f.close()


async def test_reopen_keeps_key_generator_schema_and_unique_rule(url):
    run_child(
        """
        import asyncio, json, sys, pyidb
        def up(db, old, new, tx):
            notes = db.create_object_store("notes", key_path="id", auto_increment=True)
            notes.create_index("by_slug", "slug", unique=True)
            notes.create_index("by_tag", "tags", multi_entry=True)
            db.create_object_store("plain", auto_increment=True)
        async def main(url):
            db = await pyidb.factory(url).open("app", 3, upgrade=up)
            for slug in "abc":
                await db.add("notes", {"slug": slug, "tags": [slug, "all"]})
            await db.put("notes", {"slug": "ten", "id": 10})      # bumps the generator to 11
            await db.add("plain", "p1")
            await db.add("plain", "p2", 7.5)                       # bumps to 8
            db.close()
        asyncio.run(main(sys.argv[1]))
        print("{}")
        """,
        url,
    )
    f = pyidb.factory(url)
    async with await f.open("app") as db:
        assert db.version == 3
        assert db.object_store_names == ["notes", "plain"]
        tx = db.transaction(["notes", "plain"], "readwrite")
        notes = tx.object_store("notes")
        assert (notes.key_path, notes.auto_increment) == ("id", True)
        assert notes.index_names == ["by_slug", "by_tag"]
        assert notes.index("by_slug").unique and not notes.index("by_slug").multi_entry
        assert notes.index("by_tag").multi_entry and not notes.index("by_tag").unique
        assert tx.object_store("plain").key_path is None
        assert await notes.add({"slug": "d"}) == 11  # the generator continues
        assert await tx.object_store("plain").add("p3") == 8
        with pytest.raises(pyidb.ConstraintError):
            await notes.add({"slug": "a"})  # the unique index still holds after reopen
        assert await notes.index("by_tag").count("all") == 3
        await tx.done
    f.close()


async def test_aborted_transactions_leave_no_trace_after_reopen(url):
    f = await _create(url)
    async with await f.open("app") as db:
        await db.add("notes", {"slug": "kept", "tags": ["k"]})
        # An explicit abort, after writes and key generation.
        tx = db.transaction(["notes", "kv"], "readwrite")
        await tx.object_store("notes").add({"slug": "gone1", "tags": ["g"]})
        await tx.object_store("kv").put("gone", "k1")
        tx.abort()
        with pytest.raises(pyidb.AbortError):
            await tx.done
        # An exception escaping the block.
        with pytest.raises(RuntimeError):
            async with db.transaction(["notes", "kv"], "readwrite") as tx:
                await tx.object_store("notes").add({"slug": "gone2", "tags": ["g"]})
                await tx.object_store("kv").delete("counter")
                raise RuntimeError("boom")
        # A failed request nobody caught (a unique-index violation).
        with pytest.raises(pyidb.ConstraintError):
            async with db.transaction("notes", "readwrite") as tx:
                await tx.object_store("notes").add({"slug": "gone3"})
                await tx.object_store("notes").add({"slug": "kept"})
    f.close()
    out = run_child(
        """
        import asyncio, json, sys, pyidb
        async def main(url):
            async with await pyidb.factory(url).open("app") as db:
                return {
                    "notes": await db.get_all("notes"),
                    "kv": await db.get_all_keys("kv"),
                    "counter": await db.get("kv", "counter"),
                    "g": await db.count_from_index("notes", "by_tag", "g"),
                    "next": await db.add("notes", {"slug": "next"}),
                }
        print(json.dumps(asyncio.run(main(sys.argv[1]))))
        """,
        url,
    )
    # Spec 2.11: an aborted transaction also rolls back its key generator changes.
    assert out == {
        "notes": [{"slug": "kept", "tags": ["k"], "id": 1}],
        "kv": ["counter"], "counter": 0, "g": 0, "next": 2,
    }


# -- what the file holds ----------------------------------------------------------------------
async def test_the_file_holds_only_json_values_and_binary_keys(path):
    import datetime

    f = await _create(f"sqlite:///{path}")
    async with await f.open("app") as db:
        await db.add("notes", {
            "slug": "all-types", "tags": ["t1", "t2"], "bytes": b"\x80\x04\x95pickle?",
            "when": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC), "nan": float("nan"),
            "big": 2**70, "neg": -1.25, "tuple": (1, "2"), "$t": "looks like a tag", "none": None,
        })
        await db.put("kv", [b"bin", 1.5, "s"], [b"\x00key", 3])
    f.close()

    conn = sqlite3.connect(path)
    try:
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        assert tables == ["kv", "meta"]
        rows = conn.execute("SELECT tree, key, value FROM kv ORDER BY tree, key").fetchall()
    finally:
        conn.close()
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for _, k, v in rows)
    catalog = {k: v for t, k, v in rows if t == 0}
    schema = json.loads(catalog[b"Dapp"])
    store_trees = {s["tree"] for s in schema["stores"].values()}
    index_trees = {i["tree"] for s in schema["stores"].values() for i in s["indexes"].values()}
    assert store_trees and index_trees
    seen_store_rows = seen_index_rows = 0
    for tree, key, value in rows:
        assert b"\x80\x04\x95" not in value[:3] and not value.startswith(b"\x80")  # no pickle header
        if tree == 0:
            json.loads(value)  # catalog entries and generator numbers are JSON text
        elif tree in store_trees:
            decode_key(key)  # a primary key in the binary key encoding
            doc = json.loads(value.decode("utf-8", "surrogatepass"))
            assert isinstance(doc, (dict, list, str, int, float)) or doc is None
            seen_store_rows += 1
        else:
            assert tree in index_trees, f"a row in tree {tree} that no store or index owns"
            assert decode_key(value) is not None  # index rows point at a primary key
            seen_index_rows += 1
    assert seen_store_rows == 3  # the note, "counter" and the compound-key kv record
    assert seen_index_rows == 3  # two tags + one slug


# -- durability option ------------------------------------------------------------------------
async def test_durability_values_on_sqlite(path):
    f = await _create(f"sqlite:///{path}")
    async with await f.open("app") as db:
        for i, durability in enumerate(("relaxed", "strict", "default", "relaxed")):
            async with db.transaction("kv", "readwrite", durability=durability) as tx:
                assert tx.durability == durability
                await tx.object_store("kv").put(durability, i)
            # White-box: relaxed commits skip the fsync (synchronous=NORMAL), the others keep FULL.
            level = f.storage._conn.execute("PRAGMA synchronous").fetchone()[0]
            assert level == (1 if durability == "relaxed" else 2)
        for bad in ("fast", "RELAXED", None, 1, ""):
            with pytest.raises(pyidb.InvalidArgumentError) as caught:
                db.transaction("kv", "readwrite", durability=bad)
            assert caught.value.name == "TypeError" and "relaxed" in str(caught.value)
    f.close()
    g = pyidb.factory(f"sqlite:///{path}")
    async with await g.open("app") as db:
        got = await db.get_all("kv", pyidb.KeyRange.bound(0, 3))
        assert got == ["relaxed", "strict", "default", "relaxed"]
    g.close()


# -- several processes writing the same file --------------------------------------------------
COUNTER_CHILD = """
import asyncio, json, sys, pyidb
async def main(url, n):
    db = await pyidb.factory(url).open("app")
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(n):
        async with db.transaction("kv", "readwrite") as tx:
            store = tx.object_store("kv")
            value = await store.get("counter")
            await store.put(value + 1, "counter")
    db.close()
    return {"done": n}
print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2])))))
"""


async def test_two_processes_increment_one_counter_without_lost_updates(url):
    (await _create(url)).close()
    n = 150
    procs = [start_gated(COUNTER_CHILD, url, str(n)) for _ in range(2)]
    assert release(procs) == [{"done": n}, {"done": n}]
    f = pyidb.factory(url)
    async with await f.open("app") as db:
        assert await db.get("kv", "counter") == 2 * n  # BEGIN IMMEDIATE serializes the writers
    f.close()


ADD_CHILD = """
import asyncio, json, sys, pyidb
async def main(url, who, method, n):
    db = await pyidb.factory(url).open("app")
    print("ready", flush=True)
    sys.stdin.readline()
    errors = []
    for i in range(n):
        try:
            await getattr(db, method)("notes", {"who": who, "i": i, "tags": [who]})
        except pyidb.Error as exc:
            errors.append(exc.name)
    db.close()
    return {"errors": errors}
print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))))
"""


@pytest.mark.parametrize("method", ["add", "put"])
async def test_two_processes_share_the_key_generator(url, method):
    """Both processes keep the database open and add records with generated keys: every record
    must get its own key (spec 2.11: one key generator per object store)."""
    (await _create(url)).close()
    n = 60
    procs = [start_gated(ADD_CHILD, url, who, method, str(n)) for who in ("a", "b")]
    results = release(procs)
    assert results == [{"errors": []}, {"errors": []}], "generated keys collided between processes"
    f = pyidb.factory(url)
    async with await f.open("app") as db:
        assert await db.count("notes") == 2 * n, "records of one process were overwritten"
        assert await db.count_from_index("notes", "by_tag", "a") == n
        assert await db.count_from_index("notes", "by_tag", "b") == n
        assert await db.add("notes", {"who": "parent"}) == 2 * n + 1
    f.close()


UNIQUE_CHILD = """
import asyncio, json, sys, pyidb
async def main(url, who, n):
    db = await pyidb.factory(url).open("app")
    print("ready", flush=True)
    sys.stdin.readline()
    refused = 0
    for i in range(n):
        try:
            await db.add("notes", {"slug": f"s{i}", "who": who, "tags": [who]})
        except pyidb.ConstraintError:
            refused += 1
    db.close()
    return {"refused": refused}
print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
"""


async def test_two_processes_racing_for_unique_keys_store_each_once(url):
    """Both processes add the same slugs (a unique index) at the same time: each slug is stored
    exactly once, and every other attempt fails with ConstraintError."""
    (await _create(url)).close()
    n = 40
    procs = [start_gated(UNIQUE_CHILD, url, who, str(n)) for who in ("a", "b")]
    refused = [r["refused"] for r in release(procs)]
    assert sum(refused) == n, refused
    f = pyidb.factory(url)
    async with await f.open("app") as db:
        notes = await db.get_all("notes")
        assert sorted(x["slug"] for x in notes) == sorted(f"s{i}" for i in range(n))
        assert await db.count_from_index("notes", "by_slug") == n
        assert await db.count_from_index("notes", "by_tag") == n  # no index entry of a refused add
    f.close()


SCHEMA_CHILD = """
import asyncio, json, sys, pyidb
async def main(url):
    db = await pyidb.factory(url).open("app")
    print("ready", flush=True)
    sys.stdin.readline()       # meanwhile the parent upgrades the database to version 2
    try:
        await db.put("kv", {"x": 5}, "written-after-upgrade")
        outcome = "ok"
    except pyidb.Error as exc:
        outcome = exc.name
    db.close()
    return {"outcome": outcome}
print(json.dumps(asyncio.run(main(sys.argv[1]))))
"""


async def test_upgrade_by_another_process_does_not_corrupt_indexes(url):
    """Process A holds a v1 connection; process B (here) upgrades to v2, adding an index. A's
    next write must either maintain the new index or fail with a pyidb error — never leave an
    index that disagrees with its store."""
    f = await _create(url)
    async with await f.open("app") as db:
        await db.put("kv", {"x": 1}, "before")
    child = start_gated(SCHEMA_CHILD, url)

    def add_index(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        tx.object_store("kv").create_index("by_x", "x")

    async with await f.open("app", 2, upgrade=add_index) as db:
        assert await db.count_from_index("kv", "by_x") == 1
    [result] = release([child])
    async with await f.open("app") as db:
        records_with_x = sum(1 for v in await db.get_all("kv") if isinstance(v, dict) and "x" in v)
        if result["outcome"] == "ok":
            assert await db.count_from_index("kv", "by_x") == records_with_x, (
                "a process with a stale schema wrote a record without its index entry"
            )
        else:
            assert records_with_x == 1
    f.close()


UPGRADE_CHILD = """
import asyncio, json, sys, pyidb
def up(db, old, new, tx):
    db.create_object_store("from_child")
async def main(url):
    db = await pyidb.factory(url).open("app", 2, upgrade=up)
    await db.put("from_child", "precious", 1)
    db.close()
    return {}
print(json.dumps(asyncio.run(main(sys.argv[1]))))
"""


async def test_upgrade_on_a_stale_connection_sees_the_other_process_schema(url):
    """This process holds a v1 connection (it closes on versionchange); another process upgrades
    to v2 adding a store; then this process opens v3. The upgrade must start from what the file
    holds (old_version 2, the child's store kept) or fail with a pyidb error — never write its
    stale v1 schema over the child's store."""
    f = await _create(url)
    db1 = await f.open("app", blocking=lambda db, old, new: db.close())
    run_child(UPGRADE_CHILD, url)
    seen: list[tuple[int, list[str]]] = []

    def to_v3(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        seen.append((old, db.object_store_names))
        db.create_object_store("v3")

    try:
        db3 = await f.open("app", 3, upgrade=to_v3)
    except pyidb.Error:
        pass  # refusing is acceptable; what the child wrote must survive (checked below)
    else:
        assert seen == [(2, ["from_child", "kv", "notes"])]
        db3.close()
    db1.close()
    f.close()
    g = pyidb.factory(url)
    async with await g.open("app") as db:
        assert "from_child" in db.object_store_names, "another process's store was dropped"
        assert await db.get("from_child", 1) == "precious"
    g.close()


DELETE_CHILD = """
import asyncio, json, sys, pyidb
async def main(url):
    await pyidb.factory(url).delete_database("app")
    return {}
print(json.dumps(asyncio.run(main(sys.argv[1]))))
"""


async def test_reads_after_another_process_deleted_the_database_fail(url):
    """A database deleted by another process (which cannot be blocked by this one's open
    connection) must not read as silently empty: a pyidb error says the schema is gone."""
    f = await _create(url)
    async with await f.open("app") as db:
        await db.put("kv", "v", "k")
        run_child(DELETE_CHILD, url)
        with pytest.raises(pyidb.Error):
            await db.get("kv", "k")
    f.close()


TRANSFER_CHILD = """
import asyncio, json, sys, pyidb
async def main(url, n):
    db = await pyidb.factory(url).open("app")
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(n):
        async with db.transaction("kv", "readwrite") as tx:
            store = tx.object_store("kv")
            a, b = await store.get("a"), await store.get("b")
            await store.put(a - 1, "a")
            await store.put(b + 1, "b")
    db.close()
    return {"done": n}
print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2])))))
"""


async def test_readonly_transactions_are_isolated_from_other_processes_commits(url):
    """Another process moves 1 from "a" to "b" in each readwrite transaction (the sum stays
    2000). A readonly transaction here that reads "a" then "b" must see both before or both
    after such a transfer (spec 2.7.2: a read-only transaction never sees part of a read/write
    transaction), never one torn in between."""
    f = await _create(url)
    async with await f.open("app") as db:
        await db.put("kv", 1000, "a")
        await db.put("kv", 1000, "b")
        child = start_gated(TRANSFER_CHILD, url, "300")
        child.stdin.write("go\n")
        child.stdin.flush()
        reads = torn = 0
        while child.poll() is None or reads < 10:
            async with db.transaction("kv") as tx:
                store = tx.object_store("kv")
                a = await store.get("a")
                b = await store.get("b")
            reads += 1
            torn += a + b != 2000
        assert child.wait(timeout=60) == 0
        assert (await db.get("kv", "a"), await db.get("kv", "b")) == (700, 1300)
    f.close()
    assert torn == 0, f"{torn} of {reads} readonly transactions saw half of another process's commit"


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")   # another program writing to the file for a while
print("ready", flush=True)
sys.stdin.readline()
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("{}")
"""


async def test_waiting_for_another_process_write_lock_keeps_the_event_loop_running(path):
    """While another process holds the file's write lock (for less than the busy timeout), a
    readwrite transaction waits for it — but other asyncio tasks must keep running meanwhile
    (a blocking wait freezes every task of the program)."""
    import asyncio

    f = await _create(f"sqlite:///{path}")
    async with await f.open("app") as db:
        holder = start_gated(LOCK_HOLDER, path, "1.5")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.create_task(ticker())
        holder.stdin.write("go\n")
        holder.stdin.flush()
        try:
            assert await db.put("kv", "written", "after-lock") == "after-lock"
        finally:
            task.cancel()
        assert holder.wait(timeout=30) == 0
        assert await db.get("kv", "after-lock") == "written"
    f.close()
    assert ticks >= 10, f"the event loop was blocked while waiting for the lock ({ticks} ticks in ~1.5 s)"


async def test_closing_the_factory_under_a_running_transaction_says_so(url):
    """factory.close() with a transaction open: every later failure names the closed storage
    (not "a bug in pyidb's engine"), the transaction's writes are gone, opening again on the
    closed factory is refused, and a new factory for the file works."""
    f = await _create(url)
    db = await f.open("app")
    tx = db.transaction("kv", "readwrite")
    store = tx.object_store("kv")
    await store.put("uncommitted", "x")
    f.close()
    with pytest.raises(pyidb.InvalidStateError, match="closed"):
        await store.put("more", "y")  # caught: the transaction tries to commit afterwards
    with pytest.raises(pyidb.Error) as caught:
        await tx.done
    assert "closed" in str(caught.value) and "bug" not in str(caught.value), caught.value
    with pytest.raises(pyidb.InvalidStateError, match="closed"):
        await f.open("app")
    g = pyidb.factory(url)
    assert g is not f
    async with await g.open("app") as again:
        assert await again.get("kv", "x") is None
        assert await again.get("kv", "counter") == 0
    g.close()


RELAXED_WRITER = """
import asyncio, sys, pyidb
async def main(url):
    db = await pyidb.factory(url).open("app")
    i = 0
    while True:
        i += 1
        async with db.transaction(["kv", "notes"], "readwrite", durability="relaxed") as tx:
            await tx.object_store("kv").put(i, "counter")
            await tx.object_store("notes").add({"slug": f"n{i}", "tags": ["t"]})
        print(i, flush=True)  # only after the commit returned
asyncio.run(main(sys.argv[1]))
"""


async def test_relaxed_commits_survive_the_process_being_killed(url):
    """durability="relaxed" skips the fsync, which risks only an OS crash or power loss: a killed
    process keeps every transaction whose commit returned, and nothing of the one cut off."""
    import signal

    (await _create(url)).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(RELAXED_WRITER), url],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    last = 0
    for line in proc.stdout:
        last = int(line)
        if last >= 60:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert last >= 60, proc.stderr.read() if proc.stderr else ""
    f = pyidb.factory(url)
    async with await f.open("app") as db:
        counter = await db.get("kv", "counter")
        assert counter >= last  # every reported commit is there (and maybe one more)
        assert await db.count("notes") == counter  # the two stores agree: all or nothing
        assert await db.count_from_index("notes", "by_tag", "t") == counter
    f.close()
