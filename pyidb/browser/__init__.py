"""The browser backend: the page's real IndexedDB, driven from Pyodide through a small JS shim.

>>> import pyidb
>>> f = pyidb.factory("browser")          # BrowserFactory(); raises where IndexedDB is unreachable
>>> pyidb.browser.is_available()
True

The shim (``shim.js`` and the value codec ``codec.js`` beside this module) ships in the wheel and
is evaluated at first use: installing the wheel is all a page needs.
"""

from __future__ import annotations

import sys

__all__ = ["BrowserFactory", "is_available"]

_available: bool | None = None


def is_available() -> bool:
    """True when running in Pyodide with a usable ``indexedDB`` global (a page or a worker of a
    normal origin); False elsewhere (CPython, Node, a sandboxed iframe)."""
    global _available
    if _available is None:
        if sys.platform != "emscripten":
            _available = False
        else:
            try:
                from . import shim

                _available = bool(shim.js().available())
            except Exception:
                _available = False
    return _available


def __getattr__(name: str) -> object:
    # Lazy: importing pyidb.browser must work everywhere (pyidb.factories probes it).
    if name == "BrowserFactory":
        from .factory import BrowserFactory

        return BrowserFactory
    raise AttributeError(f"module 'pyidb.browser' has no attribute {name!r}")
