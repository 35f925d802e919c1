"""Choosing a backend: ``pyidb.factory(url)`` and the default factory.

URLs (one API over interchangeable backends, as httpx has transports):

* ``"memory:"`` — a fresh in-memory engine (each call a new, empty one);
* ``"sqlite:///relative/file.db"`` or ``"sqlite:////absolute/file.db"`` — the durable engine on
  a SQLite file (SQLAlchemy's convention); the same file gives the same factory in a process.
  Options after ``?``: ``timeout=SECONDS`` (default 5) how long a writer waits for another
  process's write lock before :class:`~pyidb.errors.LockTimeoutError`; ``mode=ro`` opens the file
  read-only (also chosen when the file or its directory is not writable); ``check=1`` runs the
  full integrity check (``python -m pyidb check FILE``) and refuses a damaged file;
* ``"postgresql://user:pass@host:port/dbname"`` — the durable engine on PostgreSQL (needs
  ``pip install 'pyidb[postgresql]'``); ``?schema=NAME`` picks the schema that holds pyidb's
  tables (default ``pyidb``); other query parameters go to libpq;
* ``"pyidb+unix:///path/to.sock"`` — a plugin's scope on a pyidb host, over its socket (the
  token from ``PYIDB_TOKEN``; see :mod:`pyidb.remote`);
* ``"browser"`` — the browser's real IndexedDB (Pyodide in a page).

The default factory, used by :func:`pyidb.open` and friends, is the browser's IndexedDB when it is
reachable, else the host socket in ``PYIDB_SOCKET`` (with ``PYIDB_TOKEN``), else the URL in the
environment variable ``PYIDB_URL``, else ``"memory:"``.

Each URL scheme (the text before the first ``:``, or the whole URL when it has none) is built by
the function a backend registered for it with :func:`register_scheme`; a new backend registers
itself instead of editing this module::

    pyidb.register_scheme("postgresql", make_postgresql_factory, form="'postgresql://host/db'")
"""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from collections.abc import Callable

from .api import Factory
from .errors import InvalidArgumentError

__all__ = [
    "FallbackWarning", "bad_url", "check_url", "default_factory", "factory", "register_scheme",
    "set_default_factory",
]


class FallbackWarning(UserWarning):
    """Pyodide without a reachable IndexedDB: pyidb stores data with its in-memory engine.

    Silence it with ``warnings.simplefilter("ignore", pyidb.FallbackWarning)``.
    """



_Builder = Callable[[str], Factory]
_schemes: dict[str, tuple[_Builder, str]] = {}
_checks: dict[str, Callable[[str], object]] = {}
_postgresql_factories: weakref.WeakValueDictionary[tuple[str, str], Factory] = weakref.WeakValueDictionary()
_sqlite_factories: weakref.WeakValueDictionary[str, Factory] = weakref.WeakValueDictionary()
_default: Factory | None = None


def register_scheme(scheme: str, builder: _Builder, *, form: str,
                    check: Callable[[str], object] | None = None) -> None:
    """Build the factories of URLs ``scheme:...`` with ``builder(url)``; ``form`` shows a valid
    URL in error messages; ``check(url)``, if given, validates a URL without opening anything
    (for :func:`check_url`). Registering a scheme again replaces its builder.

    >>> pyidb.register_scheme("demo", lambda url: pyidb.factory("memory:"), form="'demo:'")
    """
    if not isinstance(scheme, str) or not scheme or ":" in scheme or not callable(builder):
        raise InvalidArgumentError(
            f"register_scheme() takes a scheme name without ':' and a builder(url), not {scheme!r}"
        )
    _schemes[scheme] = (builder, form)
    _checks.pop(scheme, None)
    if check is not None:
        _checks[scheme] = check


