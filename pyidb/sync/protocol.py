"""The sync wire format, shared by client and server (JSON over HTTP POST).

``POST /push``  ``{"protocol", "schema_version", "client_id", "events": [event, ...]}``
    event: ``{"id", "seq", "model", "op": "create"|"update"|"delete", "key", "data", "after",
    "base_version"}`` -- ``data`` is the whole record for a create, the changed fields for an
    update, ``None`` for a delete; ``after`` is the record as the client had it after the write
    (a create may leave it out: it is its ``data``).
    Answer: ``{"results": [{"id", "seq", "status": "applied"|"merged"|"rejected"|"retry",
    "reason", "record", "deleted", "version"}, ...]}`` in the order of ``seq``. An "applied"
    answer leaves ``record`` out when the server's record is exactly the event's ``after``.
``POST /pull``  ``{"protocol", "schema_version", "client_id", "cursor", "limit"}``
    Answer: ``{"cursor", "reset", "has_more", "changes": [{"model", "key", "version",
    "deleted", "record", "client_id"}, ...]}``.
``POST /history`` ``{"protocol", "schema_version", "model", "key"}`` -> ``{"versions": [...]}``.

Keys and values travel as JSON; the two IndexedDB value types JSON lacks are tagged:
``{"$date": "2026-01-01T00:00:00.000Z"}`` and ``{"$bytes": "<base64>"}`` (``encode``/``decode``).
Nothing decoded here can run code: the tags only ever build a datetime or bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

PROTOCOL_VERSION = 1

UPGRADE_REQUIRED = "upgrade_required"  # the client's schema is older than the server's
SERVER_OUTDATED = "server_outdated"  # the client's schema is newer than the server's


class SyncError(Exception):
    """A sync request the server refused as a whole (``.status`` is the HTTP status,
    ``.code`` a stable word such as ``"upgrade_required"``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def encode(value: Any) -> Any:
    """A stored value as plain JSON: ``encode({"at": datetime(...)}) == {"at": {"$date": "..."}}``."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        return {"$date": text.replace("+00:00", "Z")}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, dict):
        if len(value) == 1 and "$date" in value and isinstance(value["$date"], str):
            return dt.datetime.fromisoformat(value["$date"].replace("Z", "+00:00"))
        if len(value) == 1 and "$bytes" in value and isinstance(value["$bytes"], str):
            return base64.b64decode(value["$bytes"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def key_text(key: Any) -> str:
    """One canonical text per key (the server's primary key column): ``key_text([1, "a"])``."""
    if type(key) is str:
        return _canonical(key)
    return _canonical(encode(key))


def make_cursor(epoch: str, version: int) -> str:
    """``"<epoch>:<version>"``: the epoch names the server database, so a cursor from another
    (or a restored) database is recognised as unknown and answered with a full resync."""
    return f"{epoch}:{version}"


def parse_cursor(cursor: Any) -> tuple[str, int] | None:
    """``(epoch, version)`` or None when the cursor is absent or malformed."""
    if not isinstance(cursor, str) or ":" not in cursor:
        return None
    epoch, _, version = cursor.rpartition(":")
    if not version.isdigit():
        return None
    return epoch, int(version)
