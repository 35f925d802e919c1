"""The JS number and date limits every module of pyidb agrees on, defined once.

>>> SAFE_INTEGER, KEY_INTEGER_LIMIT   # Number.MAX_SAFE_INTEGER, and 2**53 itself
(9007199254740991, 9007199254740992)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "KEY_INTEGER_LIMIT", "MILLISECOND", "SAFE_INTEGER", "from_js_number"]

SAFE_INTEGER = 2**53 - 1
"""JS ``Number.MAX_SAFE_INTEGER``, the one line between Python ints and JS numbers, in values and
keys alike (as Pyodide's to_js/to_py draw it): an int within ±SAFE_INTEGER is a JS number; any
other int is a BigInt (a value, never a key), so ``2**53`` is no key on any backend while the
float ``2.0**53`` is; an integral JS number beyond it reads back as a float."""

KEY_INTEGER_LIMIT = 2**53
"""Versions stay below it and the key generator stops at it (spec: 2**53)."""


def from_js_number(n: int) -> int | float:
    """An integral JS number as Python reads it: an int within ±SAFE_INTEGER, else a float.

    >>> from_js_number(2**53 - 1), from_js_number(2**53)
    (9007199254740991, 9007199254740992.0)
    """
    return n if -SAFE_INTEGER <= n <= SAFE_INTEGER else float(n)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""JS dates count milliseconds from here."""

MILLISECOND = timedelta(milliseconds=1)
