"""pyidb: IndexedDB for Python — the browser's real IndexedDB under Pyodide, the same semantics on
memory or SQLite everywhere else.

>>> import pyidb
>>> db = await pyidb.open("app", 1, upgrade=lambda db, old, new, tx:
...     db.create_object_store("notes", key_path="id", auto_increment=True))
>>> key = await db.add("notes", {"text": "hello"})
>>> await db.get("notes", key)
{'text': 'hello', 'id': 1}
"""

from __future__ import annotations

from typing import Any

from . import keyval, storage
from .api import (
    BlockedCallback,
    Cursor,
    CursorRequest,
    CursorWithValue,
    Database,
    Factory,
    Index,
    ObjectStore,
    Record,
    Request,
    Transaction,
    UpgradeCallback,
    VersionChangeCallback,
)
from .errors import (
    AbortError,
    ConstraintError,
    DataCloneError,
    DataError,
    Error,
    InvalidAccessError,
    InvalidArgumentError,
    InvalidStateError,
    KeyPathSyntaxError,
    LockTimeoutError,
    NotFoundError,
    QuotaExceededError,
    ReadOnlyError,
    TransactionInactiveError,
    UnknownError,
    VersionError,
)
from .factories import (
    FallbackWarning,
    default_factory,
    factory,
    register_scheme,
    set_default_factory,
)
from .key_range import KeyRange
from .keys import cmp
from .operations import Handler, Kind, Operation
from .transfer import TransferError, export_database, import_database
from .wrapping import wrap

__version__ = "0.1.0"

__all__ = [
    "AbortError",
    "BlockedCallback",
    "ConstraintError",
    "Cursor",
    "CursorRequest",
    "CursorWithValue",
    "DataCloneError",
    "DataError",
    "Database",
    "Error",
    "Factory",
    "FallbackWarning",
    "Handler",
    "Index",
    "InvalidAccessError",
    "InvalidArgumentError",
    "InvalidStateError",
    "KeyPathSyntaxError",
    "KeyRange",
    "Kind",
    "LockTimeoutError",
    "NotFoundError",
    "ObjectStore",
    "Operation",
    "QuotaExceededError",
    "ReadOnlyError",
    "Record",
    "Request",
    "Transaction",
    "TransactionInactiveError",
    "TransferError",
    "UnknownError",
    "UpgradeCallback",
    "VersionChangeCallback",
    "VersionError",
    "cmp",
    "databases",
    "default_factory",
    "delete_database",
    "export_database",
    "factory",
    "import_database",
    "keyval",
    "open",
    "register_scheme",
    "set_default_factory",
    "storage",
    "wrap",
]


async def open(
    name: str,
    version: int | None = None,
    *,
    upgrade: UpgradeCallback | None = None,
    blocked: BlockedCallback | None = None,
    blocking: VersionChangeCallback | None = None,
    factory: Factory | None = None,
) -> Database:
    """Open database ``name`` on ``factory`` (default: :func:`default_factory`)."""
    f = factory or default_factory()
    return await f.open(name, version, upgrade=upgrade, blocked=blocked, blocking=blocking)


async def delete_database(
    name: str, *, blocked: BlockedCallback | None = None, factory: Factory | None = None
) -> None:
    """Delete database ``name`` (nothing happens if it does not exist)."""
    await (factory or default_factory()).delete_database(name, blocked=blocked)


async def databases(*, factory: Factory | None = None) -> list[dict[str, Any]]:
    """``[{"name": ..., "version": ...}]`` of the default (or given) factory."""
    return await (factory or default_factory()).databases()
