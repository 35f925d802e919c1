"""Calling the user's event callbacks (versionchange, blocked, close) the same way everywhere."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

_background: set[asyncio.Future[Any]] = set()


def call_user(callback: Any, *args: Any) -> None:
    """Call ``callback(*args)``; a coroutine it returns runs as its own task.

    >>> call_user(db.on_versionchange, db, 1, 2)
    """
    result = callback(*args)
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        _background.add(task)  # keep a reference until it is done
        task.add_done_callback(_background.discard)
