"""Byte bounds over encoded keys: every ``+ b"\\xff"`` and ``+ b"\\x00"`` of the engine, named.

Trees hold ``encode_key(pk)`` (records) or ``encode_key(ik) + encode_key(pk)`` (index entries).
Encoded keys are self-delimiting, no one is a prefix of another, and none starts with 0xFF, so:

* :func:`past` -- ``enc + b"\\xff"``: an exclusive upper bound just past ``enc`` and every entry
  that starts with it (all entries of index key ``ik``);
* :func:`after` -- ``entry + b"\\x00"``: the smallest byte string strictly above ``entry``;
* :func:`index_key_of` -- the ``encode_key(ik)`` part of an index entry, given its primary key.

Bounds are ``(lo, hi)``: lo inclusive, hi exclusive, None unbounded (as the storage takes them)::

    range_bounds(KeyRange.bound(1, 2, True, False))  # (past(enc(1)), past(enc(2)))
"""

from __future__ import annotations

from typing import Any

from ..key_encoding import encode_key
from ..key_range import KeyRange

__all__ = ["Bounds", "after", "index_key_of", "past", "point_bounds", "query_bounds", "range_bounds"]

Bounds = tuple[bytes | None, bytes | None]


def past(encoded: bytes) -> bytes:
    """Just past ``encoded`` and every entry starting with it: ``past(encode_key(1))``."""
    return encoded + b"\xff"


def after(entry: bytes) -> bytes:
    """The smallest byte string strictly above ``entry`` (resume a scan after it)."""
    return entry + b"\x00"


def index_key_of(entry: bytes, pk: bytes) -> bytes:
    """``encode_key(ik)`` of the index entry ``encode_key(ik) + pk``."""
    return entry[: len(entry) - len(pk)]


def point_bounds(encoded: bytes) -> Bounds:
    """Every entry of one encoded key (a record, or all entries of an index key)."""
    return encoded, past(encoded)


def range_bounds(key_range: KeyRange | None) -> Bounds:
    """The bounds that select ``key_range`` in a record tree or, over the index key, an index tree.

    >>> range_bounds(KeyRange.lower_bound(1, open=True))[0] == past(encode_key(1))
    True
    """
    if key_range is None:
        return None, None
    lo = hi = None
    # the normalized keys themselves (the public lower/upper give copies)
    if key_range._lower is not None:
        lo = encode_key(key_range._lower)
        if key_range._lower_open:
            lo = past(lo)
    if key_range._upper is not None:
        hi = encode_key(key_range._upper)
        if not key_range._upper_open:
            hi = past(hi)
    return lo, hi


def query_bounds(query: Any) -> Bounds:
    """A normalized query (:func:`pyidb.key_range.to_query`: a key, a KeyRange, or None) as
    bounds; a key skips building a KeyRange."""
    if query is not None and not isinstance(query, KeyRange):
        return point_bounds(encode_key(query))
    return range_bounds(query)
