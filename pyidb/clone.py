"""Structured clone for Python values: what a stored value becomes (the rules, not the bytes).

A value read back equals what the browser backend (real IndexedDB through Pyodide) gives back, so
both backends share these rules::

    copy, needs_tags = clone({"n": 2.0, "when": datetime(2024, 1, 1)})
    # copy == {"n": 2, "when": datetime(2024, 1, 1, tzinfo=utc)}; needs_tags: True (a date)

Mapping table (Python value you store -> what JS/IndexedDB holds -> what you read back):

==============================  ===========================  ==========================================
Python                          JS / stored                  read back
==============================  ===========================  ==========================================
None                            null                         None
bool                            boolean                      bool
int, abs < 2**53                number                       int
int, abs >= 2**53               BigInt                       int (same value)
float, integral, abs < 2**53    number                       int (2.0 -> 2, -0.0 -> 0)
float, other finite             number                       float
float NaN, inf, -inf            NaN, Infinity, -Infinity     float
str (lone surrogates allowed)   string                       str (adjacent surrogate halves joined)
bytes, bytearray, memoryview    ArrayBuffer                  bytes
datetime.datetime               Date                         aware UTC datetime, truncated to ms
                                                             (a naive datetime is taken as UTC)
list, tuple                     Array                        list
dict with str keys              Object                       dict
IntEnum / str Enum / subclass   its base type                int / str / float
set, frozenset, date, time,     -- not storable --           DataCloneError naming the type and
Decimal, complex, other                                      where it is in the value
objects, non-str dict keys,
cycles, nesting > 1000 deep
==============================  ===========================  ==========================================

JS values written by other code read back as: typed arrays and DataView -> bytes of their view;
undefined -> None; a number that is not a safe integer -> float; BigInt -> int.

The integer limit is JS's Number.MAX_SAFE_INTEGER (2**53 - 1), where Pyodide itself switches: its
to_js turns 2**53 into a BigInt and its to_py turns the JS number 2**53 into a float (measured on
Pyodide 314.0.7), so the engine and the browser backend agree at the edge too.

The wire text these copies become is :mod:`pyidb.wire`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from .errors import DataCloneError
from .js_numbers import SAFE_INTEGER as _SAFE

# A bound on stored big ints, so a hostile or damaged file cannot make a read take minutes
# (writing an int this large already takes seconds): the decimal text's length on read
# (pyidb.wire), the equivalent bit length here.
MAX_BIGINT_DIGITS = 1_000_000
_MAX_BIGINT_BITS = 3_300_000  # < MAX_BIGINT_DIGITS decimal digits

__all__ = ["MAX_DEPTH", "clone", "deep", "is_plain"]

MAX_DEPTH = 1000
"""Containers allowed on one path from the top-level value down."""

_INF = float("inf")
_UTC = UTC
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Fail(Exception):
    """Internal: why a value is not storable; ``path`` collects keys/indexes bottom-up."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[Any] = []
        self.in_key = False  # raised for a dict key: the path stops at the dict


class _TooDeep(Exception):
    """Internal: more than MAX_DEPTH containers; the caller then looks for a cycle."""


def _type_name(v: Any) -> str:
    t = type(v)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _unstorable(v: Any) -> _Fail:
    hint = next((h for cls, h in _HINTS if isinstance(v, cls)), None) or (
        "store plain data: None, bool, int, float, str, bytes, datetime, list, dict"
    )
    name = _type_name(v)
    return _Fail(f"{'an' if name[0] in 'aeiou' else 'a'} {name} cannot be stored; {hint}")


def _str(s: str) -> str:
    """A str as JS would give it back: exact str, adjacent surrogate halves joined (JS strings are
    UTF-16, so '\\ud83d' + '\\ude00' is one character there)."""
    if type(s) is not str:
        s = str.__str__(s)
    if not s.isascii() and _SURROGATE.search(s) is not None:
        s = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return s


def _datetime(v: datetime) -> datetime:
    try:
        if v.tzinfo is not None:
            v = v.astimezone(_UTC)
        return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second,
                        v.microsecond - v.microsecond % 1000, tzinfo=_UTC)
    except Exception as e:  # a user tzinfo may raise anything; overflow near datetime.min/max
        raise _Fail(f"datetime {v!r} cannot be converted to UTC ({e})") from None


