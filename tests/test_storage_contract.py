"""The storage contract of pyidb/engine/storage/base.py, on every storage, and storage off the loop.

tests/test_storage.py checks the ordered-tree operations; this file checks the rest of the
contract: ``closed``, private vs shared, read views, the typed busy signal, and (for storages that
declare ``blocking_io``) that the engine runs their calls on a worker thread while the event loop
goes on. A new storage adds one entry to ``STORAGES``: how to make it, and for a shared storage how
to make a second handle on the same data (as another process would).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyidb.engine.factory import EngineFactory
from pyidb.engine.storage.base import Storage, StorageBusyError
from pyidb.engine.storage.memory import MemoryStorage
from pyidb.engine.storage.sqlite import SQLiteStorage
from pyidb.errors import InvalidStateError

Maker = Callable[[Path], Storage]

# name -> (make the storage, make a second handle on the same data or None for a private storage)
STORAGES: dict[str, tuple[Maker, Maker | None]] = {
    "memory": (lambda tmp: MemoryStorage(), None),
    "sqlite": (
        lambda tmp: SQLiteStorage(str(tmp / "c.db"), timeout=0.05),
        lambda tmp: SQLiteStorage(str(tmp / "c.db"), timeout=0.05),
    ),
}


@pytest.fixture(params=sorted([*STORAGES, "postgresql"]))
def made(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, Maker | None, Path]]:
    if request.param == "postgresql":  # needs the session's throwaway cluster (conftest.pg_url)
        from pyidb.engine.storage.postgresql import PostgreSQLStorage

        base, schema = request.getfixturevalue("pg_url").split("?schema=")

        def make(tmp: Path) -> Storage:
            return PostgreSQLStorage(base, schema=schema, timeout=0.05)

        second: Maker | None = make
    else:
        make, second = STORAGES[request.param]
    s = make(tmp_path)
    yield s, second, tmp_path
    s.close()


def test_closed_is_a_plain_bool_and_close_is_idempotent(made: tuple[Storage, Maker | None, Path]) -> None:
    s, _, _ = made
    assert s.closed is False
    s.begin_write()
    s.put(1, b"k", b"v")
    s.close()  # rolls back the open write
    assert s.closed is True
    s.close()
    with pytest.raises(InvalidStateError):
        s.begin_write()
    with pytest.raises(InvalidStateError):
        s.get(1, b"k")


def test_flags_are_declared(made: tuple[Storage, Maker | None, Path]) -> None:
    s, second, _ = made
    assert isinstance(s.durable, bool) and isinstance(s.blocking_io, bool)
    assert s.shared is (second is not None)  # a shared storage says how to reach it twice
    assert s.lock_timeout >= 0


def test_read_view_sees_one_committed_state(made: tuple[Storage, Maker | None, Path]) -> None:
    s, second, tmp = made
    s.begin_write()
    s.put(1, b"a", b"1")
    s.commit()
    view = s.begin_read()
    try:
        assert view.get(1, b"a") == b"1"
        assert list(view.scan(1)) == [(b"a", b"1")] and view.count(1) == 1
        if second is not None:  # another process commits meanwhile: the view does not see it
            other = second(tmp)
            try:
                other.begin_write()
                other.put(1, b"b", b"2")
                other.commit()
            finally:
                other.close()
            assert view.get(1, b"b") is None and view.count(1) == 1
    finally:
        s.end_read(view)
    if second is not None:
        assert s.get(1, b"b") == b"2"  # a fresh read sees the other process's commit


def test_busy_is_a_typed_signal(made: tuple[Storage, Maker | None, Path]) -> None:
    s, second, tmp = made
    if second is None:
        assert s.try_begin_write() is True  # private: nobody else can hold the lock
        s.rollback()
        return
    other = second(tmp)
    try:
        other.begin_write()
        other.put(1, b"x", b"1")
        assert s.try_begin_write() is False  # at once, no waiting
        assert not s.in_write
        with pytest.raises(StorageBusyError):  # after lock_timeout
            s.begin_write()
        other.commit()
        assert s.try_begin_write() is True
        s.rollback()
    finally:
        other.close()


# -- storage off the event loop ----------------------------------------------------------------


class GatedStorage(MemoryStorage):
    """Memory declared as doing network I/O. Fault injected on purpose: while ``gate`` is set up,
    each put blocks (as a network round trip would) until code on the event loop opens it; were
    the put run on the loop thread, nothing could open it and the wait would time out."""

    blocking_io = True

    def __init__(self) -> None:
        super().__init__()
        self.gate: threading.Event | None = None
        self.opened_in_time: list[bool] = []
        self.threads: set[int] = set()

    def put(self, tree: int, key: bytes, value: bytes) -> None:
        self.threads.add(threading.get_ident())
        if self.gate is not None:
            self.opened_in_time.append(self.gate.wait(timeout=10))
        super().put(tree, key, value)


def _schema(db, old, new, tx) -> None:  # type: ignore[no-untyped-def]
    db.create_object_store("s")


async def test_blocking_storage_runs_off_the_loop_and_the_loop_goes_on() -> None:
    storage = GatedStorage()
    f = EngineFactory(storage, "memory:")
    try:
        db = await f.open("d", 1, upgrade=_schema)
        storage.threads.clear()  # the upgrade's catalog writes run on the loop (see offload.py)
        storage.gate = gate = threading.Event()

        async def open_gate() -> None:  # another task of the process: runs during the put
            gate.set()

        async with db.transaction("s", "readwrite") as tx:
            store = tx.object_store("s")
            opener = asyncio.ensure_future(open_gate())
            assert await store.put("v1", 1) == 1
            # still active after a request that ran on the worker: read-modify-write works
            value = await store.get(1)
            await store.put(value + "+", 1)
        await opener
        assert storage.opened_in_time == [True, True]
        assert threading.get_ident() not in storage.threads  # every put ran on the worker
        assert await db.get("s", 1) == "v1+"
        db.close()
    finally:
        f.close()


async def test_blocking_storage_keeps_transactions_correct() -> None:
    storage = GatedStorage()
    f = EngineFactory(storage, "memory:")
    try:
        db = await f.open("d", 1, upgrade=_schema)

        async def writer(base: int) -> None:
            async with db.transaction("s", "readwrite") as tx:
                store = tx.object_store("s")
                for i in range(20):
                    await store.put(base + i, base + i)

        await asyncio.gather(writer(0), writer(100), writer(200))
        with pytest.raises(RuntimeError):
            async with db.transaction("s", "readwrite") as tx:
                await tx.object_store("s").put("lost", 1000)
                raise RuntimeError("abort it")
        tx = db.transaction("s", "readwrite")
        tx.object_store("s").put("queued", 2000)
        tx.abort()  # before its request ran on the worker: nothing of it stays
        with pytest.raises(Exception):  # noqa: B017 - AbortError of the transaction
            await tx.done
        keys = await db.get_all_keys("s")
        assert keys == [*range(20), *range(100, 120), *range(200, 220)]
        db.close()
    finally:
        f.close()


class RecordingStorage(SQLiteStorage):
    """SQLite declared blocking (shared, with read views): records the thread of every call that
    begins, rolls back or ends a transaction's hold on the storage."""

    blocking_io = True

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.calls: list[tuple[str, int]] = []

    def try_begin_write(self, durability: str = "default") -> bool:
        self.calls.append(("try_begin_write", threading.get_ident()))
        return super().try_begin_write(durability)

    def rollback(self) -> None:
        self.calls.append(("rollback", threading.get_ident()))
        super().rollback()

    def begin_read(self):  # type: ignore[no-untyped-def]
        self.calls.append(("begin_read", threading.get_ident()))
        return super().begin_read()

    def end_read(self, view) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("end_read", threading.get_ident()))
        super().end_read(view)


async def test_blocking_storage_begins_and_rolls_back_on_the_worker(tmp_path: Path) -> None:
    """A readwrite and a readonly transaction, one of them aborted: taking the write lock, the
    read view, rolling back and ending the view all ran on the worker, never on the loop."""
    storage = RecordingStorage(str(tmp_path / "r.db"))
    f = EngineFactory(storage, f"sqlite:///{tmp_path / 'r.db'}")
    try:
        db = await f.open("d", 1, upgrade=_schema)
        storage.calls.clear()  # the upgrade runs alone, inline (see offload.py)
        with pytest.raises(RuntimeError):
            async with db.transaction("s", "readwrite") as tx:
                await tx.object_store("s").put("lost", 1)
                raise RuntimeError("abort it")
        async with db.transaction("s") as tx:
            assert await tx.object_store("s").get(1) is None
        await db.put("s", "kept", 2)
        assert await db.get("s", 2) == "kept"
        names = [name for name, _ in storage.calls]
        for expected in ("try_begin_write", "rollback", "begin_read", "end_read"):
            assert expected in names, names
        loop_thread = threading.get_ident()
        assert [c for c in storage.calls if c[1] == loop_thread] == []
        db.close()
    finally:
        f.close()
