"""pytest glue: runs ``async def`` tests with asyncio and feeds conformance tests a factory.

The conformance suite (tests/conformance) takes a ``factory`` argument; here it is run on the
engine over memory and over SQLite. The Pyodide and Chromium runners feed the same functions
their own factories.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import pyidb
from pyidb.engine.factory import EngineFactory
from pyidb.engine.storage.memory import MemoryStorage
from pyidb.engine.storage.sqlite import SQLiteStorage

# Property tests must not depend on machine speed (CI shares 2 cores with other jobs): no
# per-example deadline, no "input generation is slow" health check, a fixed example count, and no
# example database carried between runs. Tests that set their own @settings inherit the rest.
# PYIDB_HYPOTHESIS_EXAMPLES raises the count for a longer local run.
settings.register_profile(
    "pyidb",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=int(os.environ.get("PYIDB_HYPOTHESIS_EXAMPLES", "100")),
    database=None,
)
settings.load_profile("pyidb")

ENGINE_URLS = ["memory:", "sqlite"]
# The conformance suite also runs on "wrapped": the memory engine with every operation through a
# handler that changes nothing (pyidb.wrap), proving the wrapper keeps every answer and error.
# And on "threaded" / "threaded-sqlite": memory and SQLite declared as doing network I/O
# (blocking_io), so every request and commit runs on the engine's worker thread
# (pyidb/engine/offload.py); the SQLite one is shared with read views, as a database server is.
CONFORMANCE_URLS = [*ENGINE_URLS, "wrapped", "threaded", "threaded-sqlite"]


class ThreadedMemoryStorage(MemoryStorage):
    """The memory storage, declared blocking: the engine runs its calls on a worker thread."""

    blocking_io = True


class ThreadedSQLiteStorage(SQLiteStorage):
    """SQLite declared blocking, shaped like a network database: shared, with read views."""

    blocking_io = True


def _pass_through(op: pyidb.Operation, proceed):  # type: ignore[no-untyped-def]
    return proceed(op)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "factory" in metafunc.fixturenames:
        # white-box tests outside the suite reach into the engine's factory: no wrapper there
        parts = metafunc.definition.path.parts
        suite = "conformance" in parts or "model_conformance" in parts
        urls = CONFORMANCE_URLS if suite else ENGINE_URLS
        metafunc.parametrize("factory", urls, indirect=True)


@pytest.fixture
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> pyidb.Factory:
    fn = getattr(request.node, "function", None)
    if getattr(fn, "browser_only", None):
        pytest.skip(f"browser only: {fn.browser_only}")
    url = request.param
    if url == "threaded":
        f: pyidb.Factory = EngineFactory(ThreadedMemoryStorage(), "memory:")
    elif url == "threaded-sqlite":
        path = tmp_path / "threaded.db"
        f = EngineFactory(ThreadedSQLiteStorage(str(path)), f"sqlite:///{path}")
    elif url == "wrapped":  # every operation through a handler that changes nothing (pyidb.wrap)
        f = pyidb.wrap(pyidb.factory("memory:"), _pass_through)
    else:
        if url == "sqlite":
            url = f"sqlite:///{tmp_path / 'conformance.db'}"
        f = pyidb.factory(url)
    yield f
    close = getattr(f, "close", None)
    if close is not None:
        close()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run coroutine test functions on a fresh event loop (no pytest-asyncio needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), timeout=60))
    return True


# -- sync (pyidb.sync) ------------------------------------------------------------------------
_sync_databases = iter(range(1, 1_000_000))


@pytest.fixture(scope="session")
def sync_pg_cluster():
    """A throwaway PostgreSQL cluster for the sync server tests (tests/pg_cluster.py). Skips where
    PostgreSQL is not installed, except under CI=true, where its absence fails the run."""
    import os

    from tests.pg_cluster import PgCluster, PgUnavailable

    try:
        cluster = PgCluster.start()
    except PgUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL, but: {exc}")
        pytest.skip(str(exc))
    with cluster:
        yield cluster


@pytest.fixture
def sync_pg_database(sync_pg_cluster) -> str:
    """A fresh database on the sync test cluster: its URL."""
    import psycopg

    name = f"sync_{next(_sync_databases)}"
    with psycopg.connect(sync_pg_cluster.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return sync_pg_cluster.url.rsplit("/", 1)[0] + "/" + name
