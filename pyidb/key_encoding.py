"""An order-preserving, self-delimiting binary encoding of IndexedDB keys.

Storage trees compare plain bytes; this encoding makes byte order *be* key order::

    sign(compare_keys(a, b)) == sign(encode_key(a) <=> encode_key(b))
    decode_key(encode_key(k)) == k

Format (one type tag byte, then the payload):

======  ========  ============================================================================
tag     type      payload
======  ========  ============================================================================
0x10    number    8 bytes: the IEEE-754 double, big-endian, with the sign bit flipped if the
                  number is >= 0 and every bit inverted if it is < 0 (-0 is written as +0)
0x20    date      the same 8 bytes for the date's milliseconds since 1970-01-01 UTC
0x30    string    the UTF-16 code units, each written as UTF-8 writes a code point ("CESU-8":
                  surrogates as 3 bytes each), so byte order == code unit order and ASCII costs
                  1 byte; then escaped and terminated (below)
0x40    binary    the bytes, escaped and terminated (below)
0x50    array     the encoded elements, then 0x00
======  ========  ============================================================================

Escaping: byte 0x00 -> 0x01 0x01, byte 0x01 -> 0x01 0x02, then a 0x00 terminator. The escaped
bytes are all >= 0x01 and keep their order, and 0x00 sorts below any content byte, so a shorter
string sorts first. Tags are all >= 0x10, so an array's 0x00 end sorts below any further element.

Every encoded key is self-delimiting and no encoded key is a prefix of another, so a tuple of
keys encodes as the concatenation and compares like the tuple: an index entry is
``encode_key(index_key) + encode_key(primary_key)``. No encoded key starts with 0xFF, so
``encode_key(k) + b"\\xff"`` (:func:`pyidb.engine.bounds.past`) is an exclusive upper bound just past
every entry that starts with ``encode_key(k)``.

>>> encode_key(1)
b'\\x10\\xbf\\xf0\\x00\\x00\\x00\\x00\\x00\\x00'
>>> encode_key("ab")
b'0ab\\x00'
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta

from .errors import UnknownError
from .js_numbers import EPOCH as _EPOCH
from .js_numbers import MILLISECOND as _MS
from .keys import MAX_SAFE_INTEGER, Key, normalize_string, to_key

__all__ = ["decode_key", "decode_key_prefix", "encode_key"]

NUMBER, DATE, STRING, BINARY, ARRAY, END = 0x10, 0x20, 0x30, 0x40, 0x50, 0x00

_DOUBLE = struct.Struct(">d")
_U64 = struct.Struct(">Q")
_TAG_U64 = struct.Struct(">BQ")
_SIGN = 1 << 63
_ALL = (1 << 64) - 1
_from_bytes = int.from_bytes
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _split_astral(m: re.Match[str]) -> str:
    c = ord(m.group()) - 0x10000
    return chr(0xD800 + (c >> 10)) + chr(0xDC00 + (c & 0x3FF))


def _escape(b: bytes) -> bytes:
    if b.find(b"\x00") >= 0 or b.find(b"\x01") >= 0:
        b = b.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01")
    return b


def _unescape(b: bytes) -> bytes:
    if b.find(b"\x01") >= 0:
        # Left-to-right replacement is safe: every 0x01 starts a 2-byte escape.
        b = b.replace(b"\x01\x01", b"\x00").replace(b"\x01\x02", b"\x01")
    return b


def _double(tag: int, f: float) -> bytes:
    u = _from_bytes(_DOUBLE.pack(f + 0.0))  # + 0.0 turns -0.0 into 0.0
    return _TAG_U64.pack(tag, u ^ _ALL if u & _SIGN else u ^ _SIGN)


def _int(v: int) -> bytes:
    # The common case (auto-increment keys): one pack, no -0.0 possible.
    u = _from_bytes(_DOUBLE.pack(v))
    return _TAG_U64.pack(NUMBER, u ^ _SIGN if v >= 0 else u ^ _ALL)


def _string(s: str) -> bytes:
    # Only U+0000 and U+0001 produce bytes 0x00/0x01, so escape them on the str (fast).
    if "\x00" in s or "\x01" in s:
        s = s.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")
    if s.isascii():
        return ("0" + s + "\x00").encode("ascii")  # "0" is the 0x30 tag
    if _ASTRAL.search(s) is not None:
        s = _ASTRAL.sub(_split_astral, s)
    return b"".join((b"\x30", s.encode("utf-8", "surrogatepass"), b"\x00"))


def _encode_into(key: Key, out: list[bytes]) -> None:
    t = type(key)
    if t is int:
        if -MAX_SAFE_INTEGER <= key <= MAX_SAFE_INTEGER:
            out.append(_int(key))
            return
    elif t is float:
        if key == key:
            out.append(_double(NUMBER, key))
            return
    elif t is str:
        out.append(_string(key))
        return
    elif t is bytes:
        out.append(b"".join((b"\x40", _escape(key), b"\x00")))
        return
    elif t is list:
        out.append(b"\x50")
        for k in key:
            _encode_into(k, out)
        out.append(b"\x00")
        return
    elif t is datetime and key.tzinfo is UTC and key.microsecond % 1000 == 0:
        out.append(_double(DATE, (key - _EPOCH) // _MS))
        return
    # Not a normalized key: normalize (DataError if it is no key at all) and encode that.
    _encode_into(to_key(key), out)


def encode_key(key: Key) -> bytes:
    """The order-preserving bytes of ``key`` (normalized; anything else goes through to_key).

    >>> encode_key([1, "a"]) < encode_key([1, "b"]) < encode_key([2])
    True
    """
    t = type(key)
    if t is int and -MAX_SAFE_INTEGER <= key <= MAX_SAFE_INTEGER:
        return _int(key)
    if t is str:
        return _string(key)
    out: list[bytes] = []
    _encode_into(key, out)
    return out[0] if len(out) == 1 else b"".join(out)


def _number(data: bytes, pos: int) -> float | int:
    u = _U64.unpack_from(data, pos)[0]
    f = _DOUBLE.unpack(_U64.pack(u ^ _SIGN if u & _SIGN else u ^ _ALL))[0]
    if f.is_integer() and -MAX_SAFE_INTEGER <= f <= MAX_SAFE_INTEGER:
        return int(f)
    return f


def _decode(data: bytes, pos: int) -> tuple[Key, int]:
    tag = data[pos]
    pos += 1
    if tag == NUMBER:
        return _number(data, pos), pos + 8
    if tag == STRING:
        end = data.index(b"\x00", pos)
        b = _unescape(data[pos:end])
        if b.isascii():
            return b.decode("ascii"), end + 1
        return normalize_string(b.decode("utf-8", "surrogatepass")), end + 1
    if tag == ARRAY:
        items = []
        while data[pos] != END:
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos + 1
    if tag == BINARY:
        end = data.index(b"\x00", pos)
        return _unescape(data[pos:end]), end + 1
    if tag == DATE:
        ms = _number(data, pos)
        return _EPOCH + timedelta(milliseconds=ms), pos + 8
    raise ValueError(f"unknown type tag 0x{tag:02x}")


def decode_key_prefix(data: bytes, offset: int = 0) -> tuple[Key, int]:
    """Decode the key that starts at ``offset``; returns it and the offset just past it.

    >>> decode_key_prefix(encode_key("ik") + encode_key(7))
    ('ik', 4)
    """
    try:
        return _decode(data, offset)
    except (IndexError, ValueError, OverflowError, RecursionError, struct.error,
            UnicodeDecodeError) as e:
        raise UnknownError(f"stored key bytes are corrupt at offset {offset}: {e}") from None


def decode_key(data: bytes) -> Key:
    """The key ``data`` encodes (UnknownError if it is not exactly one encoded key).

    >>> decode_key(encode_key([1.5, b"\\x00"]))
    [1.5, b'\\x00']
    """
    try:
        key, end = _decode(data, 0)
    except (IndexError, ValueError, OverflowError, RecursionError, struct.error,
            UnicodeDecodeError) as e:
        raise UnknownError(f"stored key bytes are corrupt: {e}") from None
    if end != len(data):
        raise UnknownError(f"stored key bytes have {len(data) - end} bytes after the key")
    return key
