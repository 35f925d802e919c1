"""Spec 2.4/4.1 "open a database connection" and "delete a database", for the engine.

Open and delete requests for one name run one at a time, in order. A higher version fires
``versionchange`` on the other open connections, ``blocked`` while any stays open, then runs the
upgrade in an exclusive versionchange transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from .. import api
from ..arguments import check_database_name, check_version
from ..callbacks import call_user
from ..errors import AbortError, InvalidStateError, UnknownError, VersionError
from ..upgrade_awaits import only_requests
from . import catalog, integrity
from .connection import DatabaseState, EngineDatabase
from .offload import LockedStorage, Offload
from .scheduler import Scheduler
from .storage.base import Storage
from .transaction import EngineTransaction

T = TypeVar("T")


class EngineFactory(api.Factory):
    """Databases of the pure-Python engine on one storage (memory or a SQLite file)."""

    def __init__(self, storage: Storage, url: str, *, check: bool = False) -> None:
        self.offload: Offload | None = None
        if storage.blocking_io:  # a network storage: its calls run on a worker thread
            self.offload = Offload()
            storage = LockedStorage(storage, self.offload.lock)  # type: ignore[assignment]
        self.storage = storage
        self.url = url
        self.scheduler = Scheduler()
        self.scheduled: set[EngineTransaction] = set()  # transactions with requests to run
        self._states: dict[str, DatabaseState] = {}
        self._locks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Lock, list[int]]] = {}
        self._scopes: dict[str, EngineFactory] = {}  # scope -> factory, where the storage has namespaces
        if storage.durable:
            try:  # a damaged or hostile file is refused here, before anything reads or writes it
                catalog.validate(storage)
                if check:
                    self.raise_if_damaged()
            except BaseException:
                storage.close()
                raise

    async def _database_state(self, name: str) -> DatabaseState:
        state = self._states.get(name)
        if state is None or (self.storage.shared and not state.connections):
            # Another process may have changed the file while nobody here had it open.
            storage = self.storage
            schema = await self._io(lambda: catalog.load_schema(storage, name))
            state = self._states[name] = DatabaseState(self, name, schema)
        return state

    async def _io(self, fn: Callable[[], T]) -> T:
        """``fn()`` (storage reads outside any transaction): on the worker thread for a
        blocking storage, else right here."""
        if self.offload is None:
            return fn()
        return await self.offload.run(asyncio.get_running_loop(), fn)  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def _queue(self, name: str) -> AsyncIterator[None]:
        """Open and delete requests for ``name`` run one at a time, in order (spec 2.4)."""
        if self.storage.closed:
            raise InvalidStateError(f"the factory for {self.url} is closed; make a new one")
        # One lock per name and event loop: a factory outlives asyncio.run() calls, and an
        # asyncio.Lock cannot be used from another loop. Dropped when nobody waits for it.
        loop = asyncio.get_running_loop()
        entry = self._locks.get(name)
        if entry is None or entry[0] is not loop:
            entry = self._locks[name] = (loop, asyncio.Lock(), [0])
        _, lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0 and self._locks.get(name) is entry:
                del self._locks[name]

    async def open(
        self,
        name: str,
        version: int | None = None,
        *,
        upgrade: api.UpgradeCallback | None = None,
        blocked: api.BlockedCallback | None = None,
        blocking: api.VersionChangeCallback | None = None,
    ) -> EngineDatabase:
        check_database_name(name)
        check_version(version)
        async with self._queue(name):
            state = await self._database_state(name)
            current = state.schema.version
            if version is None:
                version = current or 1
            if version < current:
                raise VersionError(
                    f"database {name!r} is at version {current}; it cannot be opened at the "
                    f"lower version {version}"
                )
            conn = EngineDatabase(state)
            if blocking is not None:
                conn.on_versionchange = blocking
            if version > current:
                await self._wait_for_others(state, current, version, blocked)
                await self._upgrade(state, conn, current, version, upgrade)
            state.connections[conn] = None
            return conn

    async def delete_database(self, name: str, *, blocked: api.BlockedCallback | None = None) -> None:
        check_database_name(name)
        async with self._queue(name):
            state = await self._database_state(name)
            if state.schema.version == 0:
                return
            await self._wait_for_others(state, state.schema.version, None, blocked)
            conn = EngineDatabase(state)
            tx = await self._exclusive(conn)
            if self.storage.shared:
                self._reload(state)  # delete what is stored, not what we cached
            catalog.delete_schema(self.storage, state.schema)
            tx.commit()
            await tx.done
            del self._states[name]

    async def databases(self) -> list[dict[str, Any]]:
        if self.storage.closed:
            raise InvalidStateError(f"the factory for {self.url} is closed; make a new one")
        storage = self.storage
        names = await self._io(lambda: catalog.database_names(storage))
        return [{"name": n, "version": v} for n, v in names]

    def check(self) -> list[str]:
        """Every problem the full integrity check finds, [] if none: ``f.check()``
        (see :mod:`pyidb.engine.integrity`; it reads the whole file)."""
        return integrity.check_storage(self.storage)

    def raise_if_damaged(self) -> None:
        """UnknownError listing the problems :meth:`check` finds, if any."""
        problems = self.check()
        if problems:
            shown = "\n  ".join(problems[:20])
            raise UnknownError(f"the integrity check of {self.url} found {len(problems)} "
                               f"problem(s); restore it from a backup:\n  {shown}")

    def close(self) -> None:
        """Release the storage (the SQLite file); the factory is unusable afterwards."""
        for made in self._scopes.values():
            made.close()
        self.storage.close()
        if self.offload is not None:
            self.offload.close()

    def _scope_target(self, db: str) -> tuple[api.Factory, str]:
        """A storage with namespaces of its own (``sibling(name)``: a PostgreSQL schema) keeps
        each scope there; the others prefix database names (the default)."""
        sibling = getattr(self.storage, "sibling", None)
        if sibling is None:
            return super()._scope_target(db)
        made = self._scopes.get(db)
        if made is None or made.storage.closed:
            made = self._scopes[db] = EngineFactory(sibling(db), f"{self.url} schema={db}")
        return made, ""

    # -- the steps of open and delete ------------------------------------------------------
    async def _wait_for_others(self, state: DatabaseState, old: int, new: int | None,
                               blocked: api.BlockedCallback | None) -> None:
        for other in list(state.connections):
            if not other.close_pending:
                other.fire_versionchange(old, new)
        if any(not c.close_pending for c in state.connections) and blocked is not None:
            call_user(blocked, old, new)
        loop = asyncio.get_running_loop()
        while state.connections:
            fut = loop.create_future()
            state.close_waiters.append(fut)
            await fut

    async def _exclusive(self, conn: EngineDatabase) -> EngineTransaction:
        """A versionchange transaction on ``conn``, started and active."""
        tx = EngineTransaction(conn, [], "versionchange", "default")
        if not tx.running:  # started by the scheduler is not enough: it may wait for the lock
            # Held while it waits: started on a later loop turn with no request, it would
            # otherwise commit (empty) before the upgrade runs, and the upgrade's catalog
            # writes would find no write transaction (another database's writer was first).
            tx._hold()
            started = asyncio.get_running_loop().create_future()
            tx.on_start = lambda: started.done() or started.set_result(None)
            tx.done.add_done_callback(lambda _: started.done() or started.set_result(None))
            await started
            tx.release()
            if tx._is_finished():
                await tx.done  # raises why it could not start
            tx.reactivate()
        return tx

    async def _upgrade(self, state: DatabaseState, conn: EngineDatabase, old: int, new: int,
                       upgrade: api.UpgradeCallback | None) -> None:
        tx = await self._exclusive(conn)
        if self.storage.shared:
            # Under the write lock: another process may have upgraded the file since we looked.
            self._reload(state)
            old = state.schema.version
            if new <= old:
                tx.commit()
                await tx.done
                if new < old:
                    raise VersionError(
                        f"database {state.name!r} is at version {old} (another process upgraded "
                        f"it); it cannot be opened at the lower version {new}"
                    )
                return
        conn.upgrade_tx = tx
        state.schema.version = new
        catalog.save_schema(self.storage, state.schema)
        try:
            if upgrade is not None:
                result = upgrade(conn, old, new, tx)
                if inspect.isawaitable(result):
                    await only_requests(result)
        except BaseException as exc:
            if not tx._is_finished():
                tx.abort_with(exc)
            self._dead(conn)
            try:
                await tx.done
            except BaseException:
                pass
            raise
        try:
            await tx.done
        except BaseException as exc:
            self._dead(conn)
            if isinstance(exc, AbortError) and tx.error is None:
                raise AbortError("the upgrade transaction was aborted") from None
            raise
        finally:
            conn.upgrade_tx = None
        if conn.close_pending:  # spec: a connection closed during its upgrade fails open
            self._dead(conn)
            raise AbortError(
                f"the connection to database {state.name!r} was closed inside the upgrade "
                "callback, so open() has no connection to return"
            )

    def _reload(self, state: DatabaseState) -> None:
        fresh = catalog.load_schema(self.storage, state.name)
        for store in state.schema.stores.values():
            current = fresh.stores.get(store.name)
            if current is None or current.tree != store.tree:
                store.deleted = True
        state.schema = fresh

    @staticmethod
    def _dead(conn: EngineDatabase) -> None:
        conn.upgrade_tx = None
        conn.close_pending = conn.closed = True
