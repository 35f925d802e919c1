"""Call-time checks of ``create_object_store`` and ``create_index`` after their WebIDL argument
checks (spec 4.4 steps 6-9, 4.5 steps 7-10), shared by every backend that keeps its own schema
(the engine, the host socket's client), so both raise the same error::

    path = check_new_store("notes", "id", True, exists=False)   # "id"
    check_new_index("notes", "by_tag", ["a", "b"], True, exists=False)  # InvalidAccessError
"""

from __future__ import annotations

from typing import Any

from .errors import ConstraintError, InvalidAccessError
from .key_path import validate_key_path

__all__ = ["check_new_index", "check_new_store"]


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
