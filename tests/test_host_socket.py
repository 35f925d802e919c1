"""The host socket against hostile and careless plugins, with a real host process.

One host (``python -m pyidb.host serve``) on an SQLite file serves two plugins: ``hub`` (may use
the store "tasks" only) and ``other``. Raw-socket clients send what a hostile plugin could;
after each, a well-behaved client must still be served.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyidb
from pyidb.host import Host
from pyidb.remote import RemoteFactory
from pyidb.remote.frames import encode_frame

REPO = Path(__file__).resolve().parents[1]
HUB, OTHER = "hub-token-0123456789abcdef", "other-token-0123456789abcd"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("sockhost")
    config = root / "host.toml"
    config.write_text(textwrap.dedent(f"""
        [providers.indexeddb.main]
        url = "sqlite:///{root / 'host.db'}"

        [plugins.hub.indexeddb]
        object_stores = ["tasks"]
        token = "${{HUB_TOKEN}}"

        [plugins.other.indexeddb]
        token = "{OTHER}"
    """))
    path = str(root / "idb.sock")
    env = {**os.environ, "HUB_TOKEN": HUB}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyidb.host", "serve", "--config", str(config), "--socket", path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("serving on"), (line, proc.stderr.read() if proc.stderr else "")
    yield {"path": path, "config": config, "env": env, "proc": proc}
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    assert not os.path.exists(path)  # the host removes its socket


class Raw:
    """A plugin that speaks frames by hand."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(path)

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(encode_frame(message))

    def recv(self) -> dict[str, Any] | None:
        head = self._exactly(4)
        if head is None:
            return None
        body = self._exactly(int.from_bytes(head, "big"))
        return None if body is None else json.loads(body)

    def _exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def closed_by_host(self) -> bool:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            if not chunk:
                return True

    def close(self) -> None:
        self.sock.close()


async def still_serving(host: dict[str, Any]) -> None:
    f = RemoteFactory(host["path"], OTHER)
    async with await f.open("canary", 1, upgrade=lambda db, *_: db.create_object_store("s")) as db:
        n = (await db.get("s", "n")) or 0
        await db.put("s", n + 1, "n")
        assert await db.get("s", "n") == n + 1
    f.close()


def test_frames_before_hello_or_with_a_bad_token_close_the_connection(host) -> None:
    for first in ({"id": 1, "op": "databases"}, {"id": 1, "op": "hello", "token": "forged-token-xxxxxxxx"},
                  {"id": 1, "op": "hello"}, {"id": 1, "op": "hello", "token": HUB[:-1]}):
        raw = Raw(host["path"])
        raw.send(first)
        reply = raw.recv()
        assert reply is not None and "error" in reply and "ok" not in reply
        assert raw.closed_by_host()
        raw.close()


@pytest.mark.parametrize("garbage", [
    (1 << 31).to_bytes(4, "big") + b"{}",                 # a frame of 2 GiB announced
    (9 << 20).to_bytes(4, "big") + b"x" * 100,            # over the 8 MiB limit
    (5).to_bytes(4, "big") + b"{nope",                    # not JSON
    (2).to_bytes(4, "big") + b"[]",                       # JSON, not an object
    (30).to_bytes(4, "big") + b'{"$t": "bytes", "v": "!!!!"}xx',  # a malformed tag
])
async def test_oversized_or_malformed_frames_close_only_that_connection(host, garbage: bytes) -> None:
    raw = Raw(host["path"])
    raw.send({"id": 1, "op": "hello", "token": OTHER})
    assert raw.recv() == {"id": 1, "ok": {"plugin": "other"}}
    raw.sock.sendall(garbage)
    reply = raw.recv()
    assert reply is not None and reply["error"]["name"] == "DataError"
    assert raw.closed_by_host()
    raw.close()
    await still_serving(host)


async def test_forged_numbers_and_unknown_operations_are_errors(host) -> None:
    raw = Raw(host["path"])
    raw.send({"id": 1, "op": "hello", "token": HUB})
    assert raw.recv()["ok"] == {"plugin": "hub"}
    for i, message in enumerate([
        {"op": "exec", "code": "import os"},
        {"op": "store", "tx": 424242, "store": "tasks", "method": "get", "args": [["key", 1]]},
        {"op": "cursor_move", "cursor": -7},
        {"op": "transaction", "db": 99, "stores": ["tasks"]},
        {"op": "close", "db": "1"},
        {"op": "hello", "token": OTHER},  # a second hello may not switch plugins
    ], start=2):
        raw.send({**message, "id": i})
        reply = raw.recv()
        assert reply is not None and reply["id"] == i and "error" in reply, reply
    raw.send({"id": 50, "op": "databases"})  # the connection is still usable
    assert raw.recv() == {"id": 50, "ok": []}
    raw.close()
    await still_serving(host)


