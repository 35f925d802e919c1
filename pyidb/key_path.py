"""Key paths: validation, and the spec algorithms "extract a key from a value using a key path",
"check that a key could be injected into a value" and "inject a key into a value".

A key path is ``""`` (the value itself), an identifier (``"id"``), identifiers joined by dots
(``"author.name"``), or a non-empty list of those (``["last", "first"]``: a compound key).

Values here are pyidb's normalized values: a JS object is a ``dict`` with str keys, an array a
``list``; ``"length"`` of a str counts UTF-16 code units, as JS does.

>>> extract_key({"author": {"name": "Ann"}, "year": 2024}, ["year", "author.name"])
[2024, 'Ann']
>>> extract_key({"tags": "abc"}, "tags.length")
3
"""

from __future__ import annotations

from typing import Any

from .arguments import show
from .errors import DataError, KeyPathSyntaxError
from .key_encoding import encode_key
from .keys import Key, key_to_python, to_key

__all__ = [
    "INVALID_KEY",
    "NO_KEY",
    "check_key_injectable",
    "extract_index_keys",
    "extract_key",
    "inject_key",
    "is_valid_key_path",
    "validate_key_path",
]


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


NO_KEY: Any = _Sentinel("NO_KEY")
"""extract_key's result when the key path does not resolve (spec: "failure")."""
INVALID_KEY: Any = _Sentinel("INVALID_KEY")
"""extract_key's result when the key path resolves to something that is not a key."""

_WHAT = (
    'a key path is "" (the value itself), an identifier like "id", identifiers joined by dots '
    'like "author.name", or a non-empty list of those'
)


def _is_identifier(name: str) -> bool:
    """ECMAScript IdentifierName, approximated with Python's identifier rules (both are Unicode
    ID_Start/ID_Continue based), plus JS's "$" anywhere and ZWNJ/ZWJ after the first char."""
    if name.isidentifier():
        return True
    if not name:
        return False
    # Replace the JS-only characters with ones Python accepts in the same positions.
    head = "_" if name[0] == "$" else name[0]
    tail = name[1:].replace("$", "_").replace("\u200c", "_").replace("\u200d", "_")
    return (head + tail).isidentifier()


def _is_valid_string_path(path: str) -> bool:
    return path == "" or all(_is_identifier(part) for part in path.split("."))


def is_valid_key_path(path: Any) -> bool:
    """True if :func:`validate_key_path` accepts ``path``."""
    try:
        validate_key_path(path)
    except KeyPathSyntaxError:
        return False
    return True


def validate_key_path(path: Any) -> str | list[str]:
    """``path`` as a key path (a str, or a list of str), or KeyPathSyntaxError.

    >>> validate_key_path(("a", "b.c"))
    ['a', 'b.c']
    """
    if isinstance(path, str):
        path = str.__str__(path)  # a plain str: no override of a subclass runs below
        if _is_valid_string_path(path):
            return path
        raise KeyPathSyntaxError(f"{show(path)} is not a valid key path: {_WHAT}")
    if isinstance(path, (list, tuple)):
        if not path:
            raise KeyPathSyntaxError(f"an empty list is not a valid key path: {_WHAT}")
        out: list[str] = []
        for item in path:
            if isinstance(item, str):
                item = str.__str__(item)
            if not isinstance(item, str) or not _is_valid_string_path(item):
                raise KeyPathSyntaxError(
                    f"{show(path)} is not a valid key path because of its item {show(item)}: "
                    f"{_WHAT}"
                )
            out.append(item)
        return out
    raise KeyPathSyntaxError(
        f"a key path must be a str or a list of str, not {type(path).__name__} ({show(path)}); "
        f"{_WHAT}"
    )


def _utf16_length(s: str) -> int:
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _evaluate(value: Any, path: str) -> Any:
    """Spec "evaluate a key path on a value" for a string path: the value found, or NO_KEY."""
    if path == "":
        return value
    for identifier in path.split("."):
        if isinstance(value, dict):
            if identifier not in value:
                return NO_KEY
            value = value[identifier]
        elif identifier == "length" and isinstance(value, (str, list, tuple)):
            value = _utf16_length(value) if isinstance(value, str) else len(value)
        else:
            # Not an object (str, number, None...), or an object without that own property
            # (a JS array, Uint8Array or Date has no own property named like an identifier
            # except an array's "length").
            return NO_KEY
    return value


def extract_key(value: Any, key_path: str | list[str]) -> Key:
    """Spec "extract a key from a value using a key path": the key, NO_KEY or INVALID_KEY.

    >>> extract_key({"a": {"b": 1}}, "a.b"), extract_key({"a": 1}, "a.b"), extract_key({"a": None}, "a")
    (1, NO_KEY, INVALID_KEY)
    """
    if isinstance(key_path, str):
        found = _evaluate(value, key_path)
        if found is NO_KEY:
            return NO_KEY
    else:
        found = []
        for path in key_path:
            item = _evaluate(value, path)
            if item is NO_KEY:
                return NO_KEY
            found.append(item)
    try:
        return to_key(found)
    except DataError:
        return INVALID_KEY


def extract_index_keys(value: Any, key_path: str | list[str], multi_entry: bool) -> list[Key]:
    """The index keys ``value`` contributes to an index: [] if none, one key, or (multiEntry
    with an array result) its distinct valid elements.

    >>> extract_index_keys({"tags": ["a", "b", "a", None]}, "tags", True)
    ['a', 'b']
    """
    if not multi_entry or not isinstance(key_path, str):
        key = extract_key(value, key_path)
        return [] if key is NO_KEY or key is INVALID_KEY else [key]
    found = _evaluate(value, key_path)
    if found is NO_KEY:
        return []
    if not isinstance(found, (list, tuple)):
        try:
            return [to_key(found)]
        except DataError:
            return []
    # Spec "convert a value to a multiEntry key": skip invalid elements and duplicates.
    keys: list[Key] = []
    seen: set[bytes] = set()
    for item in found:
        if item is found:
            continue  # the array inside itself: invalid, as the spec's "seen" set makes it
        try:
            key = to_key(item)
        except DataError:
            continue
        encoded = encode_key(key)
        if encoded not in seen:
            seen.add(encoded)
            keys.append(key)
    return keys


def check_key_injectable(value: Any, key_path: str) -> bool:
    """Spec "check that a key could be injected into a value" (string key paths only).

    >>> check_key_injectable({"a": {}}, "a.b"), check_key_injectable({"a": "s"}, "a.b")
    (True, False)
    """
    *parents, _last = key_path.split(".")
    for identifier in parents:
        if not isinstance(value, dict):
            return False
        if identifier not in value:
            return True  # inject_key creates the rest
        value = value[identifier]
    # A JS array could take a named property, but a Python list cannot: only objects (dicts).
    return isinstance(value, dict)


def inject_key(value: Any, key: Key, key_path: str) -> None:
    """Spec "inject a key into a value using a key path": set it, creating dicts on the way.

    >>> v = {}; inject_key(v, 7, "meta.id"); v
    {'meta': {'id': 7}}
    """
    *parents, last = key_path.split(".")
    for identifier in parents:
        if not isinstance(value, dict):
            break
        if identifier not in value:
            value[identifier] = {}
        value = value[identifier]
    if not isinstance(value, dict):
        # The engine checks check_key_injectable first; this is a caller bug, but say why.
        raise DataError(f"cannot put the key at {key_path!r}: the value there is not a dict")
    value[last] = key_to_python(key)
