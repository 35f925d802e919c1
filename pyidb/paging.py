"""Read a whole object store in pages, so that no caller holds all of it in memory.

>>> async for keys, values in pages(tx.object_store("notes")):
...     ...   # up to 1,000 records; keys is None for a store with a key path (they are in values)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .api import Key, ObjectStore
from .key_path import extract_key
from .key_range import KeyRange

__all__ = ["PAGE", "pages"]

PAGE = 1000
"""Records per page."""


async def pages(store: ObjectStore, size: int = PAGE
                ) -> AsyncIterator[tuple[list[Key] | None, list[Any]]]:
    """``(keys, values)`` pages in key order, each one get_all (and get_all_keys for a store
    without a key path) in the store's transaction; the next page starts after the last key."""
    key_path = store.key_path
    query: KeyRange | None = None
    while True:
        keys: list[Key] | None = None
        if key_path is None:
            keys_request = store.get_all_keys(query, size)
            found = await store.get_all(query, size)
            keys = await keys_request
        else:
            found = await store.get_all(query, size)
        if found:
            yield keys, found
        if len(found) < size:
            return
        last = keys[-1] if keys is not None else extract_key(found[-1], key_path)
        query = KeyRange.lower_bound(last, True)
