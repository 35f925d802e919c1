"""Unbounded range scans served in growing chunks, each a fresh seek after the last key.

A storage whose reads are queries (SQLite, PostgreSQL) answers an unbounded ``scan`` this way, so
no statement stays open while the engine holds the iterator and a write made between two chunks
never invalidates it::

    yield from chunked_scan(lambda lo, hi, n: run_query(lo, hi, n), lo, hi, reverse=False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

FIRST_CHUNK = 64
MAX_CHUNK = 4096

#: ``fetch(lo, hi, limit)`` -> at most ``limit`` pairs with lo <= key < hi, in scan order.
Fetch = Callable[[bytes | None, bytes | None, int], Sequence[tuple[bytes, bytes]]]


def chunked_scan(
    fetch: Fetch, lo: bytes | None, hi: bytes | None, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    """Every pair of ``fetch``'s range, asking for 64, 128, ... 4096 pairs at a time."""
    chunk = FIRST_CHUNK
    while True:
        rows = fetch(lo, hi, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        if reverse:
            hi = rows[-1][0]  # hi is exclusive: resume strictly below the last key
        else:
            lo = rows[-1][0] + b"\x00"  # the smallest key strictly above the last one
        chunk = min(chunk * 2, MAX_CHUNK)
