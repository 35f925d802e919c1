"""What a scope name (a plugin's ``db``) may be: the one home of that rule.

A scope name becomes a PostgreSQL schema name and part of every database name of the scope, so it
is kept to what needs no quoting anywhere and is never truncated: 1-48 characters of ``a-z``,
``0-9`` and ``_``, starting with a letter. Names PostgreSQL or pyidb keep for themselves are
refused (``public``, ``information_schema``, ``pg_*``, ``pyidb*``)::

    check_scope_name("workplace_hub")   # -> "workplace_hub"
    check_scope_name("public")          # InvalidArgumentError
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidArgumentError

__all__ = ["MAX_SCOPE_NAME", "check_scope_name"]

MAX_SCOPE_NAME = 48
_SCOPE_NAME = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_SCOPE_NAME - 1}}}")
_RESERVED = ("public", "information_schema")
_RESERVED_PREFIXES = ("pg_", "pyidb")


def check_scope_name(name: Any) -> str:
    """``name`` if it is a valid scope name, else InvalidArgumentError saying what is wrong."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"a scope name must be a str, not {type(name).__name__}")
    if not _SCOPE_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"invalid scope name {name!r}: use 1-{MAX_SCOPE_NAME} characters of a-z, 0-9 and _, "
            "starting with a letter"
        )
    if name in _RESERVED or name.startswith(_RESERVED_PREFIXES):
        raise InvalidArgumentError(
            f"the scope name {name!r} is reserved (public, information_schema, pg_*, pyidb*): "
            "choose another"
        )
    return name
