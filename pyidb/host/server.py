"""The host socket: the IndexedDB API of each plugin's scope, served over a Unix socket.

    python -m pyidb.host serve --config host.toml --socket /run/app/idb.sock

A plugin connects with ``pyidb.factory("pyidb+unix:///run/app/idb.sock")`` and its token (see
:mod:`pyidb.remote`). The first frame must be ``{"op": "hello", "token": ...}``; the token picks
the plugin, and every later operation of the connection goes through that plugin's scoped
factory (:mod:`pyidb.scopes`), so database names are always the plugin's own and stores outside
its allowlist do not exist for it. Nothing a client sends is trusted: an unknown operation or a
forged id is an error reply; an oversized or malformed frame closes that connection; a client
that disconnects has its open transactions aborted. Other connections are unaffected.

Events (``{"event": ..., "to": N}``) go to a request id (upgrade, blocked), a database number
(versionchange, closed) or a transaction number (done). A client answers each versionchange with
``versionchange_done`` once its handler ran, so ``blocked`` is decided after the handlers (see
``_Session._blocked``). An upgrade transaction that ends on the host's side (a request's error
aborted it) ends the upgrade at once, whatever the client sends later.

Transactions are held open by the server until the client commits or aborts them (the client
library commits when its transaction becomes inactive with no request pending, the browser's
rule, so code reads as it does in-process); the server never commits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from .. import api
from ..errors import AbortError, DataError, Error, InvalidAccessError, InvalidStateError, NotFoundError
from ..remote.frames import MAX_FRAME, FrameError, FrameReader, decode_query, encode_frame, error_to_wire
from ..sync_future import SyncFuture
from . import Host

__all__ = ["serve"]

log = logging.getLogger("pyidb.host")

_GET_ALL = ("get_all", "get_all_keys", "get_all_records")
_ACK_WAIT = 10.0  # seconds the host waits for plugins' versionchange handlers before "blocked"


def store_schema(store: api.ObjectStore) -> dict[str, Any]:
    """What a client needs to answer a store's and its indexes' properties without a round trip."""
    indexes = {}
    for name in store.index_names:
        index = store.index(name)
        indexes[name] = {"key_path": index.key_path, "unique": index.unique, "multi_entry": index.multi_entry}
    return {"key_path": store.key_path, "auto_increment": store.auto_increment, "indexes": indexes}


class _Session(asyncio.Protocol):
    """One client connection: its plugin, and the objects it has opened (by number)."""

    def __init__(self, host: Host, max_frame: int, shared: list[Any] | None = None) -> None:
        self.host = host
        #: (session, db number, ack) of the versionchange events fired in this loop turn, by
        #: every session of the server (one plugin's open can be blocked by another's client)
        self.shared: list[Any] = [] if shared is None else shared
        self.acks: dict[int, list[asyncio.Future[None]]] = {}
        self.reader = FrameReader(max_frame)
        self.transport: asyncio.Transport | None = None
        self.factory: api.Factory | None = None
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}  # id(object) -> number
        self.upgrades: dict[int, SyncFuture[BaseException | None]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.counter = 0

    # -- connection -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except FrameError as exc:
            self.fail(str(exc))
            return
        for message in messages:
            if self.transport is None or self.transport.is_closing():
                return
            self.dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for fut in list(self.upgrades.values()):  # settling one runs its upgrade on (and pops it)
            if not fut.done():
                fut.set_result(AbortError("the client disconnected during the upgrade"))
        for obj in list(self.objects.values()):
            if isinstance(obj, api.Transaction) and not obj._is_finished():
                with contextlib.suppress(Error):
                    obj.abort()  # a client that went away commits nothing
        for obj in list(self.objects.values()):
            if isinstance(obj, api.Database):
                obj.close()
        self.objects.clear()
        for number in list(self.acks):
            self._acked(number)
        for task in list(self.tasks):
            task.cancel()

    def fail(self, why: str) -> None:
        """A protocol violation: say why, then close this connection (only this one)."""
        log.warning("closing a client connection: %s", why)
        self.send({"id": None, "error": {"name": "DataError", "message": why}})
        if self.transport is not None:
            self.transport.close()

    def send(self, message: dict[str, Any]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.transport.write(encode_frame(message))
            except Error as exc:  # a value the wire cannot carry: report it instead
                if "id" in message:
                    self.transport.write(encode_frame({"id": message["id"], "error": error_to_wire(exc)}))

    def reply(self, mid: Any, result: Any = None) -> None:
        self.send({"id": mid, "ok": result})

    def reply_error(self, mid: Any, exc: BaseException) -> None:
        if not isinstance(exc, Error):
            log.exception("unexpected failure serving a client", exc_info=exc)
        self.send({"id": mid, "error": error_to_wire(exc)})

    # -- object numbers -------------------------------------------------------------------
    def register(self, obj: Any) -> int:
        found = self.ids.get(id(obj))
        if found is not None and self.objects.get(found) is obj:
            return found
        self.counter += 1
        self.objects[self.counter] = obj
        self.ids[id(obj)] = self.counter
        return self.counter

    def drop(self, number: int) -> None:
        obj = self.objects.pop(number, None)
        if obj is not None:
            self.ids.pop(id(obj), None)

    def get(self, message: dict[str, Any], key: str, kind: type) -> Any:
        obj = self.objects.get(message.get(key))  # type: ignore[arg-type]
        if not isinstance(obj, kind):
            raise InvalidStateError(f"no open {kind.__name__.lower()} numbered {message.get(key)!r}")
        return obj

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(self, m: dict[str, Any]) -> None:
        mid = m.get("id")
        op = m.get("op")
        if self.factory is None and op != "hello":
            self.fail("the first frame must be hello with a token")
            return
        handler: Callable[[_Session, dict[str, Any]], Any] | None = _OPS.get(op)  # type: ignore[arg-type]
        if handler is None:
            self.reply_error(mid, InvalidAccessError(f"unknown operation {str(op)[:40]!r}"))
            return
        try:
            result = handler(self, m)
        except Exception as exc:
            self.reply_error(mid, exc)
            return
        if isinstance(result, asyncio.Future) or hasattr(result, "add_done_callback"):
            result.add_done_callback(lambda fut: self._settle(mid, fut))
        elif asyncio.iscoroutine(result):
            task = asyncio.get_running_loop().create_task(result)
            self.tasks.add(task)
            task.add_done_callback(lambda t: (self.tasks.discard(t), self._settle(mid, t)))
        else:
            self.reply(mid, result)

    def _settle(self, mid: Any, fut: Any) -> None:
        if getattr(fut, "cancelled", lambda: False)():
            return
        exc = fut.exception()
        if exc is not None:
            self.reply_error(mid, exc)
        else:
            self.reply(mid, fut.result())

    # -- operations -----------------------------------------------------------------------
    def op_hello(self, m: dict[str, Any]) -> Any:
        if self.factory is not None:
            raise InvalidStateError("hello was already said on this connection")
        token = m.get("token")
        plugin = self.host.plugin_for_token(token) if isinstance(token, str) else None
        if plugin is None:
            self.fail("unknown token")
            return None
        self.factory = self.host.factory_for(plugin)
        return {"plugin": plugin}

    async def op_open(self, m: dict[str, Any]) -> Any:
        assert self.factory is not None
        mid = m.get("id")
        loop = asyncio.get_running_loop()

        async def upgrade(db: api.Database, old: int, new: int, tx: api.Transaction) -> None:
            tx._hold()
            number = self.register(tx)
            # A pyidb request-like future: the engine lets an upgrade wait only on those (the
            # transaction is held, so it stays open while the client works).
            fut = self.upgrades[number] = SyncFuture(loop)
            stores = {n: store_schema(tx.object_store(n)) for n in tx.object_store_names}
            self.send({"event": "upgrade", "to": mid, "db": self.register(db), "tx": number,
                       "old": old, "new": new, "stores": stores})
            self.watch(number, tx)
            outcome = await fut
            self.upgrades.pop(number, None)
            if outcome is not None:
                raise outcome
            tx.commit()

        def versionchange(db: api.Database, old: int, new: int | None) -> None:
            number = self.register(db)
            ack: asyncio.Future[None] = loop.create_future()
            self.acks.setdefault(number, []).append(ack)
            if not self.shared:  # versionchange events and blocked come in one loop turn
                loop.call_soon(self.shared.clear)
            self.shared.append((self, number, ack))
            self.send({"event": "versionchange", "to": number, "old": old, "new": new})

        db = await self.factory.open(
            m.get("name"), m.get("version"), upgrade=upgrade if m.get("upgrade") else None,
            blocked=self._blocked(mid), blocking=versionchange,
        )
        number = self.register(db)
        db.on_close = lambda _: self.send({"event": "closed", "to": number})
        names = db.object_store_names
        stores = {}
        if names:  # the schema, read once: the client answers store properties from it
            tx = db.transaction(names)
            stores = {n: store_schema(tx.object_store(n)) for n in names}
        return {"db": number, "name": db.name, "version": db.version, "stores": stores}

    def _blocked(self, mid: Any) -> Callable[[int, int | None], None]:
        """``blocked`` for open/delete_database of request ``mid``.

        The engine decides "blocked" right after firing versionchange, but a plugin's handler
        runs in its own process: its ``close()`` reaches the host later. So the host waits for
        every plugin connection it fired versionchange on to answer (``versionchange_done``,
        sent after the handler ran, or a close, or a disconnect; at most ``_ACK_WAIT`` s), and
        tells the client ``blocked`` only if one of them is still open, as in-process.
        """
        def blocked(old: int, new: int | None) -> None:
            fired, self.shared[:] = list(self.shared), []

            async def decide() -> None:
                waiting = [ack for _, _, ack in fired if not ack.done()]
                if waiting:
                    await asyncio.wait(waiting, timeout=_ACK_WAIT)
                still_open = [s for s, number, _ in fired if number in s.objects]
                if still_open or not fired:
                    self.send({"event": "blocked", "to": mid, "old": old, "new": new})

            task = asyncio.get_running_loop().create_task(decide())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        return blocked

    def _acked(self, number: Any) -> None:
        for ack in self.acks.pop(number, ()):
            if not ack.done():
                ack.set_result(None)

    def op_versionchange_done(self, m: dict[str, Any]) -> Any:
        self._acked(m.get("db"))

    async def op_delete_database(self, m: dict[str, Any]) -> Any:
        assert self.factory is not None
        mid = m.get("id")
        await self.factory.delete_database(
            m.get("name"),
            blocked=self._blocked(mid),
        )

    async def op_databases(self, m: dict[str, Any]) -> Any:
        assert self.factory is not None
        return await self.factory.databases()

    def op_close(self, m: dict[str, Any]) -> Any:
        db = self.get(m, "db", api.Database)
        db.close()
        self.drop(m["db"])
        self._acked(m["db"])

    def op_transaction(self, m: dict[str, Any]) -> Any:
        db = self.get(m, "db", api.Database)
        mid = m.get("id")
        # The client numbers its transactions (minus its request id) so it can use one at once.
        if not isinstance(mid, int) or mid <= 0 or -mid in self.objects:
            raise InvalidStateError("a transaction request needs a new positive id")
        mode, durability = m.get("mode", "readonly"), m.get("durability", "default")
        tx = db.transaction(m.get("stores"), mode, durability=durability)
        tx._hold()
        self.objects[-mid] = tx
        self.ids[id(tx)] = -mid
        self.watch(-mid, tx)

    def watch(self, number: int, tx: api.Transaction) -> None:
        """Tell the client when the transaction ends (its ``done``), then forget it."""

        def finished(fut: Any) -> None:
            exc = fut.exception()
            upgrade = self.upgrades.get(number)
            if upgrade is not None and not upgrade.done():
                # The upgrade transaction ended on the host's side (a request's error aborted
                # it): the upgrade is over now, whatever the client sends later. Waiting for the
                # client's commit or abort here left open() -- and every later open of the
                # database -- waiting forever once the transaction's number was forgotten.
                upgrade.set_result(exc or AbortError("the upgrade transaction was aborted"))
            self.send({"event": "done", "to": number, "error": None if exc is None else error_to_wire(exc)})
            self.drop(number)

        tx.done.add_done_callback(finished)

    def op_commit(self, m: dict[str, Any]) -> Any:
        fut = self.upgrades.get(m.get("tx"))  # type: ignore[arg-type]
        if fut is not None:
            fut.done() or fut.set_result(None)
        else:
            self.get(m, "tx", api.Transaction).commit()

    def op_abort(self, m: dict[str, Any]) -> Any:
        fut = self.upgrades.get(m.get("tx"))  # type: ignore[arg-type]
        tx = None if fut is not None else self.get(m, "tx", api.Transaction)
        if fut is not None:
            error = m.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            fut.done() or fut.set_result(AbortError(str(message or "the upgrade was aborted")))
        elif tx is not None and not tx._is_finished():
            tx.abort()

    def _store(self, m: dict[str, Any]) -> api.ObjectStore:
        tx = self.get(m, "tx", api.Transaction)
        name = m.get("store")
        if not isinstance(name, str):
            raise NotFoundError(f"no object store named {name!r}")
        return tx.object_store(name)

    @staticmethod
    def _args(m: dict[str, Any]) -> list[Any]:
        args = m.get("args") or []
        if not isinstance(args, list):
            raise DataError("args must be a list")
        return args

    @staticmethod
    def _get_all(source: Any, method: str, args: list[Any]) -> Any:
        """getAll/getAllKeys/getAllRecords: (query, count, direction); records as triples."""
        request = getattr(source, method)(decode_query(args[0] if args else None), *args[1:3])
        if method != "get_all_records":
            return request
        return request.map(lambda records: [[r.key, r.primary_key, r.value] for r in records])

    def op_store(self, m: dict[str, Any]) -> Any:
        store = self._store(m)
        method = m.get("method")
        args = self._args(m)
        if method in ("get", "get_key", "count", "delete"):
            return getattr(store, method)(decode_query(args[0] if args else None))
        if method in _GET_ALL:
            return self._get_all(store, method, args)  # type: ignore[arg-type]
        if method in ("add", "put", "add_many", "put_many"):
            return getattr(store, method)(*args[:2])
        if method == "clear":
            return store.clear()
        if method == "get_many":
            return store.get_many(args[0] if args else [])
        if method == "delete_many":
            return store.delete_many([decode_query(q) for q in (args[0] if args else [])])
        raise InvalidAccessError(f"unknown store method {str(method)[:40]!r}")

    def op_index(self, m: dict[str, Any]) -> Any:
        index = self._store(m).index(m.get("index"))  # type: ignore[arg-type]
        method = m.get("method")
        args = self._args(m)
        if method in ("get", "get_key", "count"):
            return getattr(index, method)(decode_query(args[0] if args else None))
        if method in _GET_ALL:
            return self._get_all(index, method, args)  # type: ignore[arg-type]
        raise InvalidAccessError(f"unknown index method {str(method)[:40]!r}")

    def op_cursor(self, m: dict[str, Any]) -> Any:
        source: Any = self._store(m)
        if m.get("index") is not None:
            source = source.index(m["index"])
        query, direction = decode_query(m.get("query")), m.get("direction", "next")
        opener = source.open_key_cursor if m.get("key_only") else source.open_cursor
        opened = opener(query, direction)
        return self._cursor_reply(opened._request, None)

    def _cursor_reply(self, request: Any, number: int | None) -> Any:
        out: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def settle(fut: Any) -> None:
            exc = fut.exception()
            if exc is not None:
                out.set_exception(exc)
                return
            cursor = fut.result()
            if cursor is None:
                if number is not None:
                    self.drop(number)
                out.set_result(None)
                return
            state = {"cursor": self.register(cursor), "key": cursor.key, "primary_key": cursor.primary_key}
            if isinstance(cursor, api.CursorWithValue):
                state["value"] = cursor.value
            out.set_result(state)

        request.add_done_callback(settle)
        return out

    def op_cursor_move(self, m: dict[str, Any]) -> Any:
        cursor = self.get(m, "cursor", api.Cursor)
        count, key, primary_key = m.get("count", 1), m.get("key"), m.get("primary_key")
        if primary_key is not None:
            request = cursor.continue_primary_key(key, primary_key)
        elif count != 1:
            request = cursor.advance(count)
        else:
            request = cursor.continue_(key)
        return self._cursor_reply(request, m["cursor"])

    def op_cursor_update(self, m: dict[str, Any]) -> Any:
        return self.get(m, "cursor", api.Cursor).update(m.get("value"))

    def op_cursor_delete(self, m: dict[str, Any]) -> Any:
        return self.get(m, "cursor", api.Cursor).delete()

    def _upgrade_db(self, m: dict[str, Any]) -> api.Database:
        return self.get(m, "tx", api.Transaction).db

    def op_create_store(self, m: dict[str, Any]) -> Any:
        store = self._upgrade_db(m).create_object_store(
            m.get("name"), key_path=m.get("key_path"), auto_increment=bool(m.get("auto_increment"))  # type: ignore[arg-type]
        )
        return store_schema(store)

    def op_delete_store(self, m: dict[str, Any]) -> Any:
        self._upgrade_db(m).delete_object_store(m.get("name"))  # type: ignore[arg-type]

    def op_create_index(self, m: dict[str, Any]) -> Any:
        index = self._store(m).create_index(
            m.get("name"), m.get("key_path"), unique=bool(m.get("unique")),  # type: ignore[arg-type]
            multi_entry=bool(m.get("multi_entry")),
        )
        return {"key_path": index.key_path, "unique": index.unique, "multi_entry": index.multi_entry}

    def op_delete_index(self, m: dict[str, Any]) -> Any:
        self._store(m).delete_index(m.get("name"))  # type: ignore[arg-type]

    def op_rename_store(self, m: dict[str, Any]) -> Any:
        store = self._store({**m, "store": m.get("name")})
        new = m.get("new")
        allowed = getattr(self.factory, "allowed", None)
        if isinstance(new, str) and allowed is not None and not allowed(new):
            # as create_object_store in a scope: a name outside the allowlist does not exist
            raise NotFoundError(f"no object store named {new!r}")
        _renamable(store).name = new

    def op_rename_index(self, m: dict[str, Any]) -> Any:
        _renamable(self._store(m).index(m.get("name"))).name = m.get("new")  # type: ignore[arg-type]


def _renamable(handle: Any) -> Any:
    """The object whose ``name`` can be set: pyidb.scopes' wrappers forward reads of ``name``
    only, so a rename goes to the backend's own handle (the allowlist was checked above)."""
    prop = getattr(type(handle), "name", None)
    if isinstance(prop, property) and prop.fset is None and hasattr(handle, "_inner"):
        return handle._inner
    return handle


_OPS: dict[str, Callable[..., Any]] = {
    name[3:]: fn for name, fn in vars(_Session).items() if name.startswith("op_")
}


async def serve(host: Host, path: str, *, max_frame: int = MAX_FRAME,
                ready: Callable[[], None] | None = None) -> None:
    """Serve ``host``'s plugins on the Unix socket ``path`` until cancelled."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    loop = asyncio.get_running_loop()
    shared: list[Any] = []
    server = await loop.create_unix_server(lambda: _Session(host, max_frame, shared), path)
    os.chmod(path, 0o600)  # plugins authenticate with tokens; the file mode is a second fence
    try:
        async with server:
            if ready is not None:
                ready()
            await server.serve_forever()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