async def test_a_plugin_cannot_reach_forbidden_stores_or_other_scopes(host) -> None:
    other = RemoteFactory(host["path"], OTHER)
    async with await other.open("shared-name", 1, upgrade=lambda db, *_: (
        db.create_object_store("tasks"), db.create_object_store("secret")
    )) as db:
        await db.put("secret", "other's secret", 1)
        await db.put("tasks", "other's task", 1)
    hub = RemoteFactory(host["path"], HUB)
    # The same database name in hub's scope is hub's own, empty database.
    async with await hub.open("shared-name", 1, upgrade=lambda db, *_: db.create_object_store("tasks")) as db:
        assert db.object_store_names == ["tasks"]
        assert await db.get("tasks", 1) is None
    for forged in ("5:other:shared-name", "../other/shared-name", "shared-name\0", ""):
        async with await hub.open(forged) as db:
            assert db.object_store_names == []  # a new, empty database of hub's, never other's
    with pytest.raises(pyidb.NotFoundError):
        await hub.open("x", 1, upgrade=lambda db, *_: db.create_object_store("secret"))
    names = {d["name"] for d in await hub.databases()}
    # Exactly what hub opened (a forged name is just a name of hub's own); nothing of other's.
    assert names == {"shared-name", "5:other:shared-name", "../other/shared-name", "shared-name\0", ""}
    async with await other.open("shared-name") as db:
        assert await db.get("tasks", 1) == "other's task"  # untouched by hub
    hub.close()
    other.close()


PLUGIN = """
import asyncio, json, os, sys, pyidb
async def main(mode):
    db = await pyidb.open("work", 1, upgrade=lambda db, *_: db.create_object_store("tasks"))
    if mode == "count":
        for _ in range(int(sys.argv[2])):
            async with db.transaction("tasks", "readwrite") as tx:
                store = tx.object_store("tasks")
                await store.put((await store.get("n") or 0) + 1, "n")
        print(json.dumps({"done": True}), flush=True)
    elif mode == "peek":
        names = [d["name"] for d in await pyidb.databases()]
        try:
            db.transaction("secret")
            peek = "reached"
        except pyidb.NotFoundError:
            peek = "not found"
        print(json.dumps({"names": names, "secret": peek, "n": await db.get("tasks", "n")}), flush=True)
asyncio.run(main(sys.argv[1]))
"""


