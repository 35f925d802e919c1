"""Spec 2.7.2 "transaction scheduling": when a created transaction may start.

A transaction starts once no unfinished transaction created before it has an overlapping scope,
unless both are readonly (readonly ones run side by side; readwrite ones with overlapping scopes
run one after another, in creation order). A versionchange transaction overlaps every store of
its database.

One more rule comes from the storage, which has a single write transaction: only one readwrite
or versionchange transaction runs at a time per factory. The spec allows an implementation to
run fewer transactions in parallel than it could, never more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .transaction import EngineTransaction


def _overlaps(a: EngineTransaction, b: EngineTransaction) -> bool:
    if a.db_state is not b.db_state:
        return False
    if a.mode == "versionchange" or b.mode == "versionchange":
        return True
    return not a.scope_set.isdisjoint(b.scope_set)


class Scheduler:
    """Starts the factory's transactions in the order and overlap the spec allows."""

    def __init__(self) -> None:
        self._unfinished: list[EngineTransaction] = []

    def add(self, tx: EngineTransaction) -> None:
        self._unfinished.append(tx)
        self._start_ready()

    def finished(self, tx: EngineTransaction) -> None:
        try:
            self._unfinished.remove(tx)
        except ValueError:
            return
        self._start_ready()

    def _start_ready(self) -> None:
        pending = self._unfinished
        writer = any(t.started and t.mode != "readonly" for t in pending)
        for i, tx in enumerate(pending):
            if tx.started:
                continue
            if tx.mode != "readonly" and writer:
                continue
            if any(
                (tx.mode != "readonly" or earlier.mode != "readonly") and _overlaps(tx, earlier)
                for earlier in pending[:i]
            ):
                continue
            tx.start()
            if tx.mode != "readonly":
                writer = True