def _clone(v: Any, depth: int) -> tuple[Any, bool]:
    """Copy one value; returns (copy, needs_tags). One frame per nesting level."""
    t = type(v)
    if t is dict:
        items = v.items()
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise _TooDeep
        out_l: list[Any] = []
        append = out_l.append
        tags = False
        i = 0
        try:
            for i, x in enumerate(v):  # noqa: B007 - i is read by the except below
                tx = type(x)
                if tx is str:
                    append(x if x.isascii() else _str(x))
                elif tx is int:
                    append(x)
                    if not -_SAFE <= x <= _SAFE:
                        tags = True
                elif tx is bool or x is None:
                    append(x)
                else:
                    c, tg = _clone(x, depth + 1)
                    append(c)
                    tags = tags or tg
        except _Fail as e:
            e.path.append(i)
            raise
        return out_l, tags
    elif t is str:
        return (v if v.isascii() else _str(v)), False
    elif t is int:
        if v.bit_length() > _MAX_BIGINT_BITS:
            raise _Fail(f"an int of {v.bit_length()} bits cannot be stored; pyidb stores ints of "
                        f"up to {_MAX_BIGINT_BITS} bits (about {MAX_BIGINT_DIGITS} digits)")
        return v, not -_SAFE <= v <= _SAFE
    elif t is float:
        if -_SAFE <= v <= _SAFE:  # False for NaN
            return (int(v) if v.is_integer() else v), False
        return v, v != v or v == _INF or v == -_INF
    elif t is bool or v is None:
        return v, False
    elif t is bytes:
        return v, True
    elif t is datetime:
        return _datetime(v), True
    # subclasses (IntEnum, str Enum...) store their base value; the base's own method, because a
    # subclass may override __str__/__int__ (a str Enum's str() is "Color.RED" on 3.11)
    elif isinstance(v, int):
        return _clone(int.__index__(v), depth)
    elif isinstance(v, float):
        return _clone(float.__float__(v), depth)
    elif isinstance(v, str):
        return _clone(str.__str__(v), depth)
    elif isinstance(v, bytes | bytearray):
        return bytes(v), True
    elif isinstance(v, memoryview):
        try:
            return v.tobytes(), True
        except ValueError as e:  # released view
            raise _Fail(f"memoryview cannot be stored ({e})") from None
    elif isinstance(v, datetime):
        return _datetime(v), True
    elif isinstance(v, dict):
        items = dict.items(v)
    elif isinstance(v, list | tuple):
        return _clone(list(v) if isinstance(v, tuple) else list.copy(v), depth)
    else:
        raise _unstorable(v)
    # a dict (the common record shape lands here after one type test)
    if depth >= MAX_DEPTH:
        raise _TooDeep
    out: dict[str, Any] = {}
    tags = False
    k: Any = None
    try:
        for k, x in items:
            if type(k) is not str:
                if not isinstance(k, str):
                    fail = _Fail(
                        f"a dict key must be a str (JS object keys are strings), "
                        f"got {_type_name(k)} {k!r}; convert the keys with str()"
                    )
                    fail.in_key = True
                    raise fail
                k = _str(k)
            elif not k.isascii():
                k = _str(k)
            tx = type(x)
            if tx is str:
                out[k] = x if x.isascii() else _str(x)
            elif tx is int:
                out[k] = x
                if not -_SAFE <= x <= _SAFE:
                    tags = True
            elif tx is bool or x is None:
                out[k] = x
            else:
                c, tg = _clone(x, depth + 1)
                out[k] = c
                tags = tags or tg
    except _Fail as e:
        if e.in_key:
            e.in_key = False
        else:
            e.path.append(k)
        raise
    return out, tags or "$t" in out


def _find_cycle(v: Any, active: set[int], depth: int) -> str | None:
    """After _TooDeep: the path to the first container that contains itself, if any."""
    if isinstance(v, dict):
        children: Any = dict.items(v)
    elif isinstance(v, list | tuple):
        children = enumerate(v)
    else:
        return None
    if id(v) in active:
        return ""
    if depth > MAX_DEPTH:
        return None
    active.add(id(v))
    for k, x in children:
        found = _find_cycle(x, active, depth + 1)
        if found is not None:
            return f"[{k!r}]{found}"
    active.discard(id(v))
    return None


