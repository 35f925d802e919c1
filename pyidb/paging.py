"""Read a whole object store in pages, so that no caller holds all of it in memory.

>>> async for keys, values in pages(tx.object_store("notes")):
...     ...   # up to 1,000 records; keys is None for a store with a key path (they are in values)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .api import Key, ObjectStore
from .key_range import KeyRange

__all__ = ["PAGE", "pages"]

PAGE = 1000
"""Records per page."""


async def pages(store: ObjectStore, size: int = PAGE
                ) -> AsyncIterator[tuple[list[Key] | None, list[Any]]]:
    """``(keys, values)`` pages in key order, each one get_all_records in the store's
    transaction; the next page starts after the last key."""
    in_line = store.key_path is not None
    query: KeyRange | None = None
    while True:
        records = await store.get_all_records(query, size)
        if records:
            yield (None if in_line else [r.key for r in records]), [r.value for r in records]
        if len(records) < size:
            return
        query = KeyRange.lower_bound(records[-1].key, True)
