"""Spec "add or put" steps 5-11 for one record, shared by every backend: key vs key path checks.

Both backends raise these at call time, before anything is stored (a browser would find a bad
record of a batch only after placing the earlier ones), with the same ``DataError`` messages::

    check_key_use("notes", "id", False, key=None)              # in-line keys: fine
    key = record_key("notes", "id", False, {"id": 3})          # -> 3
"""

from __future__ import annotations

from typing import Any

from .errors import DataError
from .key_path import INVALID_KEY, NO_KEY, check_key_injectable, extract_key

__all__ = ["NO_KEY", "check_key_use", "record_key"]


def check_key_use(store: str, key_path: Any, auto_increment: bool, key: Any) -> None:
    """Steps 5-6: an explicit ``key`` only for out-of-line stores, and required without a
    key generator."""
    if key_path is not None and key is not None:
        raise DataError(
            f"object store {store!r} uses in-line keys (key path {key_path!r}); "
            "do not pass a key, put it in the value"
        )
    if key_path is None and not auto_increment and key is None:
        raise DataError(f"object store {store!r} has no key path and no key generator: pass a key")


def record_key(store: str, key_path: Any, auto_increment: bool, copy: Any) -> Any:
    """Steps 9-11 for an in-line store: the key at ``key_path`` of the cloned value, or
    :data:`NO_KEY` when the key generator will make one (and can put it into the value)."""
    extracted = extract_key(copy, key_path)
    if extracted is INVALID_KEY:
        raise DataError(f"the value's key path {key_path!r} does not give a valid key")
    if extracted is NO_KEY:
        if not auto_increment:
            raise DataError(
                f"the value has no key at key path {key_path!r} of object store {store!r}"
            )
        if not check_key_injectable(copy, key_path):
            raise DataError(f"a generated key cannot be put into the value at {key_path!r}")
    return extracted
