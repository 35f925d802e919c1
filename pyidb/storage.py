"""The storage manager (``navigator.storage``): how much is stored, how much room is left, and
whether the data may be evicted, for every backend.

>>> await pyidb.storage.estimate()
{'usage': 5242880, 'quota': 107374182400}
>>> await pyidb.storage.persist()
True

What each backend answers:

* ``"browser"``: the browser's own ``navigator.storage.estimate()``, ``persist()`` and
  ``persisted()`` (the whole origin's usage, not only IndexedDB's).
* ``"sqlite:///..."``: usage is the size of the database file and its ``-wal``/``-shm`` files;
  quota is that plus the free space of the disk holding it. Nothing evicts a file, so
  ``persisted()`` and ``persist()`` are True.
* ``"postgresql://..."`` and ``"pyidb+unix://..."`` (a database server, a host socket): usage is
  the same estimate as for memory (read through the API); a client cannot know the server's
  room, so quota is ``2**53 - 1`` (no known limit). A server keeps its data: ``persisted()`` and
  ``persist()`` are True for PostgreSQL; over a socket the host decides and says nothing, so
  False.
* ``"memory:"``: usage is an estimate of the bytes the engine holds (each record's encoded key
  and value, each index entry's keys), read through the public API; quota is that plus the
  memory the system has available. The data ends with the process, so ``persisted()`` and
  ``persist()`` are False: it cannot be made persistent.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from . import values
from .api import Factory
from .errors import InvalidStateError
from .factories import default_factory
from .key_encoding import encode_key
from .key_path import extract_index_keys, extract_key
from .paging import pages

__all__ = ["estimate", "persist", "persisted"]

_NO_KNOWN_LIMIT = 2**53 - 1  # a server's room is not the client's to know


def _kind(factory: Factory) -> str:
    url = getattr(factory, "url", "")
    if url == "browser":
        return "browser"
    if url.startswith("sqlite:///"):
        return "sqlite"
    if url.startswith("memory:"):
        return "memory"
    if url.startswith("postgresql://"):
        return "postgresql"
    if url.startswith("pyidb+unix://"):
        return "socket"
    raise InvalidStateError(f"pyidb.storage does not know the factory {factory!r}")


def _navigator_storage() -> Any:
    import js  # type: ignore[import-not-found]  # Pyodide's module for the page's globals

    storage = getattr(getattr(js, "navigator", None), "storage", None)
    if storage is None:
        raise InvalidStateError(
            "navigator.storage is not available here (browsers give it to secure contexts: "
            "https:// or http://localhost / 127.0.0.1 pages)")
    return storage


def _sqlite_files(factory: Factory) -> list[str]:
    path = factory.url[len("sqlite:///"):]
    return [path, path + "-wal", path + "-shm"]


def _available_memory() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows, Pyodide): say nothing
        return 0


async def _bytes_held(factory: Factory) -> int:
    """Encoded keys and values of every record and index entry, read page by page."""
    total = 0
    for info in await factory.databases():
        db = await factory.open(info["name"])
        try:
            for name in db.object_store_names:
                store = db.transaction(name).object_store(name)  # one snapshot per store
                indexes = [store.index(i) for i in store.index_names]
                async for keys, found in pages(store):
                    if keys is None:
                        keys = [extract_key(v, store.key_path) for v in found]  # type: ignore[arg-type]
                    for key, value in zip(keys, found, strict=True):
                        encoded = len(encode_key(key))
                        total += encoded + len(values.encode(*values.clone(value)))
                        for index in indexes:
                            for index_key in extract_index_keys(value, index.key_path,
                                                                index.multi_entry):
                                total += len(encode_key(index_key)) + encoded
        finally:
            db.close()
    return total


async def estimate(*, factory: Factory | None = None) -> dict[str, int]:
    """``{"usage": bytes used, "quota": bytes it may grow to}`` for ``factory`` (default: the
    default factory), like ``navigator.storage.estimate()``."""
    factory = factory or default_factory()
    kind = _kind(factory)
    if kind == "browser":
        result = await _navigator_storage().estimate()
        return {"usage": int(result.usage), "quota": int(result.quota)}
    if kind == "sqlite":
        files = _sqlite_files(factory)
        usage = sum(os.path.getsize(p) for p in files if os.path.exists(p))
        free = shutil.disk_usage(os.path.dirname(files[0]) or ".").free
        return {"usage": usage, "quota": usage + free}
    usage = await _bytes_held(factory)
    if kind in ("postgresql", "socket"):
        return {"usage": usage, "quota": max(usage, _NO_KNOWN_LIMIT)}
    return {"usage": usage, "quota": usage + _available_memory()}


async def persisted(*, factory: Factory | None = None) -> bool:
    """True if the data is safe from eviction (``navigator.storage.persisted()``)."""
    factory = factory or default_factory()
    kind = _kind(factory)
    if kind == "browser":
        return bool(await _navigator_storage().persisted())
    return kind in ("sqlite", "postgresql")


async def persist(*, factory: Factory | None = None) -> bool:
    """Ask for the data to be kept under storage pressure; True if it now is.

    In a browser this is ``navigator.storage.persist()`` (the browser decides, and may ask the
    user); a SQLite file already is; memory never can be. A Web Worker (a JupyterLite kernel, a
    PyScript worker) cannot ask: ``persist()`` is a window's only, so there it answers whether
    the data already is persistent.
    """
    factory = factory or default_factory()
    if _kind(factory) == "browser":
        storage = _navigator_storage()
        if not hasattr(storage, "persist"):  # a worker's StorageManager has no persist()
            return bool(await storage.persisted())
        return bool(await storage.persist())
    return await persisted(factory=factory)

