"""Stored values: :mod:`pyidb.clone` (the structured-clone rules) and :mod:`pyidb.wire` (the
tagged JSON text), re-exported here for code that imports ``pyidb.values``."""

from __future__ import annotations

from .clone import MAX_DEPTH, clone, is_plain
from .wire import decode, dumps, encode, loads, loads_many

__all__ = ["MAX_DEPTH", "clone", "decode", "dumps", "encode", "is_plain", "loads", "loads_many"]
