"""The plugin side of the host socket: ``pyidb.factory("pyidb+unix:///path/to.sock")``.

The token comes from ``PYIDB_TOKEN`` (or ``RemoteFactory(path, token)``); with ``PYIDB_SOCKET``
and ``PYIDB_TOKEN`` set, the default factory (``pyidb.open`` and friends) is this one. The API is
the plain IndexedDB one, and the whole conformance suite runs through a real host process
(tests/conftest.py, ``socket``) with no test skipped. How the client keeps in-process answers:

* argument errors are raised at the call, in the spec's order, by the same rule modules the
  engine uses (:mod:`pyidb.arguments`, :mod:`pyidb.records`, :mod:`pyidb.keys`,
  :mod:`pyidb.key_range`, :mod:`pyidb.cursor_rules`, :mod:`pyidb.key_path`), checked against the
  schema the host sent; nothing invalid is sent, and the host checks everything again;
* a transaction commits when it becomes inactive with no request pending (the browser's rule,
  decided here in the client), or on ``commit()``; the host holds it open until then and never
  commits on its own; if the plugin disconnects first, the host aborts it; a request error the
  plugin's code catches does not abort it, one it does not catch does (decided here, as
  in-process);
* a request whose task is cancelled (``asyncio.wait_for`` timing out) aborts its transaction at
  once, unless ``commit()`` was already asked for (then the task waits for the reply); an async
  ``upgrade`` may await only its own requests (:mod:`pyidb.upgrade_awaits`);
* ``blocked`` is decided by the host after the other plugins' ``on_versionchange`` handlers ran
  (each answers, closes or disconnects; the host waits for them at most 10 s), so a connection
  closed in its handler does not make ``blocked`` fire.

What the network does change (none of it is visible to the conformance suite): each request is
a round trip; an upgrade aborted on the host's side (a unique index refusing a record) ends
``open()`` without waiting for the plugin; renaming a store into a name outside the plugin's
allowlist is ``NotFoundError``, as creating one is.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from typing import Any

from .. import api
from ..errors import InvalidArgumentError, InvalidStateError, UnknownError
from ..sync_future import SyncFuture
from .frames import MAX_FRAME, FrameError, FrameReader, encode_frame, error_from_wire

__all__ = ["RemoteFactory"]


def _loop_closed(transport: asyncio.BaseTransport) -> bool:
    loop = getattr(transport, "_loop", None)
    return loop is not None and loop.is_closed()


class _Connection(asyncio.Protocol):
    """One socket to the host; replies complete SyncFutures from the loop callback that reads
    them (so awaiting code resumes while its transaction is active, as in-process)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = FrameReader(MAX_FRAME)
        self.ids = itertools.count(1)
        self.pending: dict[int, Callable[[bool, Any], None]] = {}
        self.listeners: dict[tuple[str, Any], Callable[[dict[str, Any]], None]] = {}
        self.lost: BaseException | None = None
        self.last_id = 0  # the id of the last message sent (to listen for its events)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except FrameError as exc:
            self.close(UnknownError(f"the host sent a malformed frame: {exc}"))
            return
        for m in messages:
            if "event" in m:
                listener = self.listeners.get((m["event"], m.get("to")))
                if listener is not None:
                    listener(m)
                continue
            mid = m.get("id")
            settle = self.pending.pop(mid, None) if isinstance(mid, int) else None
            if settle is None:
                if mid is None and "error" in m:  # the host closes this connection: say why
                    self.close(error_from_wire(m["error"]))
                continue
            if "error" in m:
                settle(False, error_from_wire(m["error"]))
            else:
                settle(True, m.get("ok"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(self.lost or UnknownError("the connection to the pyidb host was lost"))

    def close(self, why: BaseException) -> None:
        if self.lost is None:
            self.lost = why
        transport, self.transport = self.transport, None
        if transport is not None:
            if transport.get_extra_info("socket") is not None and _loop_closed(transport):
                # The event loop that made it is gone (asyncio.run returned): close the socket itself.
                sock = transport.get_extra_info("socket")
                getattr(sock, "_sock", sock).close()
            else:
                transport.close()
        pending, self.pending = self.pending, {}
        for settle in pending.values():
            settle(False, self.lost)
        for listener in list(self.listeners.values()):
            listener({"event": "lost", "error": None})
        self.listeners.clear()

    def send(self, message: dict[str, Any], settle: Callable[[bool, Any], None] | None = None) -> int:
        """Send ``message`` (encoding it first: a value the wire cannot carry raises here)."""
        if self.lost is not None or self.transport is None:
            raise InvalidStateError(f"not connected to the pyidb host: {self.lost}")
        mid = self.last_id = next(self.ids)
        frame = encode_frame({**message, "id": mid})
        if settle is not None:
            self.pending[mid] = settle
        self.transport.write(frame)
        return mid

    def call(self, message: dict[str, Any]) -> SyncFuture[Any]:
        fut: SyncFuture[Any] = SyncFuture(asyncio.get_running_loop())

        def settle(ok: bool, value: Any) -> None:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

        self.send(message, settle)
        return fut


class RemoteFactory(api.Factory):
    """The databases of one plugin scope on a pyidb host, over its Unix socket.

    >>> f = RemoteFactory("/run/app/idb.sock", token)     # or pyidb.factory("pyidb+unix:///run/app/idb.sock")
    >>> async with await f.open("notes", 1, upgrade=...) as db: ...
    """

    def __init__(self, path: str, token: str | None = None) -> None:
        token = token if token is not None else os.environ.get("PYIDB_TOKEN")
        if not token:
            raise InvalidArgumentError(
                "a pyidb+unix factory needs the plugin's token: set PYIDB_TOKEN (the host gives it)"
            )
        self.path = path
        self.url = f"pyidb+unix://{path}"
        self._token = token
        self._conn: _Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    async def connection(self) -> _Connection:
        """The open connection of this event loop (connect and say hello on first use)."""
        loop = asyncio.get_running_loop()
        conn = self._conn
        if conn is not None and conn.lost is None and self._loop is loop:
            return conn
        if self._connecting is not None and self._loop is loop and not self._connecting.done():
            return await asyncio.shield(self._connecting)
        self._loop = loop
        self._connecting = loop.create_future()
        try:
            try:
                _, conn = await loop.create_unix_connection(_Connection, self.path)
            except OSError as exc:
                why = exc.strerror or exc
                raise UnknownError(f"cannot reach the pyidb host at {self.path}: {why}") from None
            await conn.call({"op": "hello", "token": self._token})
        except BaseException as exc:
            self._connecting.set_exception(exc)
            self._connecting.exception()  # retrieved: no "never retrieved" warning
            raise
        self._conn = conn
        self._connecting.set_result(conn)
        return conn

    async def open(
        self,
        name: str,
        version: int | None = None,
        *,
        upgrade: api.UpgradeCallback | None = None,
        blocked: api.BlockedCallback | None = None,
        blocking: api.VersionChangeCallback | None = None,
    ) -> api.Database:
        from .objects import open_database

        return await open_database(self, await self.connection(), name, version, upgrade, blocked, blocking)

    async def delete_database(self, name: str, *, blocked: api.BlockedCallback | None = None) -> None:
        from .objects import blocked_listener

        conn = await self.connection()
        fut = conn.call({"op": "delete_database", "name": name})
        with blocked_listener(conn, conn.last_id, blocked):
            await fut

    async def databases(self) -> list[dict[str, Any]]:
        conn = await self.connection()
        return list(await conn.call({"op": "databases"}))

    def close(self) -> None:
        """Disconnect (open transactions are aborted by the host)."""
        if self._conn is not None:
            self._conn.close(InvalidStateError("the factory was closed"))
            self._conn = None
