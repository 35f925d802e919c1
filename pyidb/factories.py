"""Choosing a backend: ``pyidb.factory(url)`` and the default factory.

URLs (one API over interchangeable backends, as httpx has transports):

* ``"memory:"`` — a fresh in-memory engine (each call a new, empty one);
* ``"sqlite:///relative/file.db"`` or ``"sqlite:////absolute/file.db"`` — the durable engine on
  a SQLite file (SQLAlchemy's convention); the same file gives the same factory in a process;
* ``"postgresql://user:pass@host:port/dbname"`` — the durable engine on
  PostgreSQL (needs ``pip install 'pyidb[postgresql]'``); ``?schema=NAME`` picks the schema that
  holds pyidb's tables (default ``pyidb``); other query parameters go to libpq;
* ``"pyidb+unix:///path/to.sock"`` — a plugin's scope on a pyidb host, over its socket (the
  token from ``PYIDB_TOKEN``; see :mod:`pyidb.remote`);
* ``"browser"`` — the browser's real IndexedDB (Pyodide in a page).

The default factory, used by :func:`pyidb.open` and friends, is the browser's IndexedDB when it is
reachable, else the host socket in ``PYIDB_SOCKET`` (with ``PYIDB_TOKEN``), else the URL in the
environment variable ``PYIDB_URL``, else ``"memory:"``.
"""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from typing import Any

from .api import Factory
from .errors import InvalidArgumentError

__all__ = ["FallbackWarning", "check_url", "default_factory", "factory", "set_default_factory"]


class FallbackWarning(UserWarning):
    """Pyodide without a reachable IndexedDB: pyidb stores data with its in-memory engine.

    Silence it with ``warnings.simplefilter("ignore", pyidb.FallbackWarning)``.
    """


_sqlite_factories: weakref.WeakValueDictionary[str, Factory] = weakref.WeakValueDictionary()
_default: Factory | None = None
_URL_FORMS = (
    "use 'memory:', 'sqlite:///path/to/file.db', 'postgresql://user@host/dbname', "
    "'pyidb+unix:///path/to.sock' or 'browser'"
)
_postgresql_factories: weakref.WeakValueDictionary[tuple[str, str], Factory] = weakref.WeakValueDictionary()


def check_url(url: Any) -> str:
    """The backend ``url`` names ("memory", "sqlite", "postgresql", "browser"), after checking
    its form; opens nothing: ``check_url("sqlite:///x.db") == "sqlite"``."""
    if not isinstance(url, str):
        raise InvalidArgumentError(
            f"a factory URL must be a str, not {type(url).__name__}: {_URL_FORMS}"
        )
    if url == "memory:" or url == "memory://":
        return "memory"
    if url.startswith("sqlite:///"):
        _sqlite_path(url)
        return "sqlite"
    if url.startswith("postgresql://"):
        _postgresql_parts(url)
        return "postgresql"
    if url == "browser":
        return "browser"
    if url.startswith("pyidb+unix://"):
        if not url[len("pyidb+unix://"):].startswith("/"):
            raise InvalidArgumentError("a pyidb+unix URL needs an absolute socket path: 'pyidb+unix:///run/x.sock'")
        return "pyidb+unix"
    raise InvalidArgumentError(f"unknown factory URL {url!r}: {_URL_FORMS}")


def factory(url: str) -> Factory:
    """The factory for ``url``.

    >>> f = pyidb.factory("sqlite:///notes.db")
    >>> db = await f.open("notes", 1, upgrade=...)
    """
    kind = check_url(url)
    if kind == "memory":
        from .engine.factory import EngineFactory
        from .engine.storage.memory import MemoryStorage

        return EngineFactory(MemoryStorage(), "memory:")
    if kind == "sqlite":
        path = _sqlite_path(url)
        found = _sqlite_factories.get(path)
        if found is not None and not getattr(found.storage, "closed", False):  # type: ignore[attr-defined]
            return found
        from .engine.factory import EngineFactory
        from .engine.storage.sqlite import SQLiteStorage

        made = EngineFactory(SQLiteStorage(path), f"sqlite:///{path}")
        _sqlite_factories[path] = made
        return made
    if kind == "postgresql":
        return _postgresql(url)
    if kind == "pyidb+unix":
        from .remote import RemoteFactory

        return RemoteFactory(url[len("pyidb+unix://"):])
    from .browser import BrowserFactory

    return BrowserFactory()


def _sqlite_path(url: str) -> str:
    path = url[len("sqlite:///"):]
    if not path:
        raise InvalidArgumentError("a sqlite URL needs a file: 'sqlite:///path/to/file.db'")
    if path == ":memory:":
        raise InvalidArgumentError("for a database in memory use 'memory:', not 'sqlite:///:memory:'")
    return os.path.abspath(path)


def _postgresql_parts(url: str) -> tuple[str, str, str]:
    """``(conninfo for libpq, schema, URL without credentials)`` of a postgresql:// URL."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from .engine.storage.postgresql import check_schema_name

    parts = urlsplit(url)
    if not parts.hostname and not parts.path.strip("/") and not parts.query:
        raise InvalidArgumentError(
            "a PostgreSQL URL needs a server or database: 'postgresql://user:password@host:5432/dbname'"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    if len(schemas) > 1:
        raise InvalidArgumentError("a PostgreSQL URL takes at most one schema= parameter")
    schema = check_schema_name(schemas[0] if schemas else "pyidb")
    conninfo = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "schema"])))
    safe_url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    return conninfo, schema, safe_url


def _postgresql(url: str) -> Factory:
    """The engine on PostgreSQL; one factory per (server, schema) in a process, as for SQLite."""
    conninfo, schema, safe_url = _postgresql_parts(url)
    found = _postgresql_factories.get((conninfo, schema))
    if found is not None and not getattr(found.storage, "closed", False):  # type: ignore[attr-defined]
        return found
    from .engine.factory import EngineFactory
    from .engine.storage.postgresql import PostgreSQLStorage

    made = EngineFactory(PostgreSQLStorage(conninfo, schema=schema), safe_url)
    _postgresql_factories[conninfo, schema] = made
    return made


def _browser_available() -> bool:
    if sys.platform != "emscripten":
        return False
    try:
        from .browser import is_available
    except ImportError:
        return False
    return is_available()


def default_factory() -> Factory:
    """The factory :func:`pyidb.open` uses (see the module docstring for how it is chosen)."""
    global _default
    if _default is None:
        if _browser_available():
            _default = factory("browser")
        else:
            url = os.environ.get("PYIDB_URL")
            if os.environ.get("PYIDB_SOCKET") and os.environ.get("PYIDB_TOKEN"):
                _default = factory("pyidb+unix://" + os.path.abspath(os.environ["PYIDB_SOCKET"]))
            elif url:
                _default = factory(url)
            else:
                if sys.platform == "emscripten":
                    warnings.warn(
                        "IndexedDB is not reachable here: pyidb keeps data in memory with its "
                        "pure-Python engine (set PYIDB_URL or call pyidb.set_default_factory to "
                        "choose another)",
                        FallbackWarning,
                        stacklevel=3,
                    )
                _default = factory("memory:")
    return _default


def set_default_factory(f: Factory | str | None) -> None:
    """Use ``f`` (a Factory or URL) for module-level calls; None goes back to the automatic choice."""
    global _default
    if f is not None and not isinstance(f, (str, Factory)):
        raise InvalidArgumentError(
            f"set_default_factory() takes a Factory, a URL or None, not {type(f).__name__}: "
            f"{_URL_FORMS}"
        )
    _default = factory(f) if isinstance(f, str) else f
