"""Argument checks that WebIDL does before IndexedDB runs: the same in every backend.

A wrong type or an unknown enum value is a JS ``TypeError``; here an
:class:`~pyidb.errors.InvalidArgumentError` (also a Python ``TypeError``) that says what is allowed::

    check_direction("nextunique")   # 'nextunique'
    check_count(-1)                 # InvalidArgumentError: count must be an int from 0 to 2**32-1
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import InvalidArgumentError
from .js_numbers import KEY_INTEGER_LIMIT

DIRECTIONS = ("next", "nextunique", "prev", "prevunique")
MODES = ("readonly", "readwrite")
DURABILITIES = ("default", "strict", "relaxed")
_MAX_COUNT = 2**32 - 1


_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 40


def show(value: Any) -> str:
    """A short repr of an argument for an error message: bounded in length and depth, so a
    hostile argument (a list nested 5,000 deep, a huge str) cannot break the error itself."""
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def plain_str(value: Any, what: str) -> str:
    """``value`` as an exact ``str``, or InvalidArgumentError naming ``what``.

    A str subclass is copied to a plain str here, at the API boundary, so none of its overrides
    (``__eq__``, ``__hash__``, ``split``...) ever runs inside a backend (an ``__eq__`` that raises
    during an abort once left the engine's scheduler stuck)::

        plain_str(MyStr("notes"), "an object store name")   # 'notes' (type str)
    """
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")


def check_database_name(name: Any) -> str:
    """``open()``/``deleteDatabase()``'s name: any str (IndexedDB allows "" too)."""
    return plain_str(name, "a database name")


def check_store_name(name: Any) -> str:
    """An object store name, as a plain str."""
    return plain_str(name, "an object store name")


def check_index_name(name: Any) -> str:
    """An index name, as a plain str."""
    return plain_str(name, "an index name")


def check_flag(value: Any, what: str) -> bool:
    """A boolean option (``unique=``, ``multi_entry=``, ``auto_increment=``) as a plain bool:
    its truth value, as WebIDL's ToBoolean; InvalidArgumentError if that raises (a numpy array)."""
    if value is True or value is False:
        return value
    try:
        return bool(value)
    except Exception as exc:
        raise InvalidArgumentError(
            f"{what} must be True or False; the truth value of the "
            f"{type(value).__name__} given cannot be taken ({exc})"
        ) from exc


def as_list(values: Any, what: str) -> list[Any]:
    """An iterable argument (``put_many``'s values, ``get_many``'s keys...) read once into a list;
    InvalidArgumentError if it is not iterable or fails while being read."""
    if type(values) is list:
        return list(values)
    if isinstance(values, (str, bytes, bytearray, dict)) or not isinstance(values, Iterable):
        raise InvalidArgumentError(
            f"{what} must be a list (or another iterable), not {type(values).__name__}"
        )
    try:
        return list(values)
    except Exception as exc:
        raise InvalidArgumentError(
            f"{what} could not be read as a list: {type(exc).__name__}: {exc}"
        ) from exc


def values_and_keys(values: Any, keys: Any) -> tuple[list[Any], list[Any]]:
    """``add_many``/``put_many``'s arguments as two lists of one length (keys all None when
    not given); InvalidArgumentError if the lengths differ."""
    value_list = as_list(values, "values")
    key_list = [None] * len(value_list) if keys is None else as_list(keys, "keys")
    if len(key_list) != len(value_list):
        raise InvalidArgumentError(
            f"got {len(value_list)} values but {len(key_list)} keys; pass one key per value"
        )
    return value_list, key_list


def check_version(version: Any) -> int | None:
    """``open()``'s version: None (the current one) or an int from 1 below 2**53."""
    if version is not None and (type(version) is not int or not 1 <= version < KEY_INTEGER_LIMIT):
        raise InvalidArgumentError(f"version must be a positive int (1 or more), not {show(version)}")
    return version  # type: ignore[no-any-return]


def check_count(count: Any) -> int | None:
    """getAll's ``count`` (an unsigned long): None or 0 mean no limit."""
    if count is None:
        return None
    if type(count) is not int or not 0 <= count <= _MAX_COUNT:
        raise InvalidArgumentError(f"count must be an int from 0 to 2**32-1, not {show(count)}")
    return count or None


def _enum(value: Any, allowed: tuple[str, ...], what: str) -> str:
    # exact str first: ``in`` would call a foreign object's __eq__ (a numpy array's raises)
    if isinstance(value, str) and str.__str__(value) in allowed:
        return str.__str__(value)
    shown = show(value) if isinstance(value, (str, int, float, type(None))) else type(value).__name__
    raise InvalidArgumentError(f"{what} must be one of {', '.join(allowed)}, not {shown}")


def check_direction(direction: Any) -> str:
    return _enum(direction, DIRECTIONS, "direction")


def check_store_names(store_names: str | Sequence[str]) -> list[str]:
    """``transaction()``'s scope: one name or a sequence of names."""
    if isinstance(store_names, str):
        return [str.__str__(store_names)]
    names = as_list(store_names, "store_names (a store name or a list of store names)")
    if not all(isinstance(n, str) for n in names):
        raise InvalidArgumentError("store_names must contain only str names")
    return [str.__str__(n) for n in names]


def check_mode_and_durability(mode: Any, durability: Any) -> tuple[str, str]:
    """``transaction()``'s mode and durability, as plain str."""
    return _enum(mode, MODES, "mode"), _enum(durability, DURABILITIES, "durability")
