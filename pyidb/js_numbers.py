"""The JS number and date limits every module of pyidb agrees on, defined once.

>>> SAFE_INTEGER, KEY_INTEGER_LIMIT   # Number.MAX_SAFE_INTEGER, and 2**53 itself
(9007199254740991, 9007199254740992)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "KEY_INTEGER_LIMIT", "MILLISECOND", "SAFE_INTEGER"]

SAFE_INTEGER = 2**53 - 1
"""JS ``Number.MAX_SAFE_INTEGER``: ints beyond it are stored as BigInt (as Pyodide's to_js does)."""

KEY_INTEGER_LIMIT = 2**53
"""The largest int still exactly a JS number (with its neighbours): bigger ints are no keys,
versions stay below it, the key generator stops at it."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""JS dates count milliseconds from here."""

MILLISECOND = timedelta(milliseconds=1)