def _url_forms() -> str:
    forms = [form for _, form in _schemes.values()]
    return "use " + (", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else forms[0])


def bad_url(url: object, why: str = "") -> InvalidArgumentError:
    """The error for a URL no scheme accepts (for builders): it lists every valid form."""
    return InvalidArgumentError(f"{why or f'unknown factory URL {url!r}'}: {_url_forms()}")


def factory(url: str) -> Factory:
    """The factory for ``url``.

    >>> f = pyidb.factory("sqlite:///notes.db")
    >>> db = await f.open("notes", 1, upgrade=...)
    """
    if not isinstance(url, str):
        raise bad_url(url, f"a factory URL must be a str, not {type(url).__name__}")
    scheme = url.partition(":")[0]
    found = _schemes.get(scheme)
    if found is None:
        raise bad_url(url)
    return found[0](url)


def check_url(url: object) -> str:
    """The scheme of ``url`` after checking its form, opening nothing (a host config checks
    every URL before it opens any): ``check_url("sqlite:///x.db") == "sqlite"``."""
    if not isinstance(url, str):
        raise bad_url(url, f"a factory URL must be a str, not {type(url).__name__}")
    scheme = url.partition(":")[0]
    if scheme not in _schemes:
        raise bad_url(url)
    check = _checks.get(scheme)
    if check is not None:
        check(url)
    return scheme


# -- the built-in schemes ----------------------------------------------------------------------
def _memory_url(url: str) -> None:
    if url not in ("memory:", "memory://"):
        raise bad_url(url)


def _memory(url: str) -> Factory:
    _memory_url(url)
    from .engine.factory import EngineFactory
    from .engine.storage.memory import MemoryStorage

    return EngineFactory(MemoryStorage(), "memory:")


def _sqlite_path(url: str) -> tuple[str, dict, bool]:
    """``(absolute path, storage options, check)`` of a sqlite:/// URL."""
    if not url.startswith("sqlite:///"):
        raise bad_url(url)
    path, _, query = url[len("sqlite:///"):].partition("?")
    options = _sqlite_options(query, url)
    check = options.pop("check", False)
    if not path:
        raise InvalidArgumentError("a sqlite URL needs a file: 'sqlite:///path/to/file.db'")
    if path == ":memory:":
        raise InvalidArgumentError("for a database in memory use 'memory:', not 'sqlite:///:memory:'")
    return os.path.abspath(path), options, check


def _sqlite(url: str) -> Factory:
    path, options, check = _sqlite_path(url)
    found = _sqlite_factories.get(path)
    if found is not None and not found.storage.closed:  # type: ignore[attr-defined]
        if found._options != options:  # type: ignore[attr-defined]
            raise InvalidArgumentError(
                f"{path} is already open in this process with other options "
                f"({found._options}); close that factory first"  # type: ignore[attr-defined]
            )
        if check:
            found.raise_if_damaged()  # type: ignore[attr-defined]
        return found
    from .engine.factory import EngineFactory
    from .engine.storage.sqlite import SQLiteStorage

    made = EngineFactory(SQLiteStorage(path, **options), f"sqlite:///{path}", check=check)
    made._options = options  # type: ignore[attr-defined]
    _sqlite_factories[path] = made
    return made


def _browser_url(url: str) -> None:
    if url != "browser":
        raise bad_url(url)


def _browser(url: str) -> Factory:
    _browser_url(url)
    from .browser import BrowserFactory

    return BrowserFactory()


def _postgresql_parts(url: str) -> tuple[str, str, str]:
    """``(conninfo for libpq, schema, URL without credentials)`` of a postgresql:// URL."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from .engine.storage.postgresql import check_schema_name

    if not url.startswith("postgresql://"):
        raise bad_url(url)
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
    if found is not None and not found.storage.closed:  # type: ignore[attr-defined]
        return found
    from .engine.factory import EngineFactory
    from .engine.storage.postgresql import PostgreSQLStorage

    made = EngineFactory(PostgreSQLStorage(conninfo, schema=schema), safe_url)
    _postgresql_factories[conninfo, schema] = made
    return made


def _socket_path(url: str) -> str:
    path = url[len("pyidb+unix://"):]
    if not url.startswith("pyidb+unix://") or not path.startswith("/"):
        raise InvalidArgumentError("a pyidb+unix URL needs an absolute socket path: 'pyidb+unix:///run/x.sock'")
    return path


def _socket(url: str) -> Factory:
    from .remote import RemoteFactory

    return RemoteFactory(_socket_path(url))


register_scheme("memory", _memory, form="'memory:'", check=_memory_url)
register_scheme("sqlite", _sqlite, form="'sqlite:///path/to/file.db'", check=_sqlite_path)
register_scheme("postgresql", _postgresql, form="'postgresql://user@host/dbname'", check=_postgresql_parts)
register_scheme("pyidb+unix", _socket, form="'pyidb+unix:///path/to.sock'", check=_socket_path)
register_scheme("browser", _browser, form="'browser'", check=_browser_url)


def _sqlite_options(query: str, url: str) -> dict:
    """``timeout=5&mode=ro&check=1`` as keyword arguments; anything else is refused."""
    out: dict = {}
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        if name == "timeout":
            try:
                out["timeout"] = float(value)
            except ValueError:
                out["timeout"] = value  # the storage refuses it, saying what it needs
        elif name == "mode" and value in ("ro", "rw"):
            out["readonly"] = value == "ro"
        elif name == "check" and value in ("0", "1"):
            out["check"] = value == "1"
        else:
            raise InvalidArgumentError(
                f"unknown option {part!r} in {url!r}: a sqlite URL takes timeout=SECONDS, "
                "mode=ro|rw and check=0|1"
            )
    return out


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
        raise bad_url(f, f"set_default_factory() takes a Factory, a URL or None, not "
                         f"{type(f).__name__}")
    _default = factory(f) if isinstance(f, str) else f
