"""Conformance: scoped factories (``factory.scoped(db=..., object_stores=[...])``) on every backend.

Two scopes using the same database and store names never see or change each other; names crafted
to collide do not; a store outside the allowlist is indistinguishable from a missing one on every
verb, and naming it in a transaction leaves no effect. Scope names are made unique per test
(``_scope``) because a browser's databases and a PostgreSQL server's schemas outlive a test.
"""

from __future__ import annotations

import random

import pyidb

from ._support import db_name, raises


def _scope(base: str = "s") -> str:
    return f"{base}{random.randrange(1 << 40):x}"


def _stores(*names: str):
    def upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        for name in names:
            store = db.create_object_store(name)
            store.create_index("by_v", "v")

    return upgrade


async def _names(f: pyidb.Factory) -> list[str]:
    return sorted(d["name"] for d in await f.databases())


async def test_two_scopes_with_the_same_names_are_separate_on_every_verb(factory):
    one, two = factory.scoped(_scope()), factory.scoped(_scope())
    name = db_name("app")
    db1 = await one.open(name, 1, upgrade=_stores("tasks"))
    db2 = await two.open(name, 2, upgrade=_stores("tasks", "extra"))
    try:
        assert (db1.name, db1.version, db1.object_store_names) == (name, 1, ["tasks"])
        assert (db2.name, db2.version, db2.object_store_names) == (name, 2, ["extra", "tasks"])
        await db1.put("tasks", {"v": "one"}, 1)
        await db2.put("tasks", {"v": "two"}, 1)
        await db2.put("tasks", {"v": "two-b"}, 2)
        assert await db1.get("tasks", 1) == {"v": "one"}
        assert await db1.get_all_keys("tasks") == [1]
        assert await db1.count("tasks") == 1
        assert await db1.get_all_from_index("tasks", "by_v") == [{"v": "one"}]
        async with db1.transaction("tasks") as tx:
            assert [c.key async for c in tx.object_store("tasks").open_cursor()] == [1]
            by_v = tx.object_store("tasks").index("by_v")
            assert [c.primary_key async for c in by_v.open_key_cursor()] == [1]
        await db1.clear("tasks")
        assert await db2.count("tasks") == 2  # clearing one scope's store left the other's
        await db2.delete("tasks", 2)
        assert await db1.count("tasks") == 0 and await db2.get_all_keys("tasks") == [1]
        assert name in await _names(one) and name in await _names(two)
    finally:
        db1.close()
        db2.close()
    await one.delete_database(name)
    assert name not in await _names(one)
    assert name in await _names(two)  # deleting in one scope left the other's database
    async with await two.open(name) as again:
        assert await again.get("tasks", 1) == {"v": "two"}
    await two.delete_database(name)


async def test_names_crafted_to_collide_do_not(factory):
    base = _scope("q")
    pairs = [
        (base, "b_x"), (base + "_b", "x"),  # Gestalt's db + "_" + store collision, as db names
        (base, "b:x"), (base + "_b", ":x"),
        (base, "_ . / \0"), (base, "_ . / "),
        (base, "n" * 63 + "a" * 7), (base, "n" * 63 + "b" * 7),  # share their first 63 bytes
        (base, "public"),
    ]
    opened = []
    for i, (scope, name) in enumerate(pairs):
        f = factory.scoped(scope)
        async with await f.open(name, 1, upgrade=_stores("s")) as db:
            await db.put("s", i, "who")
        opened.append((f, name))
    for i, (f, name) in enumerate(opened):
        async with await f.open(name) as db:
            assert await db.get("s", "who") == i, (f.scope, name)
            assert await db.count("s") == 1
    for f, name in opened:
        await f.delete_database(name)


async def test_scope_names_are_checked(factory):
    for bad in ("public", "pg_catalog", "information_schema", "pyidb", "A", "a-b", "a.b", "a/b",
                "a\0", "", "1a", "a" * 49, "n" * 63 + "a" * 7, None, 3):
        with raises(pyidb.InvalidArgumentError):
            factory.scoped(bad)
    for bad_list in ([], [""], ["a", "a"], "tasks", [1]):
        with raises(pyidb.InvalidArgumentError):
            factory.scoped(_scope(), object_stores=bad_list)
    with raises(pyidb.InvalidStateError):
        factory.scoped(_scope()).scoped(_scope())


