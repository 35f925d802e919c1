"""The host socket's frames: length-prefixed pyidb tagged JSON (:mod:`pyidb.wire`).

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON text, written
with :mod:`pyidb.values` (so bytes, dates, big ints, NaN travel as its tag objects). Only JSON is
parsed: nothing a peer sends can run code. Key ranges travel as ``["range", lower, upper,
lower_open, upper_open]``, single keys as ``["key", key]``::

    data = encode_frame({"id": 1, "op": "get", "query": encode_query(KeyRange.only(3))})
    reader = FrameReader(max_frame=1 << 20); reader.feed(data)  # -> [{"id": 1, ...}]
"""

from __future__ import annotations

from typing import Any

from ..clone import clone
from ..errors import DataError, Error, UnknownError
from ..key_range import KeyRange
from ..wire import dumps, loads

__all__ = ["MAX_FRAME", "FrameError", "FrameReader", "decode_query", "encode_frame", "encode_query"]

#: Default largest frame either side accepts (bytes of JSON).
MAX_FRAME = 8 << 20
_HEADER = 4


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol (the connection is closed)."""


def encode_frame(message: dict[str, Any]) -> bytes:
    """One frame for ``message`` (raises DataCloneError if a value in it cannot be sent)."""
    body = dumps(*clone(message)).encode("utf-8", "surrogatepass")
    return len(body).to_bytes(_HEADER, "big") + body


class FrameReader:
    """Splits a byte stream into messages; FrameError on an oversized or malformed frame."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER:
            size = int.from_bytes(self._buf[:_HEADER], "big")
            if size > self.max_frame:
                raise FrameError(f"a frame of {size} bytes is over the limit of {self.max_frame}")
            if len(self._buf) < _HEADER + size:
                break
            body = bytes(self._buf[_HEADER:_HEADER + size])
            del self._buf[:_HEADER + size]
            try:
                message = loads(body)
            except (Error, ValueError, RecursionError) as exc:
                raise FrameError(f"a frame is not pyidb's JSON: {exc}") from None
            if not isinstance(message, dict):
                raise FrameError("a frame must hold a JSON object")
            out.append(message)
        return out


def encode_query(query: Any) -> Any:
    """A key, a KeyRange or None in wire form."""
    if query is None:
        return None
    if isinstance(query, KeyRange):
        return ["range", query.lower, query.upper, query.lower_open, query.upper_open]
    return ["key", query]


def decode_query(raw: Any) -> Any:
    """The key, KeyRange or None that :func:`encode_query` sent (DataError if malformed)."""
    if raw is None:
        return None
    if isinstance(raw, list) and len(raw) == 2 and raw[0] == "key":
        return raw[1]
    if isinstance(raw, list) and len(raw) == 5 and raw[0] == "range" and all(
        isinstance(b, bool) for b in raw[3:]
    ):
        return KeyRange(raw[1], raw[2], raw[3], raw[4])
    raise DataError(f"malformed query on the wire: {str(raw)[:100]}")


def error_to_wire(exc: BaseException) -> dict[str, str]:
    """``{"name": ..., "message": ...}`` for an error reply (pyidb errors keep their class)."""
    if isinstance(exc, Error):
        return {"name": type(exc).__name__, "message": exc.message}
    return {"name": "UnknownError", "message": f"the host failed: {type(exc).__name__}"}


def error_from_wire(raw: Any) -> Error:
    """The pyidb error an error reply names (UnknownError for anything unexpected)."""
    from .. import errors

    name = raw.get("name") if isinstance(raw, dict) else None
    message = raw.get("message") if isinstance(raw, dict) else None
    cls = getattr(errors, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, Error)):
        cls = UnknownError
    return cls(str(message) if message is not None else "the host reported an error")
