"""``BrowserDatabase``: a connection (``IDBDatabase``) held by the shim under an id.

Its ``versionchange`` event calls :attr:`on_versionchange` (unset: the connection stays open, as
in a browser); a close by the browser (e.g. the database was deleted from devtools) calls
:attr:`on_close`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .. import api
from ..arguments import check_flag, check_mode_and_durability, check_store_name, check_store_names
from ..callbacks import call_user
from ..errors import InvalidStateError
from . import shim
from .shim import Event
from .store import BrowserObjectStore, key_path_json
from .transaction import BrowserTransaction


class BrowserDatabase(api.Database):
    """A connection to a database of the browser's IndexedDB."""

    def __init__(self, db_id: int, name: str) -> None:
        self.shim_id = db_id
        self._name = name
        self._closed = False
        self.upgrade_tx: BrowserTransaction | None = None
        self._version = 0
        self._store_names: list[str] = []
        self._transactions: set[BrowserTransaction] = set()

    def _refresh(self) -> None:
        if not self._closed:
            text = shim.js().dbInfo(self.shim_id)
            if text and text[0] != shim.ERR:
                self._version, self._store_names = json.loads(text)

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int:
        self._refresh()
        return self._version

    @property
    def object_store_names(self) -> list[str]:
        self._refresh()
        return list(self._store_names)

    # -- events ------------------------------------------------------------------------------
    def on_event(self, kind: str, text: str) -> bool:
        if kind == Event.VERSION_CHANGE:
            info = json.loads(text)
            if self.on_versionchange is not None:
                call_user(self.on_versionchange, self, info["old"], info["new"])
        elif kind == Event.CLOSED:
            self._closed = True
            shim.handlers.pop(self.shim_id, None)
            shim.js().dbClose(self.shim_id)
            if self.on_close is not None:
                call_user(self.on_close, self)
        return False

    # -- schema (inside upgrade) -------------------------------------------------------------
    def _live_upgrade(self, what: str) -> BrowserTransaction:
        tx = self.upgrade_tx
        if tx is None or tx.finished:
            raise InvalidStateError(f"{what} works only inside the upgrade callback of open()")
        return tx

    def create_object_store(self, name: str, *, key_path: api.KeyPath = None,
                            auto_increment: bool = False) -> BrowserObjectStore:
        name = check_store_name(name)
        auto_increment = check_flag(auto_increment, "auto_increment")
        tx = self._live_upgrade("create_object_store()")
        path = "" if key_path is None else key_path_json(key_path)
        shim.check(shim.js().createObjectStore(self.shim_id, name, path, auto_increment))
        old = tx._store_handles.pop(name, None)
        if old is not None:
            old.mark_deleted()
        return tx.object_store(name)

    def delete_object_store(self, name: str) -> None:
        name = check_store_name(name)
        tx = self._live_upgrade("delete_object_store()")
        shim.check(shim.js().deleteObjectStore(self.shim_id, name))
        old = tx._store_handles.pop(name, None)
        if old is not None:
            old.mark_deleted()

    # -- transactions ------------------------------------------------------------------------
    def transaction(self, store_names: str | Sequence[str], mode: Any = "readonly", *,
                    durability: Any = "default") -> BrowserTransaction:
        names = check_store_names(store_names)
        mode, durability = check_mode_and_durability(mode, durability)
        if self._closed:
            raise InvalidStateError(f"the connection to database {self._name!r} is closed")
        tx = BrowserTransaction.start(self, names, mode, durability)
        self._transactions.add(tx)
        return tx

    def transaction_finished(self, tx: BrowserTransaction) -> None:
        self._transactions.discard(tx)

    def close(self) -> None:
        if not self._closed:
            self._refresh()
            self._closed = True
            if self.upgrade_tx is None:  # inside the upgrade, open() still needs its events
                shim.handlers.pop(self.shim_id, None)
            shim.js().dbClose(self.shim_id)


__all__ = ["BrowserDatabase"]