def plugin(host: dict[str, Any], token: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYIDB_SOCKET": host["path"], "PYIDB_TOKEN": token,
           "PYTHONPATH": str(REPO)}
    env.pop("PYIDB_URL", None)
    return subprocess.Popen([sys.executable, "-c", PLUGIN, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def result(proc: subprocess.Popen[str]) -> Any:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


async def test_two_plugin_processes_count_exactly_and_cannot_see_each_other(host) -> None:
    n = 40
    procs = [plugin(host, HUB, "count", str(n)) for _ in range(2)]
    assert [result(p) for p in procs] == [{"done": True}, {"done": True}]
    peek = result(plugin(host, OTHER, "peek"))
    assert peek["n"] is None  # other's "work" database is its own
    assert "work" in peek["names"] and peek["secret"] == "not found"
    hub_peek = result(plugin(host, HUB, "peek"))
    assert hub_peek["n"] == 2 * n and hub_peek["secret"] == "not found"
    # The host's own view: both scopes' databases, each under its own prefix.
    own = Host.from_config(host["config"], host["env"])
    names = [d["name"] for d in await own.factory().databases()]
    assert "3:hub:work" in names and "5:other:work" in names
    own.close()


async def test_a_plugin_that_disconnects_mid_transaction_leaves_nothing_and_blocks_no_one(host) -> None:
    hub = RemoteFactory(host["path"], HUB)
    (await hub.open("work", 1, upgrade=lambda db, *_: db.create_object_store("tasks"))).close()
    raw = Raw(host["path"])
    raw.send({"id": 1, "op": "hello", "token": HUB})
    raw.recv()
    raw.send({"id": 2, "op": "open", "name": "work", "version": None, "upgrade": False})
    number = raw.recv()["ok"]["db"]
    raw.send({"id": 3, "op": "transaction", "db": number, "stores": ["tasks"], "mode": "readwrite"})
    raw.send({"id": 4, "op": "store", "tx": -3, "store": "tasks", "method": "put",
              "args": ["never committed", "half"]})
    assert raw.recv() == {"id": 3, "ok": None}
    assert raw.recv() == {"id": 4, "ok": "half"}  # written inside the open transaction...
    raw.close()  # ...and the plugin goes away without committing
    async with await hub.open("work") as db:
        await db.put("tasks", "after", "later")  # the write lock was released
        assert await db.get("tasks", "half") is None
        assert await db.get("tasks", "later") == "after"
    hub.close()
    await still_serving(host)


def _upgrade_event(raw: Raw) -> dict[str, Any]:
    while True:
        m = raw.recv()
        assert m is not None, "the host closed the connection"
        if m.get("event") == "upgrade":
            return m


async def test_an_upgrade_aborted_by_the_host_ends_open_without_the_client(host) -> None:
    """The import hang (issue 11): a request that fails inside an upgrade aborts the upgrade
    transaction on the host; open() must then fail at once, even when the client's own abort
    comes late (or never), and the next open() of the database must go through. Before the fix
    the host waited for a commit/abort that could no longer name the forgotten transaction."""
    raw = Raw(host["path"])  # every recv() waits at most 20 s: a hang fails, it cannot block CI
    raw.send({"id": 1, "op": "hello", "token": OTHER})
    raw.recv()
    raw.send({"id": 2, "op": "open", "name": "refused", "version": 1, "upgrade": True})
    tx = _upgrade_event(raw)["tx"]
    raw.send({"id": 3, "op": "create_store", "tx": tx, "name": "s", "key_path": None,
              "auto_increment": False})
    raw.send({"id": 4, "op": "create_index", "tx": tx, "store": "s", "name": "u", "key_path": "u",
              "unique": True, "multi_entry": False})
    raw.send({"id": 5, "op": "store", "tx": tx, "store": "s", "method": "put_many",
              "args": [[{"u": 1}, {"u": 1}], [1, 2]]})  # the unique index refuses: aborts
    replies: dict[Any, dict[str, Any]] = {}
    while 2 not in replies:  # open's reply comes without the client's commit or abort
        m = raw.recv()
        assert m is not None, "the host closed the connection"
        if "id" in m:
            replies[m["id"]] = m
    assert replies[5]["error"]["name"] == "ConstraintError"
    assert replies[2]["error"]["name"] == "ConstraintError"
    raw.send({"id": 6, "op": "abort", "tx": tx})  # late: an error reply, nothing stuck
    assert raw.recv()["id"] == 6
    raw.close()
    other = RemoteFactory(host["path"], OTHER)
    db = await asyncio.wait_for(
        other.open("refused", 1, upgrade=lambda db, *_: db.create_object_store("s")), 20)
    assert db.version == 1 and db.object_store_names == ["s"]
    db.close()
    await other.delete_database("refused")
    other.close()


async def test_import_after_a_refused_import_over_the_socket(host) -> None:
    """The same through pyidb.import_database, as the conformance suite first saw it."""
    import io

    other = RemoteFactory(host["path"], OTHER)
    src = await other.open("export-src", 1, upgrade=lambda db, *_: db.create_object_store(
        "s").create_index("u", "u", unique=True))
    await src.put("s", {"u": 1}, 1)
    await src.put("s", {"u": 2}, 2)
    out = io.StringIO()
    await pyidb.export_database(src, out)
    src.close()
    text = out.getvalue().replace('"u":2', '"u":1')  # damaged: the index refuses it first
    for _ in range(2):
        with pytest.raises(pyidb.TransferError):
            await asyncio.wait_for(pyidb.import_database(other, "copy", io.StringIO(text)), 20)
    db = await asyncio.wait_for(pyidb.import_database(other, "copy", io.StringIO(out.getvalue())), 20)
    assert await db.get_all_keys("s") == [1, 2]
    db.close()
    other.close()


async def test_a_plugin_cannot_rename_a_store_into_a_forbidden_name(host) -> None:
    hub = RemoteFactory(host["path"], HUB)
    (await hub.open("renames", 1, upgrade=lambda db, *_: db.create_object_store("tasks"))).close()

    def rename(db: Any, old: int, new: int, tx: Any) -> None:
        tx.object_store("tasks").name = "secrets"  # outside the allowlist: does not exist

    with pytest.raises(pyidb.NotFoundError):
        await hub.open("renames", 2, upgrade=rename)
    async with await hub.open("renames") as db:
        assert db.version == 1 and db.object_store_names == ["tasks"]
    hub.close()
