"""CPython-only: ``pyidb.factory(url)`` URL handling and the process-wide default factory.

The conformance suite cannot cover these (it also runs in a browser, where the default is the
page's IndexedDB and there is no file system): relative vs absolute SQLite paths, one factory
object per file, bad URLs, ``PYIDB_URL`` (checked in a fresh subprocess so the default is not
already chosen) and ``set_default_factory``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyidb

REPO = Path(__file__).resolve().parents[1]


def _upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    if old < 1:
        db.create_object_store("s")


@pytest.fixture
def restore_default(monkeypatch: pytest.MonkeyPatch):
    """Tests that change the process-wide default put the automatic choice back afterwards."""
    monkeypatch.delenv("PYIDB_URL", raising=False)
    pyidb.set_default_factory(None)
    yield
    pyidb.set_default_factory(None)


def _run_python(code: str, cwd: Path, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter (so the default factory is chosen anew); its last
    stdout line is JSON."""
    full_env = {k: v for k, v in os.environ.items() if k != "PYIDB_URL"}
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")])
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _close(f: pyidb.Factory) -> None:
    close = getattr(f, "close", None)
    if close is not None:
        close()


# -- pyidb.factory(url) -------------------------------------------------------------------------
async def test_memory_url_gives_a_fresh_engine_each_call():
    one, two, three = pyidb.factory("memory:"), pyidb.factory("memory:"), pyidb.factory("memory://")
    assert len({id(one), id(two), id(three)}) == 3
    assert one.url == "memory:"
    async with await one.open("d", 1, upgrade=_upgrade) as db:
        await db.put("s", "only in one", 1)
    assert await one.databases() == [{"name": "d", "version": 1}]
    assert await two.databases() == []
    assert await three.databases() == []


async def test_sqlite_relative_url_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = pyidb.factory("sqlite:///sub_rel.db")
    try:
        assert f.url == f"sqlite:///{tmp_path / 'sub_rel.db'}"  # absolute from then on
        async with await f.open("d", 1, upgrade=_upgrade) as db:
            await db.put("s", "v", 1)
        assert (tmp_path / "sub_rel.db").is_file()
        # The same file named by its absolute URL (four slashes) is the same factory object.
        assert pyidb.factory(f"sqlite:///{tmp_path / 'sub_rel.db'}") is f
        # Changing directory afterwards does not move the factory's file.
        other = tmp_path / "elsewhere"
        other.mkdir()
        monkeypatch.chdir(other)
        async with await f.open("d") as db:
            assert await db.get("s", 1) == "v"
        assert not (other / "sub_rel.db").exists()
    finally:
        _close(f)


async def test_sqlite_absolute_url_with_four_slashes(tmp_path):
    path = tmp_path / "abs.db"
    url = "sqlite:///" + str(path)  # str(path) starts with "/": four slashes in all
    assert url.startswith("sqlite:////")
    f = pyidb.factory(url)
    try:
        assert f.url == url
        async with await f.open("d", 1, upgrade=_upgrade) as db:
            await db.put("s", "abs", 1)
        assert path.is_file()
    finally:
        _close(f)


