"""Argument checks that WebIDL does before IndexedDB runs: the same in every backend.

A wrong type or an unknown enum value is a JS ``TypeError``; here an
:class:`~pyidb.errors.InvalidArgumentError` (also a Python ``TypeError``) that says what is allowed::

    check_direction("nextunique")   # 'nextunique'
    check_count(-1)                 # InvalidArgumentError: count must be an int from 0 to 2**32-1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import InvalidArgumentError
from .js_numbers import KEY_INTEGER_LIMIT

DIRECTIONS = ("next", "nextunique", "prev", "prevunique")
MODES = ("readonly", "readwrite")
DURABILITIES = ("default", "strict", "relaxed")
_MAX_COUNT = 2**32 - 1


def check_database_name(name: Any) -> str:
    """``open()``/``deleteDatabase()``'s name: any str (IndexedDB allows "" too)."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"a database name must be a str, not {type(name).__name__}")
    return name


def check_version(version: Any) -> int | None:
    """``open()``'s version: None (the current one) or an int from 1 below 2**53."""
    if version is not None and (type(version) is not int or not 1 <= version < KEY_INTEGER_LIMIT):
        raise InvalidArgumentError(f"version must be a positive int (1 or more), not {version!r}")
    return version  # type: ignore[no-any-return]


def check_count(count: Any) -> int | None:
    """getAll's ``count`` (an unsigned long): None or 0 mean no limit."""
    if count is None:
        return None
    if type(count) is not int or not 0 <= count <= _MAX_COUNT:
        raise InvalidArgumentError(f"count must be an int from 0 to 2**32-1, not {count!r}")
    return count or None


def check_direction(direction: Any) -> str:
    if direction not in DIRECTIONS:
        raise InvalidArgumentError(
            f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}"
        )
    return direction  # type: ignore[no-any-return]


def check_store_names(store_names: str | Sequence[str]) -> list[str]:
    """``transaction()``'s scope: one name or a sequence of names."""
    if isinstance(store_names, str):
        return [store_names]
    try:
        names = list(store_names)
    except TypeError:
        raise InvalidArgumentError(
            "store_names must be a store name or a list of store names"
        ) from None
    if not all(isinstance(n, str) for n in names):
        raise InvalidArgumentError("store_names must contain only str names")
    return names


def check_mode_and_durability(mode: Any, durability: Any) -> None:
    if mode not in MODES:
        raise InvalidArgumentError(f"mode must be 'readonly' or 'readwrite', not {mode!r}")
    if durability not in DURABILITIES:
        raise InvalidArgumentError(
            f"durability must be 'default', 'strict' or 'relaxed', not {durability!r}"
        )
