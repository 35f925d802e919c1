"""``BrowserFactory``: ``indexedDB.open`` / ``deleteDatabase`` / ``databases`` from Python.

``upgrade(db, old, new, tx)`` runs inside the ``upgradeneeded`` event with a BrowserTransaction
around the versionchange transaction; an async upgrade starts eagerly there (its first step runs
inside the event, so the transaction is still active) and each of its awaits on a request resumes
inside that request's event. An exception from it aborts the versionchange transaction and
``open`` raises it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Coroutine
from typing import Any

from .. import api
from ..arguments import check_database_name, check_version
from ..callbacks import call_user
from ..errors import AbortError
from ..upgrade_awaits import only_requests
from . import shim
from .database import BrowserDatabase
from .shim import Event
from .transaction import BrowserTransaction


def _start_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
    """Run ``coro`` as a task whose first step runs now (inside the IDB event), not next turn."""
    loop = asyncio.get_event_loop()
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]
    return asyncio.ensure_future(coro)  # pragma: no cover - Pyodide has Python >= 3.12


class _OpenRequest:
    """The events of one ``indexedDB.open`` request."""

    def __init__(self, name: str, upgrade: api.UpgradeCallback | None,
                 blocked: api.BlockedCallback | None,
                 blocking: api.VersionChangeCallback | None, tx_id: int) -> None:
        self.name = name
        self.upgrade = upgrade
        self.blocked = blocked
        self.blocking = blocking
        self.tx_id = tx_id
        self.db: BrowserDatabase | None = None
        self.failure: BaseException | None = None
        self.task: asyncio.Future[Any] | None = None
        self.done: asyncio.Future[BrowserDatabase] = shim.running_loop().create_future()

    def connection(self, rid: int) -> BrowserDatabase:
        if self.db is None:
            self.db = BrowserDatabase(rid, self.name)
            if self.blocking is not None:
                self.db.on_versionchange = self.blocking
        return self.db

    def handle(self, rid: int, kind: str, text: str) -> bool:
        if kind == Event.UPGRADE_NEEDED:
            info = json.loads(text)
            db = self.connection(rid)
            tx = BrowserTransaction(db, self.tx_id, "versionchange", "default")
            db.upgrade_tx = tx
            self._run_upgrade(db, info["old"], info["new"], tx)
        elif kind == Event.BLOCKED:
            if self.blocked is not None:
                info = json.loads(text)
                call_user(self.blocked, info["old"], info["new"])
        elif kind == Event.SUCCESS:
            db = self.connection(rid)
            db.upgrade_tx = None
            shim.handlers[rid] = db.on_event
            if not self.done.done():
                self.done.set_result(db)
        elif kind == Event.ERROR:
            shim.handlers.pop(rid, None)
            if self.db is not None:
                self.db._closed = True
                self.db.upgrade_tx = None
            err = self.failure or shim.error_from_text(text)
            if not self.done.done():
                self.done.set_exception(err)
        elif kind in (Event.VERSION_CHANGE, Event.CLOSED) and self.db is not None:
            return self.db.on_event(kind, text)
        return False

    def _run_upgrade(self, db: BrowserDatabase, old: int, new: int,
                     tx: BrowserTransaction) -> None:
        if self.upgrade is None:
            return
        try:
            result = self.upgrade(db, old, new, tx)
            if inspect.isawaitable(result):
                self.task = _start_eagerly(self._guard(result, tx))
        except BaseException as exc:
            self._fail_upgrade(exc, tx)

    async def _guard(self, awaitable: Any, tx: BrowserTransaction) -> None:
        # Abort in the same step the exception happens (inside the IDB event): a task's done
        # callbacks run a loop turn later, when the transaction may have committed already.
        try:
            await only_requests(awaitable)  # a foreign await fails here, still inside the event
        except BaseException as exc:
            self._fail_upgrade(exc, tx)

    def _fail_upgrade(self, exc: BaseException, tx: BrowserTransaction) -> None:
        self.failure = exc
        if not tx.finished:
            tx.abort_quietly()


class BrowserFactory(api.Factory):
    """The browser's ``indexedDB`` (Pyodide in a page).

    >>> f = pyidb.factory("browser")
    >>> db = await f.open("notes", 1, upgrade=lambda db, old, new, tx:
    ...     db.create_object_store("notes", key_path="id"))
    """

    url = "browser"

    def __init__(self) -> None:
        from . import is_available

        if not is_available():
            from ..errors import InvalidStateError

            raise InvalidStateError(
                "IndexedDB is not reachable here (not Pyodide in a web page, or a sandboxed "
                "iframe / opaque origin): use the engine factories pyidb.factory('memory:') or "
                "pyidb.factory('sqlite:///path/to/file.db')"
            )

    async def open(self, name: str, version: int | None = None, *,
                   upgrade: api.UpgradeCallback | None = None,
                   blocked: api.BlockedCallback | None = None,
                   blocking: api.VersionChangeCallback | None = None) -> BrowserDatabase:
        check_database_name(name)
        check_version(version)
        rid, tx_id = shim.new_id(), shim.new_id()
        req = _OpenRequest(name, upgrade, blocked, blocking, tx_id)
        shim.handlers[rid] = lambda kind, text: req.handle(rid, kind, text)
        result = shim.js().open(rid, tx_id, name, version or 0)
        if result:
            shim.handlers.pop(rid, None)
            shim.check(result)
        try:
            db = await req.done
        except AbortError:
            if req.failure is not None:
                raise req.failure from None
            raise
        if req.task is not None and not req.task.done():
            await req.task  # the transaction committed while the upgrade awaited something else
        if req.failure is not None:
            db.close()
            raise req.failure
        return db

    async def delete_database(self, name: str, *, blocked: api.BlockedCallback | None = None) -> None:
        check_database_name(name)
        done: asyncio.Future[None] = shim.running_loop().create_future()
        rid = shim.new_id()

        def handle(kind: str, text: str) -> bool:
            if kind == Event.BLOCKED:
                if blocked is not None:
                    info = json.loads(text)
                    call_user(blocked, info["old"], info["new"])
                return False
            shim.handlers.pop(rid, None)
            if kind == Event.SUCCESS:
                done.set_result(None)
            else:
                done.set_exception(shim.error_from_text(text))
            return False

        shim.handlers[rid] = handle
        result = shim.js().deleteDatabase(rid, name)
        if result:
            shim.handlers.pop(rid, None)
            shim.check(result)
        await done

    async def databases(self) -> list[dict[str, Any]]:
        done: asyncio.Future[list[dict[str, Any]]] = shim.running_loop().create_future()
        rid = shim.new_id()

        def handle(kind: str, text: str) -> bool:
            shim.handlers.pop(rid, None)
            if kind == Event.SUCCESS:
                done.set_result(json.loads(text))
            else:
                done.set_exception(shim.error_from_text(text))
            return False

        shim.handlers[rid] = handle
        shim.check(shim.js().databases(rid))
        return await done


__all__ = ["BrowserFactory"]