async def test_same_sqlite_path_gives_the_same_factory_until_closed(tmp_path):
    a = pyidb.factory(f"sqlite:///{tmp_path / 'a.db'}")
    b = pyidb.factory(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert pyidb.factory(f"sqlite:///{tmp_path / 'a.db'}") is a
        assert pyidb.factory(f"sqlite:///{tmp_path}/./x/../a.db") is a  # normalized path
        assert a is not b
        a.close()
        fresh = pyidb.factory(f"sqlite:///{tmp_path / 'a.db'}")
        assert fresh is not a  # a closed factory is never handed out again
        async with await fresh.open("d", 1, upgrade=_upgrade) as db:
            assert db.version == 1
        _close(fresh)
    finally:
        _close(a)
        _close(b)


def _check_bad_url(exc: pyidb.InvalidArgumentError) -> None:
    assert isinstance(exc, TypeError) and isinstance(exc, pyidb.Error)
    assert exc.name == "TypeError"
    assert "sqlite:///" in str(exc)  # says what is allowed


@pytest.mark.parametrize(
    "url", [None, 3, b"memory:", Path("x.db"), ["memory:"]], ids=["None", "int", "bytes", "Path", "list"]
)
def test_bad_url_types(url):
    with pytest.raises(pyidb.InvalidArgumentError) as caught:
        pyidb.factory(url)
    _check_bad_url(caught.value)
    assert "memory:" in str(caught.value), "the message should list every valid URL form"


@pytest.mark.parametrize(
    "url", ["", "memory", "MEMORY:", "sqlite://x.db", "sqlite:x.db", "postgres://h/db", "file:///x.db", "sqlite:///"]
)
def test_bad_url_strings(url):
    with pytest.raises(pyidb.InvalidArgumentError) as caught:
        pyidb.factory(url)
    _check_bad_url(caught.value)


def test_browser_url_on_cpython_is_a_clear_pyidb_error():
    with pytest.raises(pyidb.Error) as caught:
        pyidb.factory("browser")
    assert not isinstance(caught.value, ImportError)
    assert "memory:" in str(caught.value) and "sqlite:///" in str(caught.value)


def test_factory_usable_from_a_second_event_loop():
    """A factory outlives event loops (the default factory and the per-file sqlite factories
    are process-wide): ``asyncio.run`` twice, with concurrent opens each time, must work."""
    f = pyidb.factory("memory:")

    async def opens(version: int) -> list[int]:
        dbs = await asyncio.gather(*(f.open("x", version, upgrade=_upgrade) for _ in range(2)))
        for db in dbs:
            db.close()
        return [db.version for db in dbs]

    assert asyncio.run(opens(1)) == [1, 1]
    assert asyncio.run(opens(2)) == [2, 2]


# -- the default factory -----------------------------------------------------------------------
def test_pyidb_url_chooses_the_default_backend(tmp_path):
    out = _run_python(
        """
        import asyncio, json, warnings
        import pyidb

        def up(db, old, new, tx):
            db.create_object_store("s")

        async def main():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                f = pyidb.default_factory()
            db = await pyidb.open("envdb", 1, upgrade=up)
            await db.put("s", "from env", 1)
            db.close()
            return {"url": f.url, "same": pyidb.default_factory() is f,
                    "warnings": [str(w.category.__name__) for w in caught],
                    "dbs": await pyidb.databases()}

        print(json.dumps(asyncio.run(main())))
        """,
        tmp_path,
        PYIDB_URL="sqlite:///env.db",
    )
    assert out["url"] == f"sqlite:///{tmp_path / 'env.db'}"
    assert out["same"] is True
    assert out["warnings"] == []
    assert out["dbs"] == [{"name": "envdb", "version": 1}]
    assert (tmp_path / "env.db").is_file()


async def test_data_written_via_pyidb_url_is_in_that_file(tmp_path):
    _run_python(
        """
        import asyncio, json, pyidb
        async def main():
            db = await pyidb.open("envdb", 1, upgrade=lambda db, o, n, tx: db.create_object_store("s"))
            await db.put("s", {"hello": "file"}, "k")
            db.close()
        asyncio.run(main())
        print("{}")
        """,
        tmp_path,
        PYIDB_URL=f"sqlite:///{tmp_path / 'written.db'}",
    )
    f = pyidb.factory(f"sqlite:///{tmp_path / 'written.db'}")
    try:
        async with await f.open("envdb") as db:
            assert await db.get("s", "k") == {"hello": "file"}
    finally:
        f.close()


def test_without_pyidb_url_the_default_is_memory_without_a_fallback_warning(tmp_path):
    out = _run_python(
        """
        import json, warnings
        import pyidb
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f = pyidb.default_factory()
        print(json.dumps({"url": f.url, "warnings": [w.category.__name__ for w in caught]}))
        """,
        tmp_path,
    )
    assert out == {"url": "memory:", "warnings": []}


def test_bad_pyidb_url_raises_invalid_argument(tmp_path):
    out = _run_python(
        """
        import json, pyidb
        try:
            pyidb.default_factory()
        except pyidb.InvalidArgumentError as exc:
            print(json.dumps({"name": exc.name, "msg": str(exc)}))
        else:
            print(json.dumps({"name": None}))
        """,
        tmp_path,
        PYIDB_URL="mysql://nope",
    )
    assert out["name"] == "TypeError"
    assert "mysql://nope" in out["msg"]


async def test_set_default_factory_with_a_url(restore_default, tmp_path):
    url = f"sqlite:///{tmp_path / 'default.db'}"
    pyidb.set_default_factory(url)
    f = pyidb.default_factory()
    try:
        assert f.url == url
        db = await pyidb.open("d", 1, upgrade=_upgrade)
        await db.put("s", "x", 1)
        db.close()
        assert await pyidb.databases() == [{"name": "d", "version": 1}]
        await pyidb.delete_database("d")
        assert await pyidb.databases() == []
    finally:
        f.close()


async def test_set_default_factory_with_a_factory_and_none(restore_default):
    mine = pyidb.factory("memory:")
    pyidb.set_default_factory(mine)
    assert pyidb.default_factory() is mine
    async with await pyidb.open("d", 1, upgrade=_upgrade) as db:
        await db.put("s", "in mine", 1)
    assert await mine.databases() == [{"name": "d", "version": 1}]
    assert await pyidb.databases() == [{"name": "d", "version": 1}]
    # An explicit factory= wins over the default.
    other = pyidb.factory("memory:")
    assert await pyidb.databases(factory=other) == []
    pyidb.set_default_factory(None)  # back to the automatic choice: a new memory engine
    auto = pyidb.default_factory()
    assert auto is not mine and auto.url == "memory:"
    assert await pyidb.databases() == []
    assert pyidb.default_factory() is auto  # chosen once, then kept


@pytest.mark.parametrize("bad", [123, b"memory:", object()], ids=["int", "bytes", "object"])
def test_set_default_factory_rejects_other_types(restore_default, bad):
    with pytest.raises(pyidb.InvalidArgumentError):
        pyidb.set_default_factory(bad)
    assert isinstance(pyidb.default_factory(), pyidb.Factory)


def test_set_default_factory_with_a_bad_url_keeps_the_old_default(restore_default):
    mine = pyidb.factory("memory:")
    pyidb.set_default_factory(mine)
    with pytest.raises(pyidb.InvalidArgumentError):
        pyidb.set_default_factory("nope:")
    assert pyidb.default_factory() is mine


# -- the URL-scheme registry and closing factories ----------------------------------------------
async def test_a_backend_registers_its_scheme(restore_default):
    made: list[str] = []

    def build(url: str) -> pyidb.Factory:
        made.append(url)
        return pyidb.factory("memory:")

    pyidb.register_scheme("demo", build, form="'demo:name'")
    try:
        f = pyidb.factory("demo:one")
        assert made == ["demo:one"] and isinstance(f, pyidb.Factory)
        with pytest.raises(pyidb.InvalidArgumentError) as caught:
            pyidb.factory("nope:x")
        assert "'demo:name'" in str(caught.value) and "sqlite:///" in str(caught.value)
        pyidb.set_default_factory("demo:two")
        assert made == ["demo:one", "demo:two"]
    finally:
        del pyidb.factories._schemes["demo"]
    with pytest.raises(pyidb.InvalidArgumentError):
        pyidb.factory("demo:one")
    with pytest.raises(pyidb.InvalidArgumentError):
        pyidb.register_scheme("a:b", build, form="'a:b'")


async def test_async_with_closes_every_factory(tmp_path):
    async with pyidb.factory(f"sqlite:///{tmp_path / 'closing.db'}") as f:
        async with await f.open("d", 1, upgrade=_upgrade) as db:
            await db.put("s", "v", 1)
    with pytest.raises(pyidb.InvalidStateError):
        await f.databases()
    async with pyidb.wrap(pyidb.factory(f"sqlite:///{tmp_path / 'closing.db'}"),
                          lambda op, proceed: proceed(op)) as wrapped:
        assert await wrapped.databases() == [{"name": "d", "version": 1}]
    with pytest.raises(pyidb.InvalidStateError):
        await wrapped.databases()
    async with pyidb.factory("memory:") as mem:  # closing a memory factory drops its data
        await mem.open("d", 1)
    with pytest.raises(pyidb.InvalidStateError):
        await mem.databases()


def test_sqlite_url_in_a_missing_folder_names_the_folder(tmp_path, monkeypatch):
    """The README's "sqlite:///data/app.db" where data/ does not exist: say which folder."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pyidb.UnknownError, match=r"its folder .*data does not exist") as caught:
        pyidb.factory("sqlite:///data/app.db")
    assert str(tmp_path / "data") in str(caught.value)
    assert not (tmp_path / "data").exists()  # nothing created behind the user's back
    (tmp_path / "data").mkdir()
    made = pyidb.factory("sqlite:///data/app.db")
    try:
        assert made.url == f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    finally:
        _close(made)
