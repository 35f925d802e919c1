"""What a stored value becomes: structured clone for Python values, and the tagged JSON wire format.

A value read back equals what the browser backend (real IndexedDB through Pyodide) gives back, so
both backends share these rules::

    copy, needs_tags = clone({"n": 2.0, "when": datetime(2024, 1, 1)})
    data = encode(copy, needs_tags)        # bytes for the storage
    decode(data)                           # {'n': 2, 'when': datetime(2024, 1, 1, tzinfo=utc)}

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

Wire format (the same in js_shim/codec.js): JSON text. Values JSON cannot carry are tag objects
``{"$t": TYPE, "v": PAYLOAD}``: ``bytes`` (base64 text), ``date`` (ms since the epoch),
``num`` ("NaN", "Infinity", "-Infinity", or the decimal text of a float JSON would read back as an
int), ``bigint`` (decimal text), ``obj`` (a user dict that has a "$t" key, as a list of
``[key, value]`` pairs with the values encoded; pairs, not the dict itself, because JSON parsers
revive bottom-up and would see the user's dict before the tag around it). Only json is used:
nothing read can run code.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .errors import DataCloneError, UnknownError

__all__ = ["MAX_DEPTH", "clone", "decode", "dumps", "encode", "loads", "loads_many"]

MAX_DEPTH = 1000
"""Containers allowed on one path from the top-level value down."""

_SAFE = 2**53 - 1  # Number.MAX_SAFE_INTEGER
_INF = float("inf")
_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_MS = timedelta(milliseconds=1)
_SURROGATE = re.compile("[\ud800-\udfff]")
_DIGITS = re.compile(r"-?[0-9]+")
_NUM_TEXT = {"NaN": float("nan"), "Infinity": _INF, "-Infinity": -_INF}
# Python refuses int<->str conversions above 4300 digits by default (CVE-2020-10735); bigints
# beyond that are converted in chunks, which is not the quadratic attack the limit is about.
_CHUNK = 4000
_CHUNK_POW = 10**_CHUNK


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


def _deep(fn: Callable[..., Any], *args: Any) -> Any:
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
            return _deep(_clone, value, 0)
    except _Fail as e:
        where = "value" + "".join(f"[{p!r}]" for p in reversed(e.path))
        raise DataCloneError(f"{where}: {e.message}") from None
    except _TooDeep:
        pass
    path = _deep(_find_cycle, value, set(), 0)
    if path is not None:
        raise DataCloneError(
            f"value{path}: the value contains itself (a cycle); IndexedDB values from Python "
            "must be trees"
        ) from None
    raise DataCloneError(
        f"value: nested deeper than {MAX_DEPTH} lists/dicts; flatten the structure"
    ) from None


# --- encoding -------------------------------------------------------------------------------

_PLAIN, _PLAIN_ASCII = (  # made once: json.dumps(**options) builds an encoder on every call
    json.JSONEncoder(ensure_ascii=a, separators=(",", ":"), check_circular=False, allow_nan=False)
    for a in (False, True)
)


def _int_text(v: int) -> str:
    if v.bit_length() < 13000:  # < ~3900 digits: within Python's int->str limit
        return str(v)
    sign, v = ("-", -v) if v < 0 else ("", v)
    parts: list[str] = []
    while v:
        v, low = divmod(v, _CHUNK_POW)
        parts.append(str(low).zfill(_CHUNK))
    return sign + "".join(reversed(parts)).lstrip("0")


def _text_int(s: str) -> int:
    if len(s) <= _CHUNK:
        return int(s)
    neg = s.startswith("-")
    digits = s[1:] if neg else s
    v = 0
    for i in range(0, len(digits), _CHUNK):
        part = digits[i:i + _CHUNK]
        v = v * 10 ** len(part) + int(part)
    return -v if neg else v


def _tag(v: Any) -> Any:
    """The JSON-ready form of a stored copy, with tags for what JSON cannot carry."""
    t = type(v)
    if t is dict:
        if "$t" in v:
            return {"$t": "obj", "v": [[k, _tag(x)] for k, x in v.items()]}
        return {k: _tag(x) for k, x in v.items()}
    if t is list:
        return [_tag(x) for x in v]
    if t is int:
        if -_SAFE <= v <= _SAFE:
            return v
        return {"$t": "bigint", "v": _int_text(v)}
    if t is float:
        if v != v:
            return {"$t": "num", "v": "NaN"}
        if v == _INF or v == -_INF:
            return {"$t": "num", "v": "Infinity" if v > 0 else "-Infinity"}
        return v
    if t is bytes:
        return {"$t": "bytes", "v": base64.b64encode(v).decode("ascii")}
    if t is datetime:
        return {"$t": "date", "v": (v - _EPOCH) // _MS}
    return v  # None, bool, str


def dumps(copy: Any, needs_tags: bool, *, ensure_ascii: bool = False) -> str:
    """JSON text for a copy made by :func:`clone`.

    >>> dumps(*clone({"b": b"hi"}))
    '{"b":{"$t":"bytes","v":"aGk="}}'

    ``ensure_ascii=True`` escapes every non-ASCII character, lone surrogates included: use it when
    the text crosses an FFI that may not carry lone surrogates.
    """
    enc = _PLAIN_ASCII if ensure_ascii else _PLAIN
    try:
        if needs_tags:
            return enc.encode(_tag(copy))
        return enc.encode(copy)
    except RecursionError:
        if needs_tags:
            return _deep(lambda: enc.encode(_tag(copy)))
        return _deep(enc.encode, copy)


def encode(copy: Any, needs_tags: bool) -> bytes:
    """The storage form of a copy made by :func:`clone`: its JSON text as UTF-8 (lone surrogates
    kept via 'surrogatepass').

    >>> encode(*clone([1, "a"]))
    b'[1,"a"]'
    """
    return dumps(copy, needs_tags).encode("utf-8", "surrogatepass")


# --- decoding -------------------------------------------------------------------------------


def _malformed(d: dict[str, Any]) -> UnknownError:
    return UnknownError(f"stored value has a malformed tag {str(d)[:200]}; the data is corrupt")


def _untag(d: dict[str, Any]) -> Any:
    """object_hook: turn a tag object back into its value; other dicts pass through."""
    if "$t" not in d:
        return d
    t = d["$t"]
    if len(d) != 2 or "v" not in d:
        raise _malformed(d)
    v = d["v"]
    if t == "bytes" and type(v) is str:
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise _malformed(d) from None
    if t == "date" and type(v) in (int, float) and v == v and v not in (_INF, -_INF):
        try:
            return _EPOCH + timedelta(milliseconds=int(v))
        except OverflowError:
            raise DataCloneError(
                f"the stored date {v} ms since 1970 is outside Python's datetime range "
                "(years 1-9999)"
            ) from None
    if t == "num" and type(v) is str:
        f = _NUM_TEXT.get(v)
        if f is not None:
            return f
        try:
            return float(v)
        except ValueError:
            raise _malformed(d) from None
    if t == "bigint" and type(v) is str and _DIGITS.fullmatch(v):
        return _text_int(v)
    if t == "obj" and type(v) is list:
        if all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in v):
            return dict(v)
    raise _malformed(d)


_TAGGED = json.JSONDecoder(object_hook=_untag)
_plain_decode = json.JSONDecoder().decode


def _parse(text: str) -> Any:
    decoder = _TAGGED.decode if '"$t"' in text else _plain_decode
    try:
        try:
            return decoder(text)
        except RecursionError:
            return _deep(decoder, text)
    except RecursionError:
        raise DataCloneError(
            "the stored value is nested too deeply to read back in Python"
        ) from None
    except ValueError as e:  # JSONDecodeError
        raise UnknownError(f"stored value is not valid JSON ({e}); the data is corrupt") from None


def _text(data: str | bytes | bytearray | memoryview) -> str:
    if type(data) is str:
        return data
    try:
        return bytes(data).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise UnknownError(f"stored value is not UTF-8 ({e}); the data is corrupt") from None


def loads(text: str | bytes) -> Any:
    """Parse wire text (or its UTF-8 bytes) back into a fresh value.

    >>> loads('{"d":{"$t":"num","v":"Infinity"}}')
    {'d': inf}
    """
    return _parse(_text(text))


def decode(data: bytes) -> Any:
    """Inverse of :func:`encode`; always a fresh object the caller may mutate.

    >>> decode(b'[1,"a"]')
    [1, 'a']
    """
    return _parse(_text(data))


def loads_many(texts: list[str] | list[bytes]) -> list[Any]:
    """Parse many records in one json call (what get_all uses).

    >>> loads_many([b'1', b'{"a":2}'])
    [1, {'a': 2}]
    """
    if not texts:
        return []
    if all(type(t) is bytes for t in texts):
        joined = b"[" + b",".join(texts) + b"]"  # type: ignore[arg-type]
        return _parse(_text(joined))  # type: ignore[no-any-return]
    return _parse("[" + ",".join(_text(t) for t in texts) + "]")  # type: ignore[no-any-return]


_HINTS: tuple[tuple[Any, str], ...] = (
    (set | frozenset, "use a list"),
    (datetime, ""),  # never reached: datetimes are storable; listed before date, its base class
    (date, "a date has no time of day: store a datetime or date.isoformat()"),
    (time, "a time has no date: store a datetime or time.isoformat()"),
    (complex, "store [real, imag] or a str"),
    (Decimal, "store str(d) or a float"),
)
