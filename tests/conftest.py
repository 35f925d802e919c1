"""pytest glue: runs ``async def`` tests with asyncio and feeds conformance tests a factory.

The conformance suite (tests/conformance) takes a ``factory`` argument; here it is run on the
engine over memory, SQLite and PostgreSQL (a throwaway cluster, see pg_cluster.py; each test in
a schema of its own), and through the host socket (a real ``python -m pyidb.host serve``). The
Pyodide and Chromium runners feed the same functions their own factories.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pg_cluster import PgCluster, PgUnavailable

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

ENGINE_URLS = ["memory:", "sqlite", "postgresql"]
# The conformance suite also runs on "wrapped": the memory engine with every operation through a
# handler that changes nothing (pyidb.wrap), proving the wrapper keeps every answer and error.
# And on "threaded" / "threaded-sqlite": memory and SQLite declared as doing network I/O
# (blocking_io), so every request and commit runs on the engine's worker thread
# (pyidb/engine/offload.py); the SQLite one is shared with read views, as a database server is.
# And on "socket": through a real host process (pyidb.host serve) with pyidb.remote's client.
CONFORMANCE_URLS = [*ENGINE_URLS, "wrapped", "threaded", "threaded-sqlite", "socket"]
_schemas = itertools.count()


@pytest.fixture(scope="session")
def host_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real host process (``python -m pyidb.host serve``) on the memory engine, with one
    plugin scope for the conformance suite: yields (socket path, token)."""
    import secrets
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("host")
    token = secrets.token_hex(16)
    config = root / "host.toml"
    config.write_text(
        '[providers.indexeddb.main]\nurl = "memory:"\n'
        f'[plugins.conformance.indexeddb]\ntoken = "{token}"\n'
    )
    path = str(root / "idb.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyidb.host", "serve", "--config", str(config), "--socket", path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("serving on"), (line, proc.stderr.read() if proc.stderr else "")
    yield path, token
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgCluster]:
    """A PostgreSQL cluster for the whole run. Skips where PostgreSQL is not installed, except
    under CI=true, where build.sh installs it: there its absence fails the run."""
    try:
        cluster = PgCluster.start()
    except PgUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL, but: {exc}")
        pytest.skip(str(exc))
    with cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_server: PgCluster) -> Iterator[str]:
    """A ``postgresql://`` URL whose schema no other test uses; the schema is dropped after."""
    schema = f"t{os.getpid()}_{next(_schemas)}"
    yield f"{pg_server.url}?schema={schema}"
    import psycopg

    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # a name made above: no input


#: Conformance tests the host socket cannot pass, each with the reason (none today: every
#: difference is documented in pyidb.remote and none changes what a conformance test checks).
SOCKET_DIFFERS: dict[str, str] = {}


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
    elif url == "socket":
        from pyidb.remote import RemoteFactory

        if fn is not None and fn.__name__ in SOCKET_DIFFERS:
            pytest.skip(SOCKET_DIFFERS[fn.__name__])
        f = RemoteFactory(*request.getfixturevalue("host_socket"))
    elif url == "postgresql":
        if request.module.__name__.endswith("test_engine_bigdata"):
            pytest.skip("the big-data model tests take minutes over a network (one round trip per "
                        "storage call); PostgreSQL runs the conformance suite and test_postgresql.py")
        f = pyidb.factory(request.getfixturevalue("pg_url"))
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


@pytest.fixture
def sync_pg_database(pg_server: PgCluster) -> str:
    """A fresh database on the run's PostgreSQL cluster (``pg_server``): its URL."""
    import psycopg

    name = f"sync_{next(_sync_databases)}"
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # a name made above: no input
    return pg_server.url.rsplit("/", 1)[0] + "/" + name
