"""Spec 2.11, key generators: autoIncrement numbering for an object store.

The current number starts at 1, is used and bumped for every generated key, and is raised by
explicit numeric keys. It never exceeds 2**53 + 1: past 2**53 no key can be generated
(ConstraintError). Changes are part of the operation: the engine's journal restores the number
if the operation fails, and the catalog restores it if the transaction aborts.
"""

from __future__ import annotations

import math

from ..errors import ConstraintError
from ..js_numbers import KEY_INTEGER_LIMIT, from_js_number
from .catalog import StoreSchema

MAX_KEY = KEY_INTEGER_LIMIT


def generate_key(store: StoreSchema) -> int | float:
    """Spec "generate a key": the next key, or ConstraintError once the numbers run out."""
    key = store.generator
    if key > MAX_KEY:
        raise ConstraintError(
            f"the key generator of object store {store.name!r} has reached 2**53 and can "
            "generate no more keys; supply keys explicitly"
        )
    store.generator = key + 1
    store.generator_dirty = True
    return from_js_number(key)  # the last one, 2**53, is a float as in the browser


def possibly_update(store: StoreSchema, key: object) -> None:
    """Spec "possibly update the key generator": an explicit numeric key raises the number."""
    if type(key) not in (int, float) or key < store.generator:  # also keeps -inf from floor()
        return
    value = math.floor(min(key, MAX_KEY))  # type: ignore[type-var, call-overload]
    if value >= store.generator:
        store.generator = value + 1
        store.generator_dirty = True
