"""The PostgreSQL storage's write buffer: a write transaction's puts and deletes, sent in batches.

Each storage call was one network round trip, and a ``put_many`` of N records made about 3N of
them (read the old record, write the record, write each index entry). Inside a write transaction
the storage holds its schema's write lock, so nothing but this transaction changes the data: its
writes can wait in memory and go to PostgreSQL a batch at a time (one statement per tree and kind),
before any read that needs them, when the batch is full, and with the COMMIT.

What the buffer knows, for one write transaction:

* ``pending``: per tree, the latest put (bytes) or delete (None) of each key not yet sent;
* ``absent``: per tree, key intervals ``[lo, hi)`` in which PostgreSQL holds no row (learnt from
  a read that found the next key past ``lo`` to be ``hi``, or none). A get of a key in such an
  interval needs no round trip: filling a store in key order (the usual bulk load, auto-increment
  keys) reads once. Sending a batch shrinks the intervals around the keys it wrote.

>>> b = WriteBuffer(); b.learn_absent(1, b"a", None); b.put(1, b"b", b"2")
>>> b.lookup(1, b"b"), b.lookup(1, b"c"), b.lookup(1, b"0")
((True, b'2'), (True, None), (False, None))
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from contextlib import AbstractContextManager, nullcontext
from typing import Any

try:  # an optional dependency: pip install 'pyidb[postgresql]'
    import psycopg
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

__all__ = ["FLUSH_ROWS", "WriteBuffer", "copy_data", "pipeline", "send_batches"]

#: Buffered rows that trigger sending a batch: large enough to amortize the round trip and the
#: statement, small enough to bound memory (the values are the engine's bytes, kept alive here).
FLUSH_ROWS = 20_000
#: Known-empty intervals kept per tree (most recent first); a lookup walks them.
_MAX_INTERVALS = 16
# A batch of at least this many puts is probed, and copied if all its keys are new.
COPY_ROWS = 256
# Pipeline mode (several statements, one round trip) needs libpq 14 or newer.
_PIPELINE = psycopg is not None and psycopg.Pipeline.is_supported()
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"


class WriteBuffer:
    """One write transaction's unsent writes and known-empty key intervals (see the module)."""

    __slots__ = ("absent", "pending", "size")

    def __init__(self) -> None:
        self.pending: dict[int, dict[bytes, bytes | None]] = {}
        self.absent: dict[int, list[tuple[bytes, bytes | None]]] = {}
        self.size = 0

    def clear(self) -> None:
        """Forget everything (the transaction ended)."""
        self.pending.clear()
        self.absent.clear()
        self.size = 0

    def lookup(self, tree: int, key: bytes) -> tuple[bool, bytes | None]:
        """``(True, value or None)`` if known without asking PostgreSQL, else ``(False, None)``."""
        rows = self.pending.get(tree)
        if rows is not None and key in rows:
            return True, rows[key]
        for lo, hi in self.absent.get(tree, ()):
            if lo <= key and (hi is None or key < hi):
                return True, None
        return False, None

    def known_absent(self, tree: int, key: bytes) -> bool:
        """True if PostgreSQL holds no row for ``key`` (whatever is pending for it)."""
        for lo, hi in self.absent.get(tree, ()):
            if lo <= key and (hi is None or key < hi):
                return True
        return False

    def learn_absent(self, tree: int, lo: bytes, hi: bytes | None) -> None:
        """PostgreSQL holds no row with ``lo <= key < hi`` (``hi`` None: unbounded)."""
        if hi is not None and hi <= lo:
            return
        spans = self.absent.setdefault(tree, [])
        spans.insert(0, (lo, hi))
        del spans[_MAX_INTERVALS:]

    def put(self, tree: int, key: bytes, value: bytes | None) -> None:
        """Buffer a put (``value`` bytes) or a delete (None) of ``key``."""
        rows = self.pending.get(tree)
        if rows is None:
            rows = self.pending[tree] = {}
        if key not in rows:
            self.size += 1
        rows[key] = value

    def put_many(self, tree: int, pairs: dict[bytes, bytes]) -> None:
        rows = self.pending.get(tree)
        if rows is None:
            rows = self.pending[tree] = {}
        before = len(rows)
        rows.update(pairs)
        self.size += len(rows) - before

    def drop(self, tree: int, keys: Any) -> None:
        """Forget the pending writes of ``keys`` (they are about to be written directly)."""
        rows = self.pending.get(tree)
        if rows:
            for key in keys:
                if rows.pop(key, 0) != 0:
                    self.size -= 1

    def wrote(self, tree: int, keys: Any) -> None:
        """``keys`` were written to PostgreSQL directly: they are no longer known absent."""
        if tree in self.absent:
            self._carve(tree, sorted(keys))

    def take(self, tree: int | None = None) -> list[tuple[int, list[bytes], list[bytes], list[bytes]]]:
        """Remove and return the pending writes (of ``tree``, or all) as
        ``(tree, put keys, put values, deleted keys)``, shrinking the known-empty intervals
        around the keys put (PostgreSQL will hold them once the batch is sent)."""
        trees = list(self.pending) if tree is None else [tree] if tree in self.pending else []
        out = []
        for t in trees:
            rows = self.pending.pop(t)
            self.size -= len(rows)
            keys: list[bytes] = []
            values: list[bytes] = []
            deleted: list[bytes] = []
            for key, value in rows.items():
                if value is None:
                    deleted.append(key)
                else:
                    keys.append(key)
                    values.append(value)
            if keys and t in self.absent:
                self._carve(t, sorted(keys))
            out.append((t, keys, values, deleted))
        return out

    def _carve(self, tree: int, keys: list[bytes]) -> None:
        """Keep of each interval only the parts below the first and above the last key put in it."""
        spans = []
        for lo, hi in self.absent[tree]:
            first = bisect_left(keys, lo)
            last = len(keys) if hi is None else bisect_left(keys, hi)
            if first == last:  # no key put inside
                spans.append((lo, hi))
                continue
            # The part above first: a load in key order goes on there (the list is cut from
            # the end when too long).
            above = keys[last - 1] + b"\x00"  # the least key greater than the last one put
            if hi is None or above < hi:
                spans.append((above, hi))
            if lo < keys[first]:
                spans.append((lo, keys[first]))
        self.absent[tree] = spans[:_MAX_INTERVALS]


