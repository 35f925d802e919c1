"""Live queries: who to wake after a commit, in this process and (in a browser) in other tabs.

Watchers register in a hub per database (every :class:`~pyidb.model.Client` of that database in
this process shares it). After a transaction that wrote commits, the client wakes every watcher
of the hub, and in a browser posts on a ``BroadcastChannel`` named after the database so the
clients of other tabs of the same origin wake theirs. A woken watcher re-runs its query and
yields only when the result changed.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from typing import Any

__all__ = ["Hub", "hub_for"]

_hubs: weakref.WeakKeyDictionary[Any, dict[str, Hub]] = weakref.WeakKeyDictionary()


class Hub:
    """Shared by the clients of one database in this process: watchers and the history clock
    (so two clients never stamp two versions of a record alike)."""

    def __init__(self, name: str) -> None:
        from .history import HybridClock

        self.name = name
        self.watchers: set[asyncio.Event] = set()
        self.clock = HybridClock()
        self._channel: Any = None
        self._proxy: Any = None
        self._open_channel()

    def _open_channel(self) -> None:
        if sys.platform != "emscripten":
            return
        try:
            import js  # type: ignore[import-not-found]
            from pyodide.ffi import create_proxy  # type: ignore[import-not-found]
        except ImportError:
            return
        if not hasattr(js, "BroadcastChannel"):
            return
        self._channel = js.BroadcastChannel.new(f"pyidb.model:{self.name}")
        if hasattr(self._channel, "unref"):  # Node: an open channel must not keep the process up
            self._channel.unref()
        self._proxy = create_proxy(lambda _event: self.wake(broadcast=False))
        self._channel.addEventListener("message", self._proxy)

    def wake(self, broadcast: bool = True) -> None:
        for event in list(self.watchers):
            event.set()
        if broadcast and self._channel is not None:
            self._channel.postMessage("changed")


def hub_for(factory: Any, name: str) -> Hub:
    """The hub of database ``name`` of ``factory`` (it lives as long as the factory)."""
    hubs = _hubs.setdefault(factory, {})
    hub = hubs.get(name)
    if hub is None:
        hub = hubs[name] = Hub(name)
    return hub
