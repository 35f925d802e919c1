"""The wire format of stored values: tagged JSON text (and its UTF-8 bytes for storages).

Wire format (the same in js_shim/codec.js): JSON text. Values JSON cannot carry are tag objects
``{"$t": TYPE, "v": PAYLOAD}``: ``bytes`` (base64 text), ``date`` (ms since the epoch),
``num`` ("NaN", "Infinity", "-Infinity", or the decimal text of a float JSON would read back as an
int), ``bigint`` (decimal text), ``obj`` (a user dict that has a "$t" key, as a list of
``[key, value]`` pairs with the values encoded; pairs, not the dict itself, because JSON parsers
revive bottom-up and would see the user's dict before the tag around it). Only json is used:
nothing read can run code.

    data = encode(*clone({"b": b"hi"}))     # b'{"b":{"$t":"bytes","v":"aGk="}}'
    decode(data)                            # {'b': b'hi'}
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta
from typing import Any

from .clone import MAX_BIGINT_DIGITS
from .clone import deep as _deep
from .errors import DataCloneError, UnknownError
from .js_numbers import EPOCH as _EPOCH
from .js_numbers import MILLISECOND as _MS
from .js_numbers import SAFE_INTEGER as _SAFE

__all__ = ["decode", "dumps", "encode", "loads", "loads_many"]

_INF = float("inf")
_DIGITS = re.compile(r"-?[0-9]+")
_NUM_TEXT = {"NaN": float("nan"), "Infinity": _INF, "-Infinity": -_INF}
# Python refuses int<->str conversions above 4300 digits by default (CVE-2020-10735); bigints
# beyond that are converted in chunks, which is not the quadratic attack the limit is about.
_CHUNK = 4000
_CHUNK_POW = 10**_CHUNK


# --- encoding -------------------------------------------------------------------------------

_PLAIN, _PLAIN_ASCII = (  # made once: json.dumps(**options) builds an encoder on every call
    json.JSONEncoder(ensure_ascii=a, separators=(",", ":"), check_circular=False, allow_nan=False)
    for a in (False, True)
)


def _one_shot(encoder: json.JSONEncoder) -> Any:
    """``encoder.encode`` without its per-call cost: JSONEncoder.encode builds a new C encoder
    on every call (~3x the encoding of a small record); this builds it once, with the same
    options, and falls back to ``encoder.encode`` where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    strings = json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring
    try:
        c_encoder = make(None, encoder.default, strings, None, encoder.key_separator,
                         encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
                         encoder.allow_nan)
    except TypeError:  # another signature: keep the documented path
        return encoder.encode
    join = "".join
    return lambda o: join(c_encoder(o, 0))


_ENCODE, _ENCODE_ASCII = _one_shot(_PLAIN), _one_shot(_PLAIN_ASCII)


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
    if s.startswith("-"):
        return -_text_int(s[1:])
    # Halves, not chunk by chunk (which is quadratic): a stored text of MAX_BIGINT_DIGITS
    # decodes in well under a second.
    low = len(s) // 2
    return _text_int(s[:-low]) * 10**low + _text_int(s[-low:])


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
    enc = _ENCODE_ASCII if ensure_ascii else _ENCODE
    try:
        if needs_tags:
            return enc(_tag(copy))  # type: ignore[no-any-return]
        return enc(copy)  # type: ignore[no-any-return]
    except RecursionError:
        if needs_tags:
            return _deep(lambda: enc(_tag(copy)))
        return _deep(enc, copy)


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
    if t == "bigint" and type(v) is str and len(v) <= MAX_BIGINT_DIGITS + 1 and _DIGITS.fullmatch(v):
        return _text_int(v)
    if t == "obj" and type(v) is list:
        if all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in v):
            return dict(v)
    raise _malformed(d)


_TAGGED = json.JSONDecoder(object_hook=_untag)
_PLAIN_DECODER = json.JSONDecoder()
_plain_decode = _PLAIN_DECODER.decode
_plain_raw = _PLAIN_DECODER.raw_decode


def _compact_decode(text: str) -> Any:
    """Stored text has no whitespace around it: parse it without ``decode``'s two whitespace
    scans; anything else (whitespace, trailing data, bad JSON) goes to ``decode`` for its
    answer or its error."""
    try:
        value, end = _plain_raw(text)
    except ValueError:
        return _plain_decode(text)
    if end != len(text):
        return _plain_decode(text)
    return value


def _parse(text: str) -> Any:
    decoder = _TAGGED.decode if '"$t"' in text else _compact_decode
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


decode = loads
"""Inverse of :func:`encode` (the same parser as :func:`loads`): ``decode(b'[1,"a"]')``."""


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


