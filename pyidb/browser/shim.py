"""The Python half of the JS shim: loading it, calling it, and routing its events to requests.

The shim (``shim.js`` + ``codec.js`` beside this module; ``js_shim/`` links to them) keeps every
IndexedDB object on the JS side under an integer id chosen here, so only ints and strings cross
Pyodide's FFI: no JsProxy reaches the user and none needs destroying. Results come back through
one dispatcher (the only PyProxy pyidb creates, made once per page) that the shim calls inside the
IndexedDB event; the handler registered for the id completes a :class:`~pyidb.sync_future.SyncFuture`
there, which resumes the awaiting task while the transaction is still active.

>>> rid, fut = new_request(wire.loads, tx)
>>> check(js().request(tx_id, rid, "notes", "", "get", encode_args(encode_key(1))))
>>> value = await fut
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

from .. import wire
from ..api import Record, make_records
from ..errors import Error, InvalidStateError, error_from_name
from ..js_numbers import EPOCH as _EPOCH
from ..js_numbers import MILLISECOND as _MS
from ..js_numbers import SAFE_INTEGER
from ..key_range import KeyRange
from ..keys import to_key
from ..sync_future import SyncFuture, running_loop

__all__ = [
    "check",
    "encode_args",
    "encode_key",
    "encode_query",
    "error_from_text",
    "handlers",
    "js",
    "new_id",
    "new_request",
    "proxy_counts",
    "running_loop",
]

ERR = "\x00"


class Event:
    """The kinds of event the shim reports to ``dispatch(id, kind, text)`` (one letter on the
    wire; shim.js names the same letters in its ``EVENT``)."""

    SUCCESS = "s"  #: a request succeeded: its result as wire text
    ERROR = "e"  #: a request failed: "Name\nmessage"; the handler says if Python handled it
    UNSENDABLE = "x"  #: a request succeeded but its result cannot reach Python
    UPGRADE_NEEDED = "u"  #: an open needs an upgrade: JSON
    BLOCKED = "b"  #: an open or delete is blocked by other connections: JSON {old, new}
    VERSION_CHANGE = "v"  #: another connection wants to upgrade or delete: JSON
    CLOSED = "c"  #: the browser closed the connection
    COMPLETE = "C"  #: a transaction committed
    ABORT = "A"  #: a transaction aborted: "Name\nmessage", or "" without an error

Handler = Callable[[str, str], Any]
handlers: dict[int, Handler] = {}
"""id -> what the shim's events for that id go to (requests, transactions, connections)."""

_ids = itertools.count(1)
_shim: Any = None
_dispatcher: Any = None
_proxies = {"created": 0, "destroyed": 0}


def new_id() -> int:
    return next(_ids)


def proxy_counts() -> dict[str, int]:
    """PyProxies pyidb created and destroyed (for leak tests): one dispatcher per page.

    >>> proxy_counts()
    {'created': 1, 'destroyed': 0}
    """
    return dict(_proxies)


def _read(name: str) -> str:
    return resources.files("pyidb.browser").joinpath(name).read_text(encoding="utf-8")


def shim_source() -> str:
    """The JS text evaluated at first use: the codec module's functions, then the shim."""
    codec = re.sub(r"^export\s+", "", _read("codec.js"), flags=re.MULTILINE)
    return (
        "(function (codec) {\n" + _read("shim.js") + "\n})((function () {\n" + codec
        + "\nreturn { fromWire, toWire };\n})())"
    )


def js() -> Any:
    """The shim object (loaded and given the dispatcher at first use)."""
    global _shim, _dispatcher
    if _shim is None:
        try:
            from pyodide.code import run_js
            from pyodide.ffi import create_proxy
        except ImportError:
            raise InvalidStateError(
                "IndexedDB is not reachable here: pyidb's 'browser' factory needs Pyodide in a "
                "web page; use pyidb.factory('memory:') or pyidb.factory('sqlite:///file.db')"
            ) from None
        shim = run_js(shim_source())
        _dispatcher = create_proxy(_dispatch)
        _proxies["created"] += 1
        shim.init(_dispatcher)
        _shim = shim
    return _shim


def _dispatch(id: int, kind: str, text: str) -> bool:
    """Called by the shim inside IndexedDB events; must never raise into JS."""
    handler = handlers.get(id)
    if handler is None:
        return False
    try:
        return bool(handler(kind, text))
    except BaseException as exc:  # report, but keep the browser's event dispatch going
        try:
            asyncio.get_event_loop().call_exception_handler(
                {"message": f"exception in pyidb's handler of a {kind!r} event", "exception": exc}
            )
        except Exception:
            pass
        return False


# -- errors ------------------------------------------------------------------------------------
def error_from_text(text: str) -> Error:
    """``"Name\\nmessage"`` (as the shim sends a DOMException) -> the pyidb error."""
    name, _, message = text.partition("\n")
    return error_from_name(name or "UnknownError", message)


def check(result: str) -> str:
    """Raise the error a shim call returned (``"\\0Name\\nmessage"``); else pass it through."""
    if result and result[0] == ERR:
        raise error_from_text(result[1:])
    return result