async def _setup_forbidden(factory: pyidb.Factory) -> tuple[pyidb.Factory, pyidb.Factory, str]:
    """A scope whose database has "tasks" and "secret"; the limited factory may use "tasks" only."""
    scope = _scope()
    full = factory.scoped(scope)
    name = db_name("allow")
    async with await full.open(name, 1, upgrade=_stores("tasks", "secret")) as db:
        await db.put("secret", {"v": "classified"}, 1)
    return full, factory.scoped(scope, object_stores=["tasks"]), name


async def test_a_forbidden_store_is_indistinguishable_from_a_missing_one(factory):
    full, limited, name = await _setup_forbidden(factory)
    async with await limited.open(name) as db:
        assert db.object_store_names == ["tasks"]
        for verb in (lambda s: db.transaction(s), lambda s: db.transaction([s], "readwrite"),
                     lambda s: db.transaction(["tasks", s], "readwrite")):
            messages = []
            for store in ("secret", "nope"):
                with raises(pyidb.NotFoundError) as caught:
                    verb(store)
                messages.append(str(caught.value).replace("secret", "X").replace("nope", "X"))
            assert messages[0] == messages[1]
        for shortcut in (db.get("secret", 1), db.count("secret"), db.put("secret", 1, 2),
                         db.get_all_from_index("secret", "by_v"), db.clear("secret")):
            with raises(pyidb.NotFoundError):
                await shortcut
    async with await full.open(name) as db:
        assert await db.get("secret", 1) == {"v": "classified"}  # nothing was changed
    await full.delete_database(name)


async def test_the_allowlist_holds_in_upgrades(factory):
    full, limited, name = await _setup_forbidden(factory)
    seen = []

    def up(db, old, new, tx):
        seen.append((db.object_store_names, tx.object_store_names))
        with raises(pyidb.NotFoundError):
            db.create_object_store("other")
        with raises(pyidb.NotFoundError):
            db.delete_object_store("secret")
        store = tx.object_store("tasks")
        assert store.transaction is tx and store.index("by_v").object_store is store
        assert tx.db is db
        store.create_index("by_w", "w")
        tx.object_store("secret")  # raises NotFoundError and aborts the upgrade

    with raises(pyidb.NotFoundError):
        await limited.open(name, 2, upgrade=up)
    assert seen == [(["tasks"], ["tasks"])]
    async with await full.open(name) as db:
        assert db.version == 1  # the aborted upgrade left nothing
        assert db.object_store_names == ["secret", "tasks"]
        assert db.transaction("tasks").object_store("tasks").index_names == ["by_v"]
    await full.delete_database(name)


async def test_naming_a_forbidden_store_inside_a_transaction_aborts_it(factory):
    full, limited, name = await _setup_forbidden(factory)
    async with await limited.open(name) as db:
        tx = db.transaction("tasks", "readwrite")
        await tx.object_store("tasks").put({"v": 1}, "written")
        assert tx.object_store_names == ["tasks"]
        with raises(pyidb.NotFoundError):
            tx.object_store("secret")
        with raises(pyidb.AbortError):
            await tx.done
        assert await db.get("tasks", "written") is None
    await full.delete_database(name)


async def test_renaming_a_store_out_of_the_allowlist_is_refused(factory):
    scope = _scope()
    limited = factory.scoped(scope, object_stores=["tasks", "done"])
    name = db_name("rename")
    async with await limited.open(name, 1, upgrade=_stores("tasks")):
        pass

    def up(db, old, new, tx):
        store = tx.object_store("tasks")
        with raises(pyidb.NotFoundError):
            store.name = "secret"  # would leave the scope's own store out of its reach
        store.name = "done"  # inside the allowlist: an ordinary rename

    async with await limited.open(name, 2, upgrade=up) as db:
        assert db.object_store_names == ["done"]
    await limited.delete_database(name)


async def test_a_transaction_names_its_database_as_the_scope_does(factory):
    import gc

    f = factory.scoped(_scope())
    name = db_name("txdb")
    db = await f.open(name, 1, upgrade=_stores("tasks"))
    tx = db.transaction("tasks")
    del db
    gc.collect()  # the database handle the program had is gone; the transaction's is rebuilt
    assert tx.db.name == name and tx.object_store("tasks").transaction.db.name == name
    await tx.done
    tx.db.close()
    await f.delete_database(name)
