"""Databases and transactions of a plugin, backed by the host socket (stores, indexes and
cursors: :mod:`.stores`).

Each object holds the host's number for it; each request is one frame, answered in order. The
transaction lifetime is the browser's, decided here: active from creation until control returns
to the loop and while a reply's awaiting code runs; inactive with nothing pending, it sends
``commit`` (see :mod:`pyidb.remote` for what differs from in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import api
from ..arguments import check_flag, check_mode_and_durability, check_store_name, check_store_names
from ..callbacks import call_user
from ..errors import (
    AbortError,
    Error,
    InvalidAccessError,
    InvalidStateError,
    NotFoundError,
    ReadOnlyError,
    TransactionInactiveError,
)
from ..keys import _utf16  # names sort as a DOMStringList: by UTF-16 code units
from ..schema_rules import check_new_store
from ..sync_future import SyncFuture
from ..upgrade_awaits import only_requests
from .frames import error_from_wire
from .stores import RemoteIndex, RemoteObjectStore

if TYPE_CHECKING:
    from . import RemoteFactory, _Connection

ACTIVE, INACTIVE, COMMITTING, FINISHED = range(4)


@contextlib.contextmanager
def blocked_listener(conn: _Connection, mid: int, blocked: api.BlockedCallback | None) -> Iterator[None]:
    if blocked is not None:
        conn.listeners["blocked", mid] = lambda m: m.get("event") == "blocked" and call_user(
            blocked, m.get("old"), m.get("new")
        )
    try:
        yield
    finally:
        conn.listeners.pop(("blocked", mid), None)


async def open_database(factory: RemoteFactory, conn: _Connection, name: str, version: int | None,
                        upgrade: Any, blocked: Any, blocking: Any) -> RemoteDatabase:
    loop = asyncio.get_running_loop()
    fut = conn.call({"op": "open", "name": name, "version": version, "upgrade": upgrade is not None})
    mid = conn.last_id
    state: dict[str, Any] = {}

    def on_upgrade(m: dict[str, Any]) -> None:
        if m.get("event") != "upgrade":
            return
        db = state["db"] = RemoteDatabase(factory, conn, m["db"], name, m["new"], m["stores"])
        if blocking is not None:
            db.on_versionchange = blocking
        tx = RemoteTransaction(db, m["tx"], "versionchange", "default", db._schemas, defer=True)
        db._upgrade_tx = tx
        tx._snapshot()
        state["tx"] = tx

        def failed(exc: BaseException) -> None:
            state["error"] = exc
            if not tx._is_finished():
                tx._send_abort(exc)

        try:
            result = upgrade(db, m["old"], m["new"], tx)
        except BaseException as exc:
            failed(exc)
            return
        if inspect.isawaitable(result):
            async def run() -> None:
                try:  # it may await its own requests only (pyidb.upgrade_awaits), as in-process
                    await only_requests(result)
                except BaseException as exc:
                    failed(exc)
            state["task"] = loop.create_task(run())
        # Inactive once the upgrade code's first step has run (as the engine's reactivate()).
        loop.call_soon(tx._end_of_task)

    conn.listeners["upgrade", mid] = on_upgrade
    try:
        with blocked_listener(conn, mid, blocked):
            try:
                reply = await fut
            except Error:
                if "error" in state:
                    raise state["error"] from None
                refused = getattr(state.get("tx"), "_error", None)
                if refused is not None:  # the host refused a schema change: that is why
                    raise refused from None
                raise
    finally:
        conn.listeners.pop(("upgrade", mid), None)
        task = state.get("task")
        if task is not None and not task.done():
            await asyncio.wait([task])
    if "error" in state:
        raise state["error"]
    db = state.get("db")
    if db is None:
        db = RemoteDatabase(factory, conn, reply["db"], name, reply["version"], reply["stores"])
        if blocking is not None:
            db.on_versionchange = blocking
    db._upgrade_tx = None
    db._version, db._schemas = reply["version"], reply["stores"]
    return db


class RemoteDatabase(api.Database):
    """A connection to one database of the plugin's scope."""

    def __init__(self, factory: RemoteFactory, conn: _Connection, number: int, name: str, version: int,
                 schemas: dict[str, Any]) -> None:
        self._factory, self._conn, self._number = factory, conn, number
        self._name, self._version = name, version
        self._schemas: dict[str, Any] = schemas  # store -> what store_schema() sent; kept current
        self._upgrade_tx: RemoteTransaction | None = None
        self._closed = False
        conn.listeners["versionchange", number] = self._versionchange
        conn.listeners["closed", number] = lambda m: self._lost()

    def _versionchange(self, m: dict[str, Any]) -> None:
        try:
            if self.on_versionchange is not None:
                call_user(self.on_versionchange, self, m.get("old"), m.get("new"))
        finally:  # after the handler (and the close it may send): the host decides "blocked"
            with contextlib.suppress(Error):
                self._conn.send({"op": "versionchange_done", "db": self._number})

    def _lost(self) -> None:
        self._closed = True
        if self.on_close is not None:
            call_user(self.on_close, self)

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int:
        return self._version

    @property
    def object_store_names(self) -> list[str]:
        return sorted(self._schemas, key=_utf16)

    def _live_upgrade(self, what: str) -> RemoteTransaction:
        tx = self._upgrade_tx
        if tx is None or tx._state == FINISHED:
            raise InvalidStateError(f"{what} works only inside the upgrade callback of open()")
        tx._check_active()
        return tx

    def create_object_store(
        self, name: str, *, key_path: api.KeyPath = None, auto_increment: bool = False
    ) -> api.ObjectStore:
        name = check_store_name(name)
        auto_increment = check_flag(auto_increment, "auto_increment")
        tx = self._live_upgrade("create_object_store()")
        path = check_new_store(name, key_path, auto_increment, exists=name in self._schemas)
        tx._request({"op": "create_store", "name": name, "key_path": path,
                     "auto_increment": auto_increment}, fatal=True)
        self._schemas[name] = {"key_path": path, "auto_increment": auto_increment, "indexes": {}}
        tx._handles.pop(name, None)
        return tx.object_store(name)

    def delete_object_store(self, name: str) -> None:
        name = check_store_name(name)
        tx = self._live_upgrade("delete_object_store()")
        schema = self._schemas.get(name)
        if schema is None:
            raise NotFoundError(f"no object store named {name!r}")
        tx._request({"op": "delete_store", "name": name}, fatal=True)
        del self._schemas[name]
        schema["deleted"] = True

    def transaction(
        self,
        store_names: str | Sequence[str],
        mode: Any = "readonly",
        *,
        durability: api.Durability = "default",
    ) -> RemoteTransaction:
        if self._upgrade_tx is not None and self._upgrade_tx._state != FINISHED:
            raise InvalidStateError("cannot start a transaction while the upgrade is running")
        if self._closed:
            raise InvalidStateError(f"the connection to database {self._name!r} is closed")
        names = check_store_names(store_names)
        mode, durability = check_mode_and_durability(mode, durability)  # type: ignore[assignment]
        missing = [n for n in names if n not in self._schemas]
        if missing:
            raise NotFoundError(
                f"no object store named {missing[0]!r} in database {self._name!r} "
                f"(it has {', '.join(map(repr, self.object_store_names)) or 'no stores'})"
            )
        if not names:
            raise InvalidAccessError("a transaction needs at least one object store name")
        schemas = {n: self._schemas[n] for n in names}

        def opened(ok: bool, value: Any) -> None:
            if not ok:
                tx._finish(value)  # e.g. the database was closed on the host meanwhile

        # The transaction's number is this request's id, negated: requests can follow at once.
        mid = self._conn.send({"op": "transaction", "db": self._number, "stores": names,
                               "mode": mode, "durability": durability}, opened)
        tx = RemoteTransaction(self, -mid, mode, durability, schemas)
        return tx

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Error):
                self._conn.send({"op": "close", "db": self._number})


