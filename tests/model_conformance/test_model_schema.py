"""Schemas: Prisma text and Python classes give the same Schema; the storage it maps to; evolution."""

from __future__ import annotations

import datetime
import enum
from typing import Any

from conformance._support import db_name, raises

from pyidb.model import (
    BigInt,
    Client,
    Json,
    Schema,
    SchemaError,
    autoincrement,
    field,
    now,
    relation,
)

from ._blog import blog_schema


class Role(enum.Enum):
    USER = "USER"
    ADMIN = "ADMIN"


class Author:
    __history__ = True
    id: int = field(id=True, default=autoincrement())
    email: str = field(unique=True)
    name: str | None = None
    role: Role = Role.USER
    big: BigInt | None = None
    data: Json | None = None
    born: datetime.datetime = field(default=now())
    books: list[Book] = relation()


class Book:
    __index__ = [("title",)]
    __unique__ = [("authorId", "title")]
    id: str = field(id=True)
    title: str
    flags: list[bool]
    authorId: int
    author: Author = relation(fields=["authorId"], references=["id"], on_delete="Cascade")


AUTHORS = """
enum Role {
  USER
  ADMIN
}
model Author {
  id    Int      @id @default(autoincrement())
  email String   @unique
  name  String?
  role  Role     @default(USER)
  big   BigInt?
  data  Json?
  born  DateTime @default(now())
  books Book[]
  @@history
}
model Book {
  id       String  @id
  title    String
  flags    Boolean[]
  authorId Int
  author   Author @relation(fields: [authorId], references: [id], onDelete: Cascade)
  @@index([title])
  @@unique([authorId, title])
}
"""


async def test_python_classes_give_the_same_schema_as_prisma(factory: Any) -> None:
    from_classes = Schema.from_classes(Role, Author, Book)
    from_text = Schema.from_prisma(AUTHORS)
    assert from_classes == from_text
    assert from_classes.describe() == from_text.describe()
    rel = from_classes.models["Author"].relations["books"]
    assert (rel.kind, rel.target, rel.fields, rel.on_delete) == ("back", "Book", ("authorId",),
                                                                 "Cascade")


async def test_every_prisma_construct_is_read(factory: Any) -> None:
    s = blog_schema()
    assert s.enums == {"Role": ("USER", "ADMIN")}
    user, post, m = s.models["User"], s.models["Post"], s.models["Membership"]
    assert user.id_fields == ("id",) and user.autoincrement
    assert user.fields["name"].optional and post.fields["tags"].is_list
    assert user.fields["role"].default.value == "USER"
    assert user.fields["score"].default.value == 0.0
    assert post.fields["updatedAt"].updated_at and post.history
    assert m.id_fields == ("userId", "group") and m.uniques == [("group", "rank")]
    assert m.compound_key(("group", "rank")) == "groupRank"  # @@unique(..., name: "groupRank")
    assert m.compound_key(m.id_fields) == "userId_group"
    assert post.indexes == [("published", "views"), ("title",), ("tags",)]
    assert user.relations["profile"].kind == "back" and not user.relations["profile"].to_many
    assert post.relations["author"].on_delete == "SetNull"
    cats = post.relations["categories"]
    assert (cats.kind, cats.join_store, cats.join_side) == ("many", "_CategoryToPost", "B")


async def test_unsupported_constructs_are_errors_naming_the_line(factory: Any) -> None:
    cases = {
        "model A {\n  id Int @id\n  x Decimal\n}": "field x has unknown type Decimal",
        "model A {\n  id Int @id @map(\"_id\")\n}": "schema line 2: the attribute @map",
        "model A {\n  id Int @id\n  @@map(\"a\")\n}": "schema line 3: the block attribute @@map",
        "model A {\n  id Int @id\n  x Int\n  @@unique([x], map: \"u\")\n}": r"@@unique\(map: ...\)",
        "view V {\n  id Int\n}": "schema line 1: unsupported construct",
        "type T {\n  x Int\n}": "schema line 1",
        "model A {\n  id Int @id @default(dbgenerated(\"x\"))\n}": "schema line 2: @default",
        "model A {\n  id Int @id\n": "missing `}`",
        "model A {\n  x Int\n}": "has no @id",
    }
    for text, message in cases.items():
        with raises(SchemaError, match=message):
            Schema.from_prisma(text)


