"""Version history (``@@history``): every write of a record also stores its new version, stamped
with a hybrid logical clock, in ``_history_<Model>`` in the same transaction.

A version is an int: milliseconds since the epoch * 1000 + a logical counter. The clock never goes
back: if the wall clock does (or two writes share a millisecond), the counter moves on instead.
``history(where=)`` lists ``{"version", "at", "data"}`` newest first (``data`` None: deleted);
``as_of=`` (a version or a datetime) reads the records as they were then.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from ..key_range import KeyRange
from .errors import InvalidValueError
from .schema import Model
from .storage import decode, history_store

__all__ = ["HybridClock", "as_of_version", "records_as_of", "require_history", "versions_of"]

_TICKS = 1000  # logical steps per millisecond


class HybridClock:
    """``clock.next()`` -> a version above every version it gave (or was told of)."""

    def __init__(self, last: int = 0, wall: Any = None) -> None:
        self.last = last
        self._wall = wall or (lambda: int(time.time() * 1000))

    def observe(self, version: int) -> None:
        self.last = max(self.last, version)

    def next(self) -> int:
        self.last = max(self.last + 1, self._wall() * _TICKS)
        return self.last


def version_time(version: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(version // _TICKS / 1000, datetime.UTC)


def require_history(model: Model, feature: str, value: Any = None) -> None:
    if not model.history:
        raise InvalidValueError(f"{feature} needs version history on {model.name}: add @@history "
                                "to the model (or __history__ = True)", model=model.name,
                                value=value)


def as_of_version(model: Model, as_of: Any) -> int:
    """The newest version included when reading ``as_of`` (a version int or a datetime)."""
    require_history(model, "as_of", as_of)
    if isinstance(as_of, datetime.datetime):
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=datetime.UTC)
        ms = int(as_of.timestamp() * 1000)
        return ms * _TICKS + _TICKS - 1
    if isinstance(as_of, bool) or not isinstance(as_of, int):
        raise InvalidValueError(f"as_of takes a version (int) or a datetime, not {as_of!r}",
                                model=model.name, value=as_of)
    return as_of


async def versions_of(tx: Any, model: Model, key: Any) -> list[dict[str, Any]]:
    rows = await tx.object_store(history_store(model.name)).get_all(
        KeyRange.bound([key], [key, []], False, True))
    return [{"version": r["version"], "at": version_time(r["version"]),
             "data": None if r["data"] is None else decode(model, r["data"])}
            for r in reversed(rows)]


async def records_as_of(tx: Any, model: Model, version: int) -> list[dict[str, Any]]:
    """Every record of ``model`` as it was at ``version`` (in id order)."""
    rows = await tx.object_store(history_store(model.name)).get_all()
    latest: dict[Any, dict[str, Any]] = {}
    order: list[Any] = []
    for r in rows:  # sorted by [key, version]: the last one <= version wins per key
        if r["version"] > version:
            continue
        k = repr(r["key"])
        if k not in latest:
            order.append(k)
        latest[k] = r
    return [decode(model, latest[k]["data"]) for k in order if latest[k]["data"] is not None]


async def last_version(tx: Any, store: str) -> int:
    cursor = await tx.object_store(store).index("index(version)").open_key_cursor(None, "prev")
    return cursor.key if cursor is not None else 0