class RemoteTransaction(api.Transaction):
    """A transaction held open by the host until this side commits or aborts it."""

    def __init__(self, db: RemoteDatabase, number: int, mode: Any, durability: Any,
                 schemas: dict[str, Any], defer: bool = False) -> None:
        self._db, self._number, self._mode, self._durability = db, number, mode, durability
        self._schemas: dict[str, Any] = schemas
        self._handles: dict[str, RemoteObjectStore] = {}
        self._loop = asyncio.get_running_loop()
        self._state = ACTIVE
        self._pending = 0
        self._commit_sent = False
        self._error: BaseException | None = None
        self._failing: BaseException | None = None  # a request error being delivered
        self._user_abort = False
        self._renames: list[tuple[Any, str]] = []
        self._done: SyncFuture[None] = SyncFuture(self._loop)
        db._conn.listeners["done", number] = self._finished
        if not defer:
            self._loop.call_soon(self._end_of_task)

    # -- the API ----------------------------------------------------------------------------
    @property
    def db(self) -> RemoteDatabase:
        return self._db

    @property
    def mode(self) -> Any:
        return self._mode

    @property
    def durability(self) -> Any:
        return self._durability

    @property
    def object_store_names(self) -> list[str]:
        if self._mode == "versionchange":
            return self._db.object_store_names
        return sorted(self._schemas, key=_utf16)

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def done(self) -> SyncFuture[None]:
        return self._done

    def object_store(self, name: str) -> RemoteObjectStore:
        name = check_store_name(name)
        if self._state == FINISHED:
            raise InvalidStateError(
                f"cannot open object store {name!r}: the transaction has already finished"
            )
        handle = self._handles.get(name)
        if handle is not None and not handle._deleted():
            return handle
        schema = self._schemas.get(name)
        if schema is None:  # a store outside the plugin's allowlist was never sent: the same
            raise NotFoundError(
                f"object store {name!r} is not in this transaction's scope "
                f"({', '.join(map(repr, self.object_store_names)) or 'no stores'})"
            )
        handle = self._handles[name] = RemoteObjectStore(self, name, schema)
        return handle

    def _renamed(self, handle: RemoteObjectStore | RemoteIndex, old: str) -> None:
        """A store or index was renamed in the upgrade: remember it, to undo on abort."""
        if isinstance(handle, RemoteObjectStore):
            if self._handles.get(old) is handle:
                del self._handles[old]
            self._handles[handle.name] = handle
        self._renames.append((handle, old))

    def _snapshot(self) -> None:
        """The schema as the upgrade began (restored if it aborts, as the engine reloads its
        catalog): each store's schema dict and index dicts, in place."""
        self._saved: tuple[dict[str, Any], list[Any]] | None = (dict(self._schemas), [
            (schema, dict(schema["indexes"]), dict(schema)) for schema in self._schemas.values()
        ])

    def _revert_schema(self) -> None:
        saved = getattr(self, "_saved", None)
        if saved is None:
            return
        stores, details = saved
        self._schemas.clear()
        self._schemas.update(stores)
        for schema, indexes, fields in details:
            schema.clear()
            schema.update(fields)
            schema["indexes"] = indexes
            for index in indexes.values():
                index.pop("deleted", None)
        for handle, old in reversed(self._renames):
            handle._name = old
        self._renames.clear()
        self._saved = None

    def commit(self) -> None:
        if self._state != ACTIVE:
            raise InvalidStateError("cannot commit: the transaction is not active")
        self._state = COMMITTING
        self._maybe_commit()

    def abort(self) -> None:
        if self._state in (COMMITTING, FINISHED):
            raise InvalidStateError("cannot abort: the transaction has already committed or aborted")
        self._user_abort = True
        self._send_abort(None)

    def _is_active(self) -> bool:
        return self._state == ACTIVE

    def _is_finished(self) -> bool:
        return self._state == FINISHED

    def _aborted_by_user(self) -> bool:
        return self._user_abort

    # -- lifetime ---------------------------------------------------------------------------
    def _check_active(self) -> None:
        if self._state != ACTIVE:
            raise TransactionInactiveError(
                "the transaction is not active (it committed when your code awaited something "
                "that is not one of its requests, or it has finished)"
            )

    def _check_writable(self) -> None:
        if self._mode == "readonly":
            raise ReadOnlyError(
                "the transaction is read-only; open it with db.transaction(..., 'readwrite')"
            )

    def _end_of_task(self) -> None:
        if self._state == ACTIVE:
            self._state = INACTIVE
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        if self._state in (INACTIVE, COMMITTING) and self._pending == 0 and not self._commit_sent:
            self._state = COMMITTING
            self._commit_sent = True
            with contextlib.suppress(Error):
                self._db._conn.send({"op": "commit", "tx": self._number})

    def _withdraw(self) -> bool:
        """A task awaiting a request was cancelled (``asyncio.wait_for`` timed out): abort the
        transaction, as the engine does, so none of its changes are kept and the task need not
        wait for the host. Nothing to take back once commit() was asked for."""
        if self._state in (COMMITTING, FINISHED):
            return False
        self._send_abort(AbortError(
            "a request of this transaction was cancelled before it ran (its task was cancelled "
            "or timed out), so the transaction was aborted and none of its changes are kept"
        ))
        return True

    def _abort_for_exception(self, exc: BaseException) -> None:
        if exc is self._failing:  # the request's error was not handled: abort with it
            self._send_abort(exc)
        elif self._state != COMMITTING:
            # Committing already (it auto-committed while the block awaited something else):
            # nothing to abort, as in-process; the block's error is raised.
            self.abort()

    def _send_abort(self, error: BaseException | None) -> None:
        self._error = error
        self._state = FINISHED
        if self._mode == "versionchange":
            self._revert_schema()
        message: dict[str, Any] = {"op": "abort", "tx": self._number}
        if error is not None:
            message["error"] = {"message": str(error)}
        with contextlib.suppress(Error):
            self._db._conn.send(message)

    def _finished(self, m: dict[str, Any]) -> None:
        if m.get("event") == "lost":
            self._finish(self._db._conn.lost or AbortError("the connection to the host was lost"))
            return
        error = m.get("error")
        self._finish(None if error is None else error_from_wire(error))

    def _finish(self, error: BaseException | None) -> None:
        self._db._conn.listeners.pop(("done", self._number), None)
        self._state = FINISHED
        if self._mode == "versionchange" and (error is not None or self._user_abort
                                              or self._error is not None):
            self._revert_schema()
        if self._done.done():
            return
        if error is None and not self._user_abort and self._error is None:
            self._done.set_result(None)
        elif self._user_abort:
            self._done.set_exception(AbortError("the transaction was aborted"))
        else:
            self._error = self._error or error
            self._done.set_exception(self._error or AbortError("the transaction was aborted"))

    # -- requests ---------------------------------------------------------------------------
    def _request(self, message: dict[str, Any], *, write: bool = False, fatal: bool = False,
                 convert: Any = None) -> SyncFuture[Any]:
        self._check_active()
        if write:
            self._check_writable()
        fut: SyncFuture[Any] = SyncFuture(self._loop)
        fut.set_canceller(self._withdraw)

        def settle(ok: bool, value: Any) -> None:
            self._pending -= 1
            if fut.done():  # withdrawn (its task was cancelled): the transaction was aborted
                self._maybe_commit()
                return
            if self._state == FINISHED and self._error is None and ok:
                # Aborted here before this reply came: as in a browser, the request fails.
                ok, value = False, AbortError("the transaction was aborted before this request ran")
            if self._state == INACTIVE:
                self._state = ACTIVE
            if ok:
                fut.set_result(convert(value) if convert is not None else value)
            else:
                if fatal and self._state != FINISHED:
                    self._send_abort(value)  # the host refused a schema change: the upgrade fails
                self._failing = value
                try:
                    handled = fut.set_exception(value)
                finally:
                    self._failing = None
                if not handled and self._state not in (FINISHED, COMMITTING):
                    self._send_abort(value)  # nobody caught it: abort, as a browser does
            if self._state == ACTIVE:
                self._state = INACTIVE
            self._maybe_commit()

        self._db._conn.send({**message, "tx": self._number}, settle)  # encodes: copies the values now
        self._pending += 1
        return fut
