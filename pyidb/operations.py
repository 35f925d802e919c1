"""The operations of the public API, as plain data: what a handler of :func:`pyidb.wrap` sees.

Every call a program makes on a wrapped factory (and on the databases, transactions, stores,
indexes and cursors it hands out) becomes one :class:`Operation` and goes through the handlers
given to :func:`pyidb.wrap`, outermost first, then to the backend, as ``httpx`` hands a request
to a chain of transports. A handler is a plain callable::

    def handler(op: Operation, proceed: Callable[[Operation], Any]) -> Any:
        ...                     # observe op, rewrite it (dataclasses.replace), or raise to veto
        return proceed(op)      # the next handler, and finally the backend

One :class:`Operation` class with a :class:`Kind` says which call it is; the fields a kind uses
(the rest stay None):

==========================  ===============================  ======================  =========
kind                        fields                           proceed(op) returns     on
==========================  ===============================  ======================  =========
OPEN                        database, version, upgrade,      awaitable of Database   factory
                            blocked, blocking
DELETE_DATABASE             database, blocked                awaitable of None       factory
DATABASES                   --                               awaitable of list       factory
TRANSACTION                 database, store_names, mode,     Transaction             database
                            durability
CLOSE                       database                         None                    database
OBJECT_STORE_NAMES          database (transaction on a tx)   list[str]               db / tx
CREATE_OBJECT_STORE         database, store, key_path,       ObjectStore             database
                            auto_increment
DELETE_OBJECT_STORE         database, store                  None                    database
OBJECT_STORE                database, store                  ObjectStore             tx
COMMIT, ABORT               database                         None                    tx
INDEX_NAMES                 store                            list[str]               store
INDEX                       store, index                     Index                   store
CREATE_INDEX                store, index, key_path,          Index                   store
                            unique, multi_entry
DELETE_INDEX                store, index                     None                    store
GET, GET_KEY, DELETE        store, index, query              Request                 store/index
COUNT                       store, index, query              Request[int]            store/index
GET_ALL, GET_ALL_KEYS,      store, index, query, count,      Request[list]           store/index
GET_ALL_RECORDS             direction
OPEN_CURSOR,                store, index, query, direction   CursorRequest           store/index
OPEN_KEY_CURSOR
ADD, PUT                    store, value, key                Request[key]            store
ADD_MANY, PUT_MANY          store, values, keys              Request[list]           store
GET_MANY, DELETE_MANY       store, keys                      Request                 store
CLEAR                       store                            Request[None]           store
CURSOR_MOVE                 store, index, count, key,        Request[Cursor|None]    cursor
                            primary_key
CURSOR_UPDATE               store, index, value              Request[key]            cursor
CURSOR_DELETE               store, index                     Request[None]           cursor
==========================  ===============================  ======================  =========

``database``, ``store`` and ``index`` name where the operation happens; rewriting ``database`` on
OPEN/DELETE_DATABASE, ``store_names`` on TRANSACTION, ``store`` on OBJECT_STORE /
CREATE_OBJECT_STORE / DELETE_OBJECT_STORE, or ``index`` on INDEX / CREATE_INDEX / DELETE_INDEX
changes what the backend opens (below those, the handle is already chosen). ``transaction`` is the
backend's own transaction (None above it): requests placed on it bypass every handler and land in
the same transaction, which is how a handler writes something alongside each write (an outbox).
``mode`` is that transaction's mode. :attr:`Operation.is_write` is true for the kinds that change
records.

The arguments are passed on as the program gave them (not yet checked): the backend checks them in
the order the IndexedDB specification gives, so a wrapped factory raises exactly the errors the
bare one raises.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

__all__ = ["WRITE_KINDS", "Handler", "Kind", "Operation"]


class Kind(enum.Enum):
    """Which call of the public API an :class:`Operation` is."""

    OPEN = "open"
    DELETE_DATABASE = "delete_database"
    DATABASES = "databases"
    TRANSACTION = "transaction"
    CLOSE = "close"
    OBJECT_STORE_NAMES = "object_store_names"
    CREATE_OBJECT_STORE = "create_object_store"
    DELETE_OBJECT_STORE = "delete_object_store"
    OBJECT_STORE = "object_store"
    COMMIT = "commit"
    ABORT = "abort"
    INDEX_NAMES = "index_names"
    INDEX = "index"
    CREATE_INDEX = "create_index"
    DELETE_INDEX = "delete_index"
    GET = "get"
    GET_KEY = "get_key"
    GET_ALL = "get_all"
    GET_ALL_KEYS = "get_all_keys"
    GET_ALL_RECORDS = "get_all_records"
    GET_MANY = "get_many"
    COUNT = "count"
    OPEN_CURSOR = "open_cursor"
    OPEN_KEY_CURSOR = "open_key_cursor"
    ADD = "add"
    PUT = "put"
    ADD_MANY = "add_many"
    PUT_MANY = "put_many"
    DELETE = "delete"
    DELETE_MANY = "delete_many"
    CLEAR = "clear"
    CURSOR_MOVE = "cursor_move"
    CURSOR_UPDATE = "cursor_update"
    CURSOR_DELETE = "cursor_delete"


WRITE_KINDS = frozenset({
    Kind.ADD, Kind.PUT, Kind.ADD_MANY, Kind.PUT_MANY, Kind.DELETE, Kind.DELETE_MANY, Kind.CLEAR,
    Kind.CURSOR_UPDATE, Kind.CURSOR_DELETE,
})
"""The kinds that change records (schema changes are CREATE_*/DELETE_* kinds, not in here)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Operation:
    """One call of the public API: ``Operation(Kind.PUT, store="notes", value={...})``.

    Frozen: a handler that rewrites makes a new one with ``dataclasses.replace(op, ...)``.
    ``target`` is the backend object the call is made on (factory, database, transaction,
    store, index or cursor); handlers normally leave it alone.
    """

    kind: Kind
    target: Any = None
    database: str | None = None
    store: str | None = None
    index: str | None = None
    transaction: Any = None
    mode: str | None = None
    # arguments, as the program passed them
    version: Any = None
    store_names: Any = None
    durability: Any = None
    key_path: Any = None
    auto_increment: Any = None
    unique: Any = None
    multi_entry: Any = None
    query: Any = None
    count: Any = None
    direction: Any = None
    value: Any = None
    key: Any = None
    primary_key: Any = None
    values: Any = None
    keys: Any = None
    upgrade: Any = None
    blocked: Any = None
    blocking: Any = None

    @property
    def is_write(self) -> bool:
        """True for the kinds that change records (see :data:`WRITE_KINDS`)."""
        return self.kind in WRITE_KINDS


Handler = Callable[[Operation, Callable[[Operation], Any]], Any]
"""``handler(op, proceed)``: return ``proceed(op)`` (or a rewritten op's), or raise to veto."""
