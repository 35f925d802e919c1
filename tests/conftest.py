"""pytest glue: runs ``async def`` tests with asyncio and feeds conformance tests a factory.

The conformance suite (tests/conformance) takes a ``factory`` argument; here it is run on the
engine over memory, SQLite and PostgreSQL (a throwaway cluster, see pg_cluster.py; each test in
a schema of its own). The Pyodide and Chromium runners feed the same functions
their own factories.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import PgCluster, PgUnavailable

import pyidb

ENGINE_URLS = ["memory:", "sqlite", "postgresql"]
_schemas = itertools.count()


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


@pytest.fixture(params=ENGINE_URLS)
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> pyidb.Factory:
    fn = getattr(request.node, "function", None)
    if getattr(fn, "browser_only", None):
        pytest.skip(f"browser only: {fn.browser_only}")
    url = request.param
    if url == "sqlite":
        url = f"sqlite:///{tmp_path / 'conformance.db'}"
    elif url == "postgresql":
        url = request.getfixturevalue("pg_url")
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