# -- requests ----------------------------------------------------------------------------------
def new_request(decode: Callable[[str], Any], tx: Any) -> tuple[int, SyncFuture[Any]]:
    """An id whose success/error event completes the returned future (inside the event).

    On error the future fails with the pyidb error; the shim calls ``preventDefault()`` only if
    the awaiting code handled it, so an unhandled error aborts the transaction as in JS. While
    the error is delivered, ``tx.failing_error`` is it (see BrowserTransaction.__aexit__).
    """
    fut: SyncFuture[Any] = SyncFuture(running_loop())
    rid = next(_ids)

    def handle(kind: str, text: str) -> bool:
        del handlers[rid]
        tx.delivering += 1  # the transaction is active while the awaiting task runs in here
        try:
            return _complete(kind, text)
        finally:
            tx.delivering -= 1

    def _complete(kind: str, text: str) -> bool:
        if kind == Event.SUCCESS or kind == Event.UNSENDABLE:
            try:
                if kind == Event.UNSENDABLE:  # the shim could not encode the result
                    raise error_from_text(text)
                result = decode(text)
            except Error as exc:  # e.g. a value other JS code stored that Python cannot hold
                if not fut.set_exception(exc):
                    tx.abort_quietly()
                return False
            fut.set_result(result)
            return False
        err = error_from_text(text)
        tx.failing_error = err
        try:
            handled = fut.set_exception(err)
        finally:
            tx.failing_error = None
        # doomed: the error escaped an ``async with`` block, even if code outside caught it
        return handled and tx.escaped_error is None

    def withdraw() -> bool:
        # A cancelled task (a timeout): a placed IDB request cannot be taken back, but its
        # transaction can, so abort it (nothing of it is kept) and let the task go at once.
        if tx.finished:
            return False
        tx.abort_quietly()
        return True

    fut.set_canceller(withdraw)
    handlers[rid] = handle
    return rid, fut


def forget(rid: int) -> None:
    handlers.pop(rid, None)


def decode_none(_text: str) -> None:
    return None


# -- arguments on the wire -----------------------------------------------------------------------
# Each argument becomes one JSON text in the values.py wire format; a request's arguments are the
# JSON array of them, decoded by the shim with codec.js fromWire in one pass. Keys are encoded
# here, not by wire.dumps (to_key has already refused ints beyond 2**53-1: BigInts are no keys).
_INF = float("inf")
_dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


def _tag_key(k: Any) -> Any:
    t = type(k)
    if t is int or t is str:
        return k
    if t is float:
        if k == _INF or k == -_INF:
            return {"$t": "num", "v": "Infinity" if k > 0 else "-Infinity"}
        return k
    if t is list:
        return [_tag_key(x) for x in k]
    if t is bytes:
        return {"$t": "bytes", "v": base64.b64encode(k).decode("ascii")}
    return {"$t": "date", "v": (k - _EPOCH) // _MS}  # a normalized key's last kind: datetime


def encode_key(key: Any) -> str:
    """A key as wire text; DataError if it is no key.

    >>> encode_key(b"hi"), encode_key([1, 2.5])
    ('{"$t":"bytes","v":"aGk="}', '[1,2.5]')
    """
    return encode_valid_key(to_key(key))


def encode_valid_key(k: Any) -> str:
    """A key :func:`~pyidb.keys.to_key` has already normalized, as wire text."""
    if type(k) is int or (type(k) is str and k.isascii()):
        return _dumps(k)
    return _dumps(_tag_key(k))


def encode_query(query: Any) -> str:
    """A normalized query (:func:`pyidb.key_range.to_query`: a key, a KeyRange or None) as the
    shim reads it: key, ``{l, u, lo, uo}`` or null."""
    if query is None:
        return "null"
    if not isinstance(query, KeyRange):
        return encode_valid_key(query)
    lo = None if query.lower is None else _tag_key(query.lower)
    hi = None if query.upper is None else _tag_key(query.upper)
    return _dumps({"l": lo, "u": hi, "lo": query.lower_open, "uo": query.upper_open})


def encode_args(*texts: str) -> str:
    """The JSON array of already-encoded arguments."""
    return "[" + ",".join(texts) + "]"


def fix_key(k: Any) -> Any:
    """A key read back from JS, normalized as pyidb.keys does: an integral number up to 2**53-1
    is an int (pyidb.js_numbers)."""
    t = type(k)
    if t is float and k.is_integer() and -_SAFE_KEY <= k <= _SAFE_KEY:
        return int(k)
    if t is list:
        return [fix_key(x) for x in k]
    return k


_SAFE_KEY = SAFE_INTEGER


def loads_key(text: str) -> Any:
    return fix_key(wire.loads(text))


def fix_keys(keys: list[Any]) -> list[Any]:
    """:func:`fix_key` of each key; the common lists (no float or array key) as they are, found
    without a Python call per key."""
    kinds = set(map(type, keys))
    if float not in kinds and list not in kinds:
        return keys
    return [fix_key(k) for k in keys]


def loads_keys(text: str) -> Any:
    return fix_keys(wire.loads(text))


def loads_records(text: str) -> list[Record]:
    """The shim's ``[primaryKeys, values(, indexKeys)]`` as records (key, primary key, value)."""
    parts = wire.loads(text)
    pks = fix_keys(parts[0])
    keys = pks if len(parts) == 2 else fix_keys(parts[2])
    return make_records(keys, pks, parts[1])



def use_native_get_all(on: bool) -> bool:
    """For tests: False sends get_all/get_all_keys with a direction and get_all_records down the
    shim's cursor path even where the browser has ``getAllRecords``; True (the default) uses the
    browser's own calls where it has them. Returns whether it has them.

    >>> use_native_get_all(False)   # Chromium: True (it has them); now the cursor path runs
    """
    return bool(js().useNativeGetAll(bool(on)))
