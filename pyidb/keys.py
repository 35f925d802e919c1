"""IndexedDB keys: spec "convert a value to a key" and "compare two keys".

A *normalized key* is what :func:`to_key` returns and what every other part of pyidb works on:

- a number: ``int`` (integral, ``abs <= 2**53 - 1``) or ``float`` (non-integral, or beyond that,
  or ±inf; never NaN, never -0.0) -- exactly the values a JS number round-trips to; an ``int``
  beyond ``2**53 - 1`` is a BigInt in JS (as in values), which is no key;
- a ``datetime.datetime``: aware, UTC, truncated to milliseconds (a JS ``Date``);
- a ``str``: any code points, lone surrogates included; surrogate *pairs* written as two code
  points are recombined, because in JS ``"\\ud83d\\ude00"`` and ``"😀"`` are the same string;
- ``bytes`` (from bytes, bytearray or memoryview: a JS ``ArrayBuffer``/view);
- a ``list`` of normalized keys (from a list or tuple: a JS ``Array``).

Order (spec "compare two keys"): number < date < string < binary < array; strings by UTF-16 code
unit, like JS, so ``cmp("\\U00010000", "\\uffff") == -1`` although Python's ``<`` says otherwise.

>>> cmp([1, "a"], [1, "b"])
-1
"""

from __future__ import annotations

import re
import reprlib
from datetime import UTC, date, datetime
from typing import Any

from .errors import DataError
from .js_numbers import SAFE_INTEGER

__all__ = [
    "MAX_KEY_DEPTH",
    "MAX_SAFE_INTEGER",
    "Key",
    "cmp",
    "compare_keys",
    "is_valid_key",
    "key_to_python",
    "normalize_string",
    "to_key",
]

Key = Any
"""A normalized key (see the module docstring)."""

MAX_SAFE_INTEGER = SAFE_INTEGER
"""The largest int key (JS's Number.MAX_SAFE_INTEGER, 2**53 - 1): a bigger int is a BigInt in JS,
and BigInts are not keys (see :mod:`pyidb.js_numbers`); integral floats beyond it stay floats."""

MAX_KEY_DEPTH = 200
"""Arrays may nest this deep in a key; deeper is a DataError (values allow 1,000: keys are
compared and encoded recursively, and must not exhaust Python's stack)."""

_ALLOWED = "keys may be int/float (not NaN), str, bytes, datetime, or a list of those"
_UTC = UTC
_SURROGATE = re.compile("[\ud800-\udfff]")
_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = 6


def _invalid(value: Any, why: str, where: str) -> DataError:
    if len(where) > 60:
        where = f"{where[:28]}...{where[-28:]}"
    at = f" (at {where})" if where else ""
    return DataError(f"{_repr.repr(value)} is not a valid key{at}: {why}; {_ALLOWED}")


def normalize_string(s: str) -> str:
    """Recombine surrogate pairs written as two code points (JS sees one string either way).

    >>> normalize_string("\\ud83d\\ude00") == "\\U0001f600"
    True
    """
    if s.isascii() or _SURROGATE.search(s) is None:
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _number(value: int | float, where: str) -> int | float:
    if not isinstance(value, float):
        # int or int subclass (bool was rejected by the caller); int.__index__ gives a plain
        # int without calling a subclass's overrides
        value = int.__index__(value)
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _invalid(
            value, "an int beyond ±(2**53-1) is a BigInt in JS, and BigInts are not keys (use a "
            "float, a str, bytes, or a list of smaller ints instead)", where,
        )
    f = float.__float__(value)
    if f != f:
        raise _invalid(value, "NaN is not a key", where)
    if f.is_integer() and -MAX_SAFE_INTEGER <= f <= MAX_SAFE_INTEGER:
        return int(f)  # also turns -0.0 into 0
    return f


def _date(value: datetime, where: str) -> datetime:
    # A naive datetime is taken as UTC (as JS stores a Date: an instant, no zone).
    try:
        value = value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    except (OverflowError, ValueError) as e:
        raise _invalid(value, f"it is out of datetime's range once converted to UTC ({e})",
                       where) from None
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond - value.microsecond % 1000, tzinfo=_UTC,
    )