async def test_storage_layout_stores_and_indexes(factory: Any) -> None:
    client = await Client.open(db_name("layout"), blog_schema(), factory=factory)
    db = client.db
    names = set(db.object_store_names)
    assert {"User", "Profile", "Post", "Category", "Membership", "_CategoryToPost",
            "_history_Post", "_pyidb_model"} <= names
    tx = db.transaction(["User", "Post", "Profile", "Membership", "_CategoryToPost"])
    user, post = tx.object_store("User"), tx.object_store("Post")
    assert user.key_path == "id" and user.auto_increment
    assert user.index("unique(email)").unique
    assert tx.object_store("Profile").index("unique(userId)").unique  # relation scalar, unique
    assert post.index("index(authorId)").key_path == "authorId"
    assert post.index("index(published,views)").key_path == ["published", "views"]
    assert post.index("index(tags)").multi_entry  # @@index on a list field
    m = tx.object_store("Membership")
    assert m.key_path == ["userId", "group"] and m.index("unique(group,rank)").unique
    assert tx.object_store("_CategoryToPost").key_path == ["A", "B"]
    # Booleans are stored as 1/0 so that the (published, views) index holds them.
    await client.post.create(data={"title": "t", "published": True, "views": 3})
    raw = await db.get_all("Post")
    assert raw[0]["published"] == 1
    assert await db.count_from_index("Post", "index(published,views)", [1, 3]) == 1
    client.close()


async def test_reopening_with_the_same_schema_keeps_the_version(factory: Any) -> None:
    name = db_name("same")
    c1 = await Client.open(name, blog_schema(), factory=factory)
    v = c1.db.version
    await c1.user.create(data={"email": "a@x"})
    c1.close()
    c2 = await Client.open(name, blog_schema(), factory=factory)
    assert c2.db.version == v
    assert [u["email"] for u in await c2.user.find_many()] == ["a@x"]
    c2.close()


async def test_evolution_adds_fields_and_indexes_and_removes_indexes(factory: Any) -> None:
    name = db_name("evolve")
    v1 = "model Task {\n  id Int @id @default(autoincrement())\n  title String\n  @@index([title])\n}"
    c1 = await Client.open(name, Schema.from_prisma(v1), factory=factory)
    await c1.task.create(data={"title": "old"})
    version = c1.db.version
    c1.close()
    v2 = ("model Task {\n  id Int @id @default(autoincrement())\n  title String\n"
          "  done Boolean @default(false)\n  note String?\n  @@index([done])\n}\n"
          "model Tag {\n  id Int @id\n}")
    c2 = await Client.open(name, Schema.from_prisma(v2), factory=factory)
    assert c2.db.version == version + 1
    assert await c2.task.find_many() == [{"id": 1, "title": "old", "done": False, "note": None}]
    assert await c2.task.find_many(where={"done": False}) != []
    tx = c2.db.transaction("Task")
    assert tx.object_store("Task").index_names == ["index(done)"]
    assert "Tag" in c2.db.object_store_names
    c2.close()


async def test_unsafe_evolution_is_a_clear_error_and_changes_nothing(factory: Any) -> None:
    name = db_name("unsafe")
    v1 = "model Task {\n  id Int @id @default(autoincrement())\n  n Int\n}"
    c1 = await Client.open(name, Schema.from_prisma(v1), factory=factory)
    await c1.task.create(data={"n": 1})
    version = c1.db.version
    c1.close()
    changed = "model Task {\n  id Int @id @default(autoincrement())\n  n String\n}"
    with raises(SchemaError, match="field n changed type from Int to String"):
        await Client.open(name, Schema.from_prisma(changed), factory=factory)
    required = "model Task {\n  id Int @id @default(autoincrement())\n  n Int\n  m Int\n}"
    with raises(SchemaError, match="new required field m has no @default"):
        await Client.open(name, Schema.from_prisma(required), factory=factory)
    dbs = {d["name"]: d["version"] for d in await factory.databases()}
    assert dbs[name] == version
    c = await Client.open(name, Schema.from_prisma(v1), factory=factory)
    assert await c.task.find_many() == [{"id": 1, "n": 1}]
    c.close()


async def test_an_upgrade_closes_older_clients_instead_of_waiting_on_them(factory: Any) -> None:
    import pyidb

    name = db_name("upgrade")
    v1 = "model Task {\n  id Int @id\n}"
    v2 = "model Task {\n  id Int @id\n  note String?\n}"
    old = await Client.open(name, Schema.from_prisma(v1), factory=factory)
    new = await Client.open(name, Schema.from_prisma(v2), factory=factory)  # not blocked by `old`
    await new.task.create(data={"id": 1, "note": "n"})
    with raises(pyidb.InvalidStateError):
        await old.task.find_many()
    new.close()
