"""What the client tells plugins about each write (the hook the sync layer records changes with).

A plugin is any object with ``stores`` (extra object stores it needs, in the shape of
:func:`pyidb.model.storage.layout`) and ``on_write(tx, event)``, called for every record the
client creates, updates or deletes, inside the same IndexedDB transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..api import Transaction

__all__ = ["Plugin", "WriteEvent"]


@dataclass(frozen=True)
class WriteEvent:
    """One record written. ``before``/``after`` are records as the client returns them (None for a
    create's before and a delete's after); ``changed`` names the fields an update changed."""

    model: str
    op: Literal["create", "update", "delete"]
    key: Any
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed: tuple[str, ...] = ()
    origin: str = "local"


class Plugin(Protocol):
    stores: dict[str, dict[str, Any]]

    def on_write(self, tx: Transaction, event: WriteEvent) -> None: ...
