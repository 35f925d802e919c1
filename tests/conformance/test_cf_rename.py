"""Conformance: renaming object stores and indexes (the ``IDBObjectStore.name`` and
``IDBIndex.name`` setters; web-platform-tests idbobjectstore-rename-*, idbindex-rename-*).

Only inside an upgrade; the store's records, indexes and key generator stay; the old name is free
afterwards; an aborted upgrade gives every name back, on the database and on the handles.
"""

from __future__ import annotations

import pyidb

from ._support import db_name, raises


def _books(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("books", key_path="isbn", auto_increment=True)
    store.create_index("by_author", "author")
    store.create_index("by_title", "title", unique=True)
    db.create_object_store("other")


async def _fill(db: pyidb.Database) -> None:
    async with db.transaction("books", "readwrite") as tx:
        store = tx.object_store("books")
        await store.add({"title": "Emma", "author": "Austen"})
        await store.add({"title": "Dune", "author": "Herbert"})


async def _created(factory: pyidb.Factory) -> tuple[str, pyidb.Database]:
    name = db_name("rename")
    db = await factory.open(name, 1, upgrade=_books)
    await _fill(db)
    return name, db


async def _check_renamed_store(db: pyidb.Database, next_key: int) -> None:
    assert db.object_store_names == ["other", "volumes"]
    async with db.transaction("volumes", "readwrite") as tx:
        store = tx.object_store("volumes")
        assert store.index_names == ["by_author", "by_title"]
        assert await store.get_all() == [{"title": "Emma", "author": "Austen", "isbn": 1},
                                         {"title": "Dune", "author": "Herbert", "isbn": 2}]
        assert await store.index("by_author").get_all_keys("Herbert") == [2]
        assert await store.index("by_title").get("Emma") == {"title": "Emma", "author": "Austen",
                                                            "isbn": 1}
        assert await store.add({"title": "Kim", "author": "Kipling"}) == next_key  # generator kept
        await store.delete(next_key)
    with raises(pyidb.NotFoundError):
        db.transaction("books")


async def test_rename_store_keeps_records_indexes_and_generator(factory):
    name, db = await _created(factory)
    db.close()

    def upgrade(db, old, new, tx):
        store = tx.object_store("books")
        index = store.index("by_author")
        store.name = "volumes"
        assert store.name == "volumes" and db.object_store_names == ["other", "volumes"]
        assert tx.object_store("volumes") is store
        assert index.object_store.name == "volumes"
        with raises(pyidb.NotFoundError):
            tx.object_store("books")
        db.create_object_store("books")  # the old name is free again

    db = await factory.open(name, 2, upgrade=upgrade)
    assert db.object_store_names == ["books", "other", "volumes"]
    assert await db.get_all("books") == []
    db.close()

    def drop(db, old, new, tx):
        db.delete_object_store("books")

    db = await factory.open(name, 3, upgrade=drop)
    await _check_renamed_store(db, 3)
    db.close()
    # and as stored (on SQLite: a new factory reads the file again)
    other = pyidb.factory(factory.url) if factory.url.startswith("sqlite:") else factory
    try:
        db = await other.open(name)
        await _check_renamed_store(db, 4)
        db.close()
    finally:
        if other is not factory:
            other.close()
    await factory.delete_database(name)


async def test_rename_index(factory):
    name, db = await _created(factory)
    db.close()

    def upgrade(db, old, new, tx):
        store = tx.object_store("books")
        index = store.index("by_author")
        index.name = "by_writer"
        assert index.name == "by_writer"
        assert store.index_names == ["by_title", "by_writer"]
        assert store.index("by_writer") is index
        with raises(pyidb.NotFoundError):
            store.index("by_author")
        store.create_index("by_author", "title")  # the old name is free again

    async with await factory.open(name, 2, upgrade=upgrade) as db:
        async with db.transaction("books") as tx:
            store = tx.object_store("books")
            assert store.index_names == ["by_author", "by_title", "by_writer"]
            assert store.index("by_writer").key_path == "author"
            assert await store.index("by_writer").get_all_keys() == [1, 2]
            assert await store.index("by_author").get_all_keys("Dune") == [2]
    await factory.delete_database(name)


async def test_unchanged_name_is_a_no_op_and_swap_via_temp_name(factory):
    name, db = await _created(factory)
    db.close()

    def upgrade(db, old, new, tx):
        books, other = tx.object_store("books"), tx.object_store("other")
        books.name = "books"  # same name: nothing happens, no ConstraintError
        books.index("by_title").name = "by_title"
        books.name, other.name = "tmp", "books"
        books.name = "other"
        index_a, index_t = books.index("by_author"), books.index("by_title")
        index_a.name, index_t.name = "tmp", "by_author"
        index_a.name = "by_title"

    async with await factory.open(name, 2, upgrade=upgrade) as db:
        assert await db.get_all("books") == []
        assert await db.count("other") == 2
        async with db.transaction("other") as tx:
            store = tx.object_store("other")
            assert store.index("by_author").key_path == "title"
            assert store.index("by_title").key_path == "author"
            assert await store.index("by_title").get_all_keys("Austen") == [1]
    await factory.delete_database(name)


async def test_rename_errors_and_their_order(factory):
    name, db = await _created(factory)
    async with db.transaction("books", "readwrite") as tx:
        store = tx.object_store("books")
        index = store.index("by_author")
        with raises(pyidb.InvalidStateError):  # not an upgrade
            store.name = "volumes"
        with raises(pyidb.InvalidStateError):
            index.name = "by_writer"
        await store.count()
    with raises(pyidb.InvalidStateError):  # still not an upgrade, now also finished
        index.name = "by_writer"
    assert db.object_store_names == ["books", "other"]
    db.close()
    handles = {}

    def upgrade(db, old, new, tx):
        store = handles["store"] = tx.object_store("books")
        index = handles["index"] = store.index("by_author")
        with raises(pyidb.ConstraintError):
            store.name = "other"
        with raises(pyidb.ConstraintError):
            index.name = "by_title"
        with raises(pyidb.InvalidArgumentError):  # the name must be a str
            store.name = 5
        title = store.index("by_title")
        store.delete_index("by_title")
        with raises(pyidb.InvalidStateError):  # deleted index
            title.name = "by_name"
        gone = handles["gone"] = db.create_object_store("gone")
        gone_index = handles["gone_index"] = gone.create_index("i", "x")
        db.delete_object_store("gone")
        with raises(pyidb.InvalidStateError):  # deleted store
            gone.name = "again"
        with raises(pyidb.InvalidStateError):  # index of a deleted store
            gone_index.name = "again"

    db = await factory.open(name, 2, upgrade=upgrade)
    store, index = handles["store"], handles["index"]
    with raises(pyidb.TransactionInactiveError):  # the upgrade has finished
        store.name = "volumes"
    with raises(pyidb.TransactionInactiveError):
        index.name = "by_writer"
    # a deleted store's check comes before the inactive one; a deleted index's after it
    with raises(pyidb.InvalidStateError):
        handles["gone"].name = "again"
    with raises(pyidb.TransactionInactiveError):
        handles["gone_index"].name = "again"
    assert db.object_store_names == ["books", "other"]
    db.close()
    await factory.delete_database(name)


async def test_rename_then_abort_reverts_names(factory):
    name, db = await _created(factory)
    db.close()
    handles = {}

    def upgrade(db, old, new, tx):
        store = handles["store"] = tx.object_store("books")
        index = handles["index"] = store.index("by_author")
        store.name = "volumes"
        index.name = "by_writer"
        db.create_object_store("books")
        assert db.object_store_names == ["books", "other", "volumes"]
        tx.abort()

    with raises(pyidb.AbortError):
        await factory.open(name, 2, upgrade=upgrade)
    store, index = handles["store"], handles["index"]
    assert store.name == "books" and index.name == "by_author"
    assert store.index_names == ["by_author", "by_title"]
    async with await factory.open(name) as db:
        assert db.version == 1 and db.object_store_names == ["books", "other"]
        async with db.transaction("books") as tx:
            books = tx.object_store("books")
            assert books.index_names == ["by_author", "by_title"]
            assert await books.index("by_author").get_all_keys("Austen") == [1]
            assert await books.count() == 2
    await factory.delete_database(name)
