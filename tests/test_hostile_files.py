"""CPython-only: damaged or hostile SQLite files are refused with an error naming the file and
the fault, never read as if they were fine, never a bare Python exception (issue 9, finding 6).

Each test makes a real pyidb file, edits it with the sqlite3 module as an attacker or a flipped
byte would, then opens it again.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

import pyidb
from pyidb.errors import UnknownError


async def _fill(url: str) -> None:
    def upgrade(db, old, new, tx):
        db.create_object_store("s", key_path="id").create_index("by_n", "n")

    f = pyidb.factory(url)
    db = await f.open("d", 1, upgrade=upgrade)
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many([{"id": i, "n": i % 3} for i in range(6)])
    db.close()
    f.close()


@pytest.fixture
def made(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.db"
    asyncio.run(_fill(f"sqlite:///{path}"))
    return path


def _edit(path: Path, *sql: str | tuple[str, tuple]) -> None:
    conn = sqlite3.connect(path)
    for stmt in sql:
        conn.execute(*((stmt,) if isinstance(stmt, str) else stmt))
    conn.commit()
    conn.close()


def _entry(path: Path) -> dict:
    conn = sqlite3.connect(path)
    raw = conn.execute("SELECT value FROM kv WHERE tree=0 AND key=?", (b"Dd",)).fetchone()[0]
    conn.close()
    return json.loads(raw)


def _set_entry(path: Path, text: str | bytes) -> None:
    raw = text.encode() if isinstance(text, str) else text
    _edit(path, ("UPDATE kv SET value=? WHERE tree=0 AND key=?", (raw, b"Dd")))


def _refused(path: Path, match: str) -> None:
    with pytest.raises(UnknownError, match=match) as caught:
        pyidb.factory(f"sqlite:///{path}")
    assert str(path) in str(caught.value)


def test_the_untouched_file_opens(made: Path) -> None:
    async def read() -> list:
        f = pyidb.factory(f"sqlite:///{made}")
        async with await f.open("d") as db:
            got = await db.get_all("s")
        f.close()
        return got

    assert [r["id"] for r in asyncio.run(read())] == list(range(6))


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d.update(version=float("inf")), "version"),
    (lambda d: d.update(version=2**60), "version"),
    (lambda d: d.update(version="2"), "version"),
    (lambda d: d["stores"]["s"].update(tree=2**70), "tree id"),
    (lambda d: d["stores"]["s"].update(tree=-1), "tree id"),
    (lambda d: d["stores"]["s"].update(tree=0), "tree id 0"),  # the catalog's own tree
    (lambda d: d["stores"]["s"].update(tree=999), "tree 999 is in use but the next free"),
    (lambda d: d["stores"]["s"].update(key_path=5), "key path 5"),
    (lambda d: d["stores"]["s"].update(key_path=[["id"]]), "key path"),
    (lambda d: d["stores"]["s"]["indexes"]["by_n"].update(key_path=None), "key path None"),
    (lambda d: d["stores"]["s"]["indexes"]["by_n"].update(tree=d["stores"]["s"]["tree"]),
     "share a tree"),
    (lambda d: d["stores"]["s"].update(auto_increment="yes"), "auto_increment"),
    (lambda d: d["stores"]["s"].pop("indexes"), "not a store entry"),
])
def test_bad_catalog_fields_are_refused_on_open(made: Path, edit, match: str) -> None:
    doc = _entry(made)
    edit(doc)
    _set_entry(made, json.dumps(doc))  # json writes inf as Infinity, as a hostile edit may
    _refused(made, match)


def test_overflowing_and_deep_json_are_refused(made: Path) -> None:
    for text, match in (('{"version": 1e999, "stores": {}}', "version"),
                        ("[" * 100_000 + "]" * 100_000, "not readable JSON"),
                        (b"\xff\xfe", "not readable JSON")):
        _set_entry(made, text)
        _refused(made, match)


def test_bad_catalog_rows_are_refused(made: Path) -> None:
    for sql, match in (
        ("UPDATE kv SET value=CAST('-5' AS BLOB) WHERE tree=0 AND key=CAST('N' AS BLOB)", "next tree id"),
        ("UPDATE kv SET value=CAST('1e999' AS BLOB) WHERE tree=0 AND key=CAST('N' AS BLOB)", "next tree"),
        ("INSERT INTO kv VALUES (0, CAST('Zzz' AS BLOB), CAST('1' AS BLOB))", "unknown catalog row"),
    ):
        conn = sqlite3.connect(made)
        conn.execute("SAVEPOINT x")
        conn.execute(sql)
        conn.commit()
        conn.close()
        _refused(made, match)
        _edit(made, "DELETE FROM kv WHERE tree=0 AND key=CAST('Zzz' AS BLOB)",
              "UPDATE kv SET value=CAST('4' AS BLOB) WHERE tree=0 AND key=CAST('N' AS BLOB)")
    pyidb.factory(f"sqlite:///{made}").close()  # repaired: opens again


def test_missing_catalog_with_records_is_refused_not_recreated(made: Path) -> None:
    _edit(made, "DELETE FROM kv WHERE tree=0")
    _refused(made, "catalog is missing but the file holds records")
    conn = sqlite3.connect(made)
    assert conn.execute("SELECT count(*) FROM kv").fetchone()[0] > 0  # nothing was re-created
    conn.close()


def test_lost_schema_with_pages_is_refused(made: Path) -> None:
    _edit(made, "DROP TABLE kv", "DROP TABLE meta")  # the pages stay (on the freelist)
    _refused(made, "pages of data but no tables")


@pytest.mark.parametrize("planted", [
    "CREATE TRIGGER t AFTER INSERT ON kv BEGIN DELETE FROM kv WHERE tree=NEW.tree AND key<>NEW.key; END",
    "CREATE VIEW v AS SELECT * FROM kv",
    "CREATE INDEX i ON kv(value)",
    "CREATE TABLE other(x)",
])
def test_unexpected_schema_objects_are_refused(made: Path, planted: str) -> None:
    _edit(made, planted)
    _refused(made, "schema objects pyidb did not make")


def test_trigger_planted_while_open_never_runs(made: Path) -> None:
    async def main() -> None:
        f = pyidb.factory(f"sqlite:///{made}")
        db = await f.open("d")
        _edit(made, "CREATE TRIGGER t AFTER INSERT ON kv BEGIN DELETE FROM kv "
                    "WHERE tree=NEW.tree AND key<>NEW.key; END")
        with pytest.raises(pyidb.Error, match="schema objects pyidb did not make"):
            await db.put("s", {"id": 99, "n": 0})
        db.close()
        f.close()

    asyncio.run(main())
    conn = sqlite3.connect(made)
    conn.execute("DROP TRIGGER t")
    assert conn.execute("SELECT count(*) FROM kv WHERE tree=1").fetchone()[0] == 6  # all kept
    conn.close()
