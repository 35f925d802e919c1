"""The PostgreSQL storage's schema: names, the advisory lock id, creating and checking the tables.

A pyidb schema holds two tables: ``meta(name, value)`` (which application and format wrote it)
and ``kv(tree, key bytea, value bytea)`` with primary key ``(tree, key)``. A schema that exists
but is not pyidb's, or was written by a newer format, is refused untouched.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ...errors import InvalidArgumentError, UnknownError

try:  # an optional dependency: pip install 'pyidb[postgresql]'
    from psycopg import sql
except ImportError:  # pragma: no cover - exercised only without the extra
    sql = None  # type: ignore[assignment]

__all__ = ["FORMAT_VERSION", "check_schema_name", "initialize", "lock_key", "redact"]

#: Bumped whenever the table layout changes; newer schemas are refused, never misread.
FORMAT_VERSION = 1
_APPLICATION = "pyidb"

# A plain lower-case identifier: never needs quoting, never truncated (PostgreSQL keeps 63
# bytes of an identifier and silently drops the rest).
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = ("public", "information_schema")

# Serializes first-time schema creation between processes (CREATE SCHEMA IF NOT EXISTS races).
_INIT_LOCK = 0x70796964  # "pyid"


def check_schema_name(name: Any) -> str:
    """``name`` if it can be a pyidb schema, else InvalidArgumentError saying why.

    >>> check_schema_name("pyidb")
    'pyidb'
    """
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"a PostgreSQL schema name for pyidb must be 1-63 characters of a-z, 0-9 and _, not "
            f"starting with a digit; got {name!r}"
        )
    if name in _RESERVED or name.startswith("pg_"):
        raise InvalidArgumentError(
            f"the schema name {name!r} is reserved by PostgreSQL (public, information_schema, "
            "pg_*); pyidb keeps its tables in a schema of their own"
        )
    return name


def lock_key(schema: str) -> int:
    """The advisory lock id of a schema's writers (a signed 64-bit int; a hash collision only
    makes two schemas' writers wait for each other, never mixes data)."""
    digest = hashlib.blake2b(f"pyidb-writer:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def initialize(conn: Any, schema_name: str, where: str) -> None:
    """Create the schema and its tables if missing; refuse a schema that is not pyidb's.
    Raises psycopg's errors (the storage maps them)."""
    schema = sql.Identifier(schema_name)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname=%s", (schema_name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            conn.execute(sql.SQL(
                "CREATE TABLE {}.meta (name text PRIMARY KEY, value text NOT NULL)"
            ).format(schema))
            conn.execute(sql.SQL(
                "CREATE TABLE {}.kv (tree integer NOT NULL, key bytea NOT NULL, "
                "value bytea NOT NULL, PRIMARY KEY (tree, key))"
            ).format(schema))
            conn.execute(
                sql.SQL("INSERT INTO {}.meta (name, value) VALUES (%s, %s), (%s, %s)").format(schema),
                ("application", _APPLICATION, "format_version", str(FORMAT_VERSION)),
            )
        _check_format(conn, schema_name, where)


def _check_format(conn: Any, schema_name: str, where: str) -> None:
    tables = {
        r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname=%s", (schema_name,)
        ).fetchall()
    }
    meta: dict[str, str] = {}
    if {"meta", "kv"} <= tables:
        meta = dict(conn.execute(
            sql.SQL("SELECT name, value FROM {}.meta").format(sql.Identifier(schema_name))
        ).fetchall())
    if meta.get("application") != _APPLICATION:
        raise UnknownError(
            f"the {where} exists but is not pyidb's (it has the tables {sorted(tables)}); "
            "pyidb left it untouched. Use another schema for pyidb's data."
        )
    version = int(meta["format_version"]) if meta.get("format_version", "").isdigit() else -1
    if version > FORMAT_VERSION:
        raise UnknownError(
            f"the {where} was written by a newer pyidb (storage format {version}; this "
            f"pyidb reads format {FORMAT_VERSION}); upgrade pyidb to open it"
        )
    if version < 1:
        raise UnknownError(f"the {where} has an unreadable pyidb format version")


def redact(conninfo: str) -> str:
    """A connection string fit for an error message (no password)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"password=\S+", "password=***", conninfo))
