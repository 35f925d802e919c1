"""The Python half of the JS shim: loading it, calling it, and routing its events to requests.

The shim (``shim.js`` + ``codec.js`` beside this module, copies of ``js_shim/``) keeps every
IndexedDB object on the JS side under an integer id chosen here, so only ints and strings cross
Pyodide's FFI: no JsProxy reaches the user and none needs destroying. Results come back through
one dispatcher (the only PyProxy pyidb creates, made once per page) that the shim calls inside the
IndexedDB event; the handler registered for the id completes a :class:`~pyidb.sync_future.SyncFuture`
there, which resumes the awaiting task while the transaction is still active.

>>> rid, fut = new_request(values.loads)
>>> check(js().request(tx_id, rid, "notes", "", "get", encode_args([1])))
>>> value = await fut
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

from .. import values
from ..errors import Error, InvalidStateError, error_from_name
from ..key_range import KeyRange, to_key_range
from ..keys import to_key
from ..sync_future import SyncFuture

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


def running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise InvalidStateError(
            "pyidb needs a running asyncio event loop: call it from async code"
        ) from None


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
def new_request(decode: Callable[[str], Any],
                on_unhandled: Callable[[Error], None] | None = None) -> tuple[int, SyncFuture[Any]]:
    """An id whose success/error event completes the returned future (inside the event).

    On error the future fails with the pyidb error; the shim calls ``preventDefault()`` only if
    the awaiting code handled it, so an unhandled error aborts the transaction as in JS.
    """
    fut: SyncFuture[Any] = SyncFuture(running_loop())
    rid = next(_ids)

    def handle(kind: str, text: str) -> bool:
        del handlers[rid]
        if kind == "s":
            try:
                result = decode(text)
            except Error as exc:  # e.g. a value other JS code stored that Python cannot hold
                if not fut.set_exception(exc) and on_unhandled is not None:
                    on_unhandled(exc)
                return False
            fut.set_result(result)
            return False
        return fut.set_exception(error_from_text(text))

    handlers[rid] = handle
    return rid, fut


def forget(rid: int) -> None:
    handlers.pop(rid, None)


def decode_none(_text: str) -> None:
    return None


# -- arguments on the wire -----------------------------------------------------------------------
def encode_key(key: Any) -> tuple[Any, bool]:
    """A key in its wire form and whether it needs tags; DataError if it is no key."""
    return values.clone(to_key(key))


def encode_query(query: Any, null_allowed: bool = True) -> tuple[Any, bool]:
    """A key, a KeyRange or None as the shim reads it: key, ``{l, u, lo, uo}`` or null."""
    r = to_key_range(query, null_allowed=null_allowed)
    if r is None:
        return None, False
    if not isinstance(query, KeyRange):
        return values.clone(r.lower)
    lo, lt = values.clone(r.lower) if r.lower is not None else (None, False)
    hi, ht = values.clone(r.upper) if r.upper is not None else (None, False)
    return {"l": lo, "u": hi, "lo": r.lower_open, "uo": r.upper_open}, lt or ht


def encode_args(args: list[Any], tags: bool = True) -> str:
    """One wire text for a request's argument list (ASCII: lone surrogates cross the FFI)."""
    return values.dumps(args, tags, ensure_ascii=True)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)