def copy_data(tree: int, keys: list[bytes], values: list[bytes]) -> bytes:
    """The rows ``(tree, key, value)`` in PostgreSQL's binary COPY format (built here in one
    pass: psycopg's ``write_row`` costs a Python call or two per row)."""
    row = struct.pack(">hii", 3, 4, tree)  # 3 fields; the int4 tree
    size = struct.Struct(">i").pack
    parts = [_COPY_HEADER]
    add = parts.append
    for key, value in zip(keys, values, strict=True):
        add(row)
        add(size(len(key)))
        add(key)
        add(size(len(value)))
        add(value)
    add(_COPY_TRAILER)
    return b"".join(parts)


def pipeline(conn: Any) -> AbstractContextManager[Any]:
    """Statements sent together, their results read after one round trip (libpq >= 14)."""
    return conn.pipeline() if _PIPELINE else nullcontext()


def send_batches(conn: Any, t: dict[Any, str], batches: list[Any], commit: bool = False) -> None:
    """Write :meth:`WriteBuffer.take`'s batches (then COMMIT if ``commit``) on ``conn``: a big
    batch of keys PostgreSQL does not hold yet (a bulk load) is copied, the rest goes in one
    pipeline. Raises psycopg's error."""
    big = [b for b in batches if len(b[1]) >= COPY_ROWS]
    if big:
        with pipeline(conn):  # one round trip for every tree's probe
            probes = [conn.execute(t["probe"], (tree, min(keys), max(keys))) for tree, keys, _, _ in big]
        for (tree, keys, values, _), probe in zip(big, probes, strict=True):
            if probe.fetchone() is None:  # no stored key in the batch's span: all are new
                with conn.cursor().copy(t["copy"]) as copy:
                    copy.write(copy_data(tree, keys, values))
                keys.clear()
    with pipeline(conn):
        for tree, keys, values, deleted in batches:
            if deleted:
                conn.execute(t["delete_many"], (tree, deleted))
            if keys:
                conn.execute(t["put_many"], (tree, keys, values))
        if commit:
            conn.execute("COMMIT")
