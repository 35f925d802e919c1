"""Call-time checks of schema changes: ``create_object_store`` and ``create_index`` after their
WebIDL argument checks (spec 4.4 steps 6-9, 4.5 steps 7-10), and the ``name`` setters; shared by
every backend that keeps its own schema (the engine, the host socket's client), so both raise the
same error::

    path = check_new_store("notes", "id", True, exists=False)   # "id"
    check_new_index("notes", "by_tag", ["a", "b"], True, exists=False)  # InvalidAccessError
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from .arguments import check_index_name, check_store_name
from .errors import ConstraintError, InvalidAccessError, InvalidStateError
from .key_path import validate_key_path

__all__ = ["check_index_rename", "check_new_index", "check_new_store", "check_store_rename"]


def check_new_store(name: str, key_path: Any, auto_increment: bool, *, exists: bool) -> Any:
    """The key path (validated; None stays None), then the name, then the key generator's
    need for a non-empty string path (or none); returns the validated key path."""
    path = None if key_path is None else validate_key_path(key_path)
    if exists:
        raise ConstraintError(f"object store {name!r} already exists")
    if auto_increment and (path == "" or isinstance(path, list)):
        raise InvalidAccessError(
            "auto_increment needs no key path or a non-empty string key path; "
            f"{path!r} cannot receive generated keys"
        )
    return path


def check_new_index(store: str, name: str, key_path: Any, multi_entry: bool, *, exists: bool) -> Any:
    """The name, then the key path, then multi_entry's need for a string path; returns the
    validated key path."""
    if exists:
        raise ConstraintError(f"object store {store!r} already has an index {name!r}")
    path = validate_key_path(key_path)
    if isinstance(path, list) and multi_entry:
        raise InvalidAccessError("multi_entry indexes need a string key path, not a list")
    return path


def check_store_rename(handle: Any, old: str, new_name: Any, *, deleted: bool, upgrade: bool,
                       check_active: Callable[[], None], taken: Container[str]) -> str | None:
    """Spec ``IDBObjectStore.name`` setter: the name, deleted, not an upgrade, inactive, taken.
    Returns the new name as a plain str, or None if it is unchanged (nothing to do)."""
    new_name = check_store_name(new_name)
    if deleted:
        raise InvalidStateError(f"{handle!r} has been deleted")
    if not upgrade:
        raise InvalidStateError("renaming an object store works only inside the upgrade "
                                "callback of open()")
    check_active()
    if new_name == old:
        return None
    if new_name in taken:
        raise ConstraintError(f"cannot rename object store {old!r}: an object store named "
                              f"{new_name!r} already exists")
    return new_name


def check_index_rename(handle: Any, store: str, old: str, new_name: Any, *, deleted: bool,
                       upgrade: bool, check_active: Callable[[], None], taken: Container[str]
                       ) -> str | None:
    """Spec ``IDBIndex.name`` setter: the name, not an upgrade, inactive, deleted (this order,
    unlike the store's), taken. The new name, or None if unchanged."""
    new_name = check_index_name(new_name)
    if not upgrade:
        raise InvalidStateError("renaming an index works only inside the upgrade callback of open()")
    check_active()
    if deleted:
        raise InvalidStateError(f"{handle!r} has been deleted")
    if new_name == old:
        return None
    if new_name in taken:
        raise ConstraintError(f"cannot rename index {old!r}: object store {store!r} already has "
                              f"an index {new_name!r}")
    return new_name