def deep(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` with room for MAX_DEPTH nesting levels (the default recursion limit of 1000 is
    shared with the caller's frames and, on CPython 3.11, with json's C recursion)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + 3 * MAX_DEPTH + 200)
    try:
        return fn(*args)
    finally:
        sys.setrecursionlimit(old)


def clone(value: Any) -> tuple[Any, bool]:
    """Validate ``value`` and deep-copy it into its stored form; the bool says the copy needs tags.

    >>> clone((1, 2.0, -0.0))
    ([1, 2, 0], False)

    Raises DataCloneError naming the type and where it is, e.g. "value['a'][2]: set cannot be
    stored; use a list".
    """
    try:
        try:
            return _clone(value, 0)
        except RecursionError:  # the caller's frames plus deep nesting: retry with room
            return deep(_clone, value, 0)
    except _Fail as e:
        where = "value" + "".join(f"[{p!r}]" for p in reversed(e.path))
        raise DataCloneError(f"{where}: {e.message}") from None
    except _TooDeep:
        pass
    path = deep(_find_cycle, value, set(), 0)
    if path is not None:
        raise DataCloneError(
            f"value{path}: the value contains itself (a cycle); IndexedDB values from Python "
            "must be trees"
        ) from None
    raise DataCloneError(
        f"value: nested deeper than {MAX_DEPTH} lists/dicts; flatten the structure"
    ) from None


_HINTS: tuple[tuple[Any, str], ...] = (
    (set | frozenset, "use a list"),
    (datetime, ""),  # never reached: datetimes are storable; listed before date, its base class
    (date, "a date has no time of day: store a datetime or date.isoformat()"),
    (time, "a time has no date: store a datetime or time.isoformat()"),
    (complex, "store [real, imag] or a str"),
    (Decimal, "store str(d) or a float"),
)


_PLAIN_DEPTH = 100  # deeper values take clone (which also finds cycles)


def is_plain(v: Any, depth: int = 0) -> bool:
    """True when ``clone(v)`` would give back an equal value of the very same types and
    need no tags, so ``v`` itself can be dumped as the wire text (no copy is built).

    Plain: dict (exact type) with str keys other than "$t", list (exact), str without
    surrogates, int within 2**53-1, bool, None, and the floats clone keeps as they are (finite,
    not integral within 2**53-1). Anything else (tuples,
    subclasses, bytes, datetimes, NaN, 2.0, big ints, deep nesting) says False: take clone.

    >>> is_plain({"id": 1, "n": 0.5, "tags": ["a"]}), is_plain({"n": 2.0}), is_plain((1,))
    (True, False, False)
    """
    t = type(v)
    if t is dict:
        if depth >= _PLAIN_DEPTH or "$t" in v:
            return False
        for k, x in v.items():
            if type(k) is not str or not (k.isascii() or _SURROGATE.search(k) is None):
                return False
            tx = type(x)
            if tx is str:
                if not x.isascii() and _SURROGATE.search(x) is not None:
                    return False
            elif tx is int:
                if not -_SAFE <= x <= _SAFE:
                    return False
            elif tx is bool or x is None:
                pass
            elif not is_plain(x, depth + 1):
                return False
        return True
    if t is list:  # the same item checks as for a dict's values, inline: a helper call per
        # container costs 30% on the browser's bulk-put path (measured)
        if depth >= _PLAIN_DEPTH:
            return False
        for x in v:
            tx = type(x)
            if tx is str:
                if not x.isascii() and _SURROGATE.search(x) is not None:
                    return False
            elif tx is int:
                if not -_SAFE <= x <= _SAFE:
                    return False
            elif tx is bool or x is None:
                pass
            elif not is_plain(x, depth + 1):
                return False
        return True
    if t is str:
        return v.isascii() or _SURROGATE.search(v) is None
    if t is int:
        return -_SAFE <= v <= _SAFE
    if t is bool or v is None:
        return True
    if t is float:
        if v.is_integer():  # clone makes 2.0 an int; beyond 2**53 it stays a float
            return not -_SAFE <= v <= _SAFE
        return v - v == 0.0  # False for NaN and the infinities (they need tags)
    return False