def _convert(value: Any, ancestors: set[int] | None, where: str) -> Key:
    """Spec "convert a value to a key"; raises DataError saying where the bad part is."""
    t = type(value)
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        return _number(value, where)
    if t is str:
        return normalize_string(value)
    if t is float:
        return _number(value, where)
    if t is bool or isinstance(value, bool):
        raise _invalid(value, "bool is not a key (JS booleans are not keys either)", where)
    if value is None:
        raise _invalid(value, "None is not a key", where)
    if isinstance(value, (list, tuple)):
        ident = id(value)
        if ancestors is None:
            ancestors = set()
        elif ident in ancestors:
            raise _invalid(value, "the list contains itself", where)
        elif len(ancestors) >= MAX_KEY_DEPTH:
            raise _invalid(value, f"arrays nested deeper than {MAX_KEY_DEPTH} levels", where)
        ancestors.add(ident)
        try:
            return [
                _convert(item, ancestors, f"{where}[{i}]" if where else f"[{i}]")
                for i, item in enumerate(value)
            ]
        finally:
            ancestors.discard(ident)
    if isinstance(value, (int, float)):
        return _number(value, where)
    if isinstance(value, str):
        return normalize_string(str.__str__(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value)
        except (TypeError, ValueError, BufferError) as e:
            raise _invalid(value, f"its buffer cannot be read ({e})", where) from None
    if isinstance(value, datetime):
        return _date(value, where)
    if isinstance(value, date):
        raise _invalid(value, "a date without a time is not a key (use a datetime)", where)
    if isinstance(value, dict):
        raise _invalid(value, "dict is not a key", where)
    if isinstance(value, (set, frozenset)):
        raise _invalid(value, "set is not a key (use a sorted list)", where)
    raise _invalid(value, f"{t.__name__} is not a key type", where)


def to_key(value: Any) -> Key:
    """Validate and normalize ``value`` as a key; DataError if it is not one.

    >>> to_key((1.0, -0.0, b"x"))
    [1, 0, b'x']
    """
    t = type(value)
    if t is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    if t is str and value.isascii():
        return value
    return _convert(value, None, "")


def is_valid_key(value: Any) -> bool:
    """True if ``value`` is a key (:func:`to_key` would accept it).

    >>> is_valid_key([1, "a"]), is_valid_key(True)
    (True, False)
    """
    try:
        to_key(value)
    except DataError:
        return False
    return True


# Type rank of normalized keys: number < date < string < binary < array.
_RANK: dict[type, int] = {int: 0, float: 0, datetime: 1, str: 2, bytes: 3, list: 4}


def _utf16(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


def compare_keys(a: Key, b: Key) -> int:
    """Spec "compare two keys" for already-normalized keys: -1, 0 or 1 (no validation).

    >>> compare_keys("\\U00010000", "\\uffff")  # UTF-16: 0xD800 < 0xFFFF
    -1
    """
    ra = _RANK[type(a)]
    rb = _RANK[type(b)]
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 2:
        if a == b:
            return 0
        if not (a.isascii() and b.isascii()):
            # Python orders by code point; JS by UTF-16 code unit (differs for U+E000..U+FFFF
            # against supplementary characters), and big-endian UTF-16 bytes order like units.
            a, b = _utf16(a), _utf16(b)
        return -1 if a < b else 1
    if ra == 4:
        for x, y in zip(a, b, strict=False):
            c = compare_keys(x, y)
            if c:
                return c
        la, lb = len(a), len(b)
        return (la > lb) - (la < lb)
    return (a > b) - (a < b)


def cmp(a: Any, b: Any) -> int:
    """``indexedDB.cmp``: compare two keys (DataError if either is not a key).

    >>> cmp(1, "1"), cmp(2, 2.0), cmp(b"a", "a")
    (-1, 0, 1)
    """
    return compare_keys(to_key(a), to_key(b))


def key_to_python(key: Key) -> Key:
    """A copy of a normalized key safe to hand to the user (lists copied, deep).

    >>> key_to_python([1, [2]])
    [1, [2]]
    """
    if type(key) is list:
        return [key_to_python(k) for k in key]
    return key

