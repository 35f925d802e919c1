"""pyidb's errors: one class per DOMException name that IndexedDB raises.

Every error has ``.name`` equal to the DOMException name, so code written against MDN maps 1:1::

    try:
        await store.add(value, key)
    except pyidb.ConstraintError as e:
        print(e.name, e)   # ConstraintError  Key already exists in the object store.
"""

from __future__ import annotations

__all__ = [
    "AbortError",
    "ConstraintError",
    "DataCloneError",
    "DataError",
    "Error",
    "InvalidAccessError",
    "InvalidArgumentError",
    "InvalidStateError",
    "KeyPathSyntaxError",
    "LockTimeoutError",
    "NotFoundError",
    "QuotaExceededError",
    "ReadOnlyError",
    "TransactionInactiveError",
    "UnknownError",
    "VersionError",
    "error_from_name",
]


class Error(Exception):
    """Base of every pyidb error; ``name`` is the DOMException name."""

    name = "Error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class AbortError(Error):
    """The transaction was aborted (explicitly, or because of another error)."""

    name = "AbortError"


class ConstraintError(Error):
    """A key or unique-index constraint, or a name clash, was violated."""

    name = "ConstraintError"


class DataCloneError(Error):
    """The value cannot be stored: it is not something structured clone can copy."""

    name = "DataCloneError"


class DataError(Error):
    """A key, key range or key path result is not valid for the operation."""

    name = "DataError"


class InvalidAccessError(Error):
    """The operation is not allowed on this object (e.g. multiEntry with an array key path)."""

    name = "InvalidAccessError"


class InvalidStateError(Error):
    """The object is in the wrong state (deleted store, closed connection, used cursor...)."""

    name = "InvalidStateError"


class NotFoundError(Error):
    """No object store or index by that name."""

    name = "NotFoundError"


class QuotaExceededError(Error):
    """The storage ran out of space."""

    name = "QuotaExceededError"


class ReadOnlyError(Error):
    """A write was attempted in a readonly transaction."""

    name = "ReadOnlyError"


class TransactionInactiveError(Error):
    """The transaction is not active: it already committed or is not accepting requests now."""

    name = "TransactionInactiveError"


class UnknownError(Error):
    """The storage failed for a reason that is not the caller's fault."""

    name = "UnknownError"


class LockTimeoutError(UnknownError):
    """Another process held the database file's write lock for longer than the lock timeout
    (``sqlite:///file.db?timeout=SECONDS``); nothing was written. Retrying later is safe."""


class VersionError(Error):
    """``open`` asked for a version lower than the database's current one."""

    name = "VersionError"


class KeyPathSyntaxError(Error):
    """A key path is not valid. The DOMException is ``SyntaxError``; the class name avoids
    shadowing Python's builtin."""

    name = "SyntaxError"


class InvalidArgumentError(Error, TypeError):
    """An argument has the wrong type or an unknown enum value (a JS ``TypeError``)."""

    name = "TypeError"


_BY_NAME: dict[str, type[Error]] = {
    cls.name: cls
    for cls in (
        AbortError,
        ConstraintError,
        DataCloneError,
        DataError,
        InvalidAccessError,
        InvalidStateError,
        NotFoundError,
        QuotaExceededError,
        ReadOnlyError,
        TransactionInactiveError,
        UnknownError,
        VersionError,
        KeyPathSyntaxError,
        InvalidArgumentError,
    )
}


def error_from_name(name: str, message: str = "") -> Error:
    """The pyidb error for a DOMException ``name`` (``UnknownError`` for names IDB never uses).

    >>> error_from_name("ConstraintError", "Key already exists").name
    'ConstraintError'
    """
    cls = _BY_NAME.get(name)
    if cls is None:
        return UnknownError(f"{name}: {message}" if message else name)
    return cls(message)
