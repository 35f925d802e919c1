"""Spec "add or put" steps 5-11 for one record, shared by every backend: key vs key path checks,
the key's conversion, the value's copy and the key's extraction.

:class:`pyidb.api.ObjectStore` runs these at call time for every backend, before anything is
stored (a browser would find a bad record of a batch only after placing the earlier ones), with
the same ``DataError`` messages::

    check_key_use("notes", "id", False, key=None)              # in-line keys: fine
    key = record_key("notes", "id", False, {"id": 3})          # -> 3
    copy, needs_tags, key, plain = prepare_record(("notes", "id", False), True, {"id": 3}, None)
"""

from __future__ import annotations

from typing import Any

from .clone import clone, is_plain
from .errors import DataError
from .js_numbers import SAFE_INTEGER as _SAFE
from .key_path import INVALID_KEY, NO_KEY, check_key_injectable, extract_key
from .keys import to_key

__all__ = ["NO_KEY", "KeyRules", "PreparedRecord", "check_key_use", "prepare_record",
           "prepare_records", "prepare_value", "record_key"]

KeyRules = tuple[str, Any, bool]
"""What a store's records are checked against: ``(store name, key path, auto_increment)``."""

PreparedRecord = tuple[Any, bool, Any, bool]
"""``(copy, needs_tags, key, plain)``: the value to store (the caller's own value when ``plain``:
:func:`pyidb.clone.is_plain` says its clone would equal it), whether its wire text needs type
tags, and its key (None: the key generator makes one; in-line keys are already extracted)."""


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
    if type(copy) is dict and type(key_path) is str and key_path and "." not in key_path:
        # The common in-line key (a top-level safe int or ASCII str) is already a valid,
        # normalized key: skip the key-path walk and the key conversion.
        found = copy.get(key_path)
        kind = type(found)
        if (kind is int and -_SAFE <= found <= _SAFE) or (kind is str and found.isascii()):
            return found
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


def prepare_record(rules: KeyRules, injects: bool, value: Any, key: Any) -> PreparedRecord:
    """Steps 5-11 of one record: check key vs key path, convert the key, copy the value (a plain
    value is kept as it is) and extract its in-line key. Nothing is written.

    ``injects``: the backend puts a generated key into this Python object (the engine does; the
    browser puts it into its own copy), so a plain value of a key-generating in-line store must
    be copied too."""
    name, key_path, auto_increment = rules
    check_key_use(name, key_path, auto_increment, key)
    if key is not None:
        key = to_key(key)
    if (key_path is None or not auto_increment or not injects) and is_plain(value):
        if key_path is not None:
            extracted = record_key(name, key_path, auto_increment, value)
            key = None if extracted is NO_KEY else extracted
        return value, False, key, True
    copy, needs_tags = clone(value)
    if key_path is not None:
        extracted = record_key(name, key_path, auto_increment, copy)
        if extracted is not NO_KEY:
            key = extracted
    return copy, needs_tags, key, False


_MISSING = object()


def prepare_records(rules: KeyRules, injects: bool, values: list[Any],
                    keys: list[Any] | None) -> list[PreparedRecord]:
    """:func:`prepare_record` of each value of a batch (``keys``: one per value, or None).

    The common batch, plain dicts whose key is one top-level str or int property ("id"), is
    settled here without the general steps; the rest goes through :func:`prepare_record`."""
    path = rules[1]
    if keys is not None or type(path) is not str or path == "" or "." in path:
        if keys is None:
            return [prepare_record(rules, injects, v, None) for v in values]
        return [prepare_record(rules, injects, v, k) for v, k in zip(values, keys, strict=True)]
    out: list[PreparedRecord] = []
    append = out.append
    for v in values:
        if type(v) is dict:
            found = v.get(path, _MISSING)
            tf = type(found)
            if (tf is str or tf is int) and is_plain(v):
                append((v, False, to_key(found), True))
                continue
        append(prepare_record(rules, injects, v, None))
    return out


def prepare_value(value: Any) -> tuple[Any, bool, bool]:
    """A value taken at call time (a cursor's update): ``(copy, needs_tags, plain)``, the value
    itself when it is plain (:func:`pyidb.clone.is_plain`)."""
    if is_plain(value):
        return value, False, True
    copy, needs_tags = clone(value)
    return copy, needs_tags, False
