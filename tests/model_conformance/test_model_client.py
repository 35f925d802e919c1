"""Every client method on the blog schema: reads, writes, relations, transactions, errors."""

from __future__ import annotations

import datetime
from typing import Any

from conformance._support import raises

from pyidb.model import (
    FieldNotFoundError,
    ForeignKeyViolationError,
    InvalidValueError,
    MissingRequiredValueError,
    ModelError,
    RecordNotFoundError,
    UniqueViolationError,
)

from ._blog import open_blog


async def _seed(c: Any) -> None:
    await c.user.create(data={"email": "ann@x.org", "name": "Ann", "role": "ADMIN", "posts": {
        "create": [{"title": "Hello", "views": 10, "published": True, "tags": ["a", "b"]},
                   {"title": "Draft", "views": 1, "tags": []}]}})
    await c.user.create(data={"email": "bob@x.org", "name": "bob", "score": 2.5, "posts": {
        "create": [{"title": "Howdy", "views": 5, "published": True, "tags": ["b"],
                    "meta": {"k": [1, None]}}]}})
    await c.user.create(data={"email": "cy@x.org", "active": False})


async def test_create_returns_the_record_with_defaults(factory: Any) -> None:
    c = await open_blog(factory)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    user = await c.user.create(data={"email": "a@x.org"})
    assert user == {"id": 1, "email": "a@x.org", "name": None, "role": "USER", "active": True,
                    "score": 0.0}
    post = await c.post.create(data={"title": "t", "author": {"connect": {"id": 1}}})
    assert post["authorId"] == 1 and post["tags"] == [] and post["meta"] is None
    assert post["createdAt"].tzinfo is not None and post["createdAt"] >= before
    assert post["updatedAt"] >= before
    assert await c.post.find_unique(where={"id": post["id"]}) == post
    c.close()


async def test_where_operators(factory: Any) -> None:
    c = await open_blog(factory)
    await _seed(c)

    async def titles(where: Any) -> list[str]:
        return [p["title"] for p in await c.post.find_many(where=where)]

    assert await titles({"views": {"gt": 1, "lte": 10}}) == ["Hello", "Howdy"]
    assert await titles({"views": {"in": [1, 5]}}) == ["Draft", "Howdy"]
    assert await titles({"views": {"not_in": [1, 5]}}) == ["Hello"]
    assert await titles({"views": {"not": 10}}) == ["Draft", "Howdy"]
    assert await titles({"title": {"startswith": "H"}}) == ["Hello", "Howdy"]
    assert await titles({"title": {"endswith": "dy"}}) == ["Howdy"]
    assert await titles({"title": {"contains": "ELL", "mode": "insensitive"}}) == ["Hello"]
    assert await titles({"title": {"equals": "hello", "mode": "insensitive"}}) == ["Hello"]
    assert await titles({"OR": [{"views": 1}, {"title": "Howdy"}]}) == ["Draft", "Howdy"]
    assert await titles({"NOT": {"published": True}}) == ["Draft"]
    assert await titles({"AND": [{"published": True}, {"views": {"lt": 10}}]}) == ["Howdy"]
    assert await titles({"tags": {"has": "b"}}) == ["Hello", "Howdy"]
    assert await titles({"tags": {"has_every": ["a", "b"]}}) == ["Hello"]
    assert await titles({"tags": {"has_some": ["a", "z"]}}) == ["Hello"]
    assert await titles({"tags": {"is_empty": True}}) == ["Draft"]
    assert await titles({"meta": {"equals": {"k": [1, None]}}}) == ["Howdy"]
    assert await titles({"author": {"is": {"name": "bob"}}}) == ["Howdy"]
    assert await titles({"author": {"is_not": {"name": "bob"}}}) == ["Hello", "Draft"]
    users = [u["email"] for u in await c.user.find_many(where={"posts": {"some": {"published": True}}})]
    assert users == ["ann@x.org", "bob@x.org"]
    users = [u["email"] for u in await c.user.find_many(where={"posts": {"every": {"published": True}}})]
    assert users == ["bob@x.org", "cy@x.org"]
    users = [u["email"] for u in await c.user.find_many(where={"posts": {"none": {}}})]
    assert users == ["cy@x.org"]
    users = [u["email"] for u in await c.user.find_many(where={"name": None})]
    assert users == ["cy@x.org"]
    users = [u["email"] for u in await c.user.find_many(where={"name": {"not": None}})]
    assert users == ["ann@x.org", "bob@x.org"]
    assert [u["email"] for u in await c.user.find_many(where={"active": False})] == ["cy@x.org"]
    assert [u["email"] for u in await c.user.find_many(where={"role": "ADMIN"})] == ["ann@x.org"]
    c.close()


async def test_order_take_skip_cursor_distinct(factory: Any) -> None:
    c = await open_blog(factory)
    for i in range(10):
        await c.post.create(data={"title": f"p{i % 3}", "views": i})

    async def views(**kw: Any) -> list[int]:
        return [p["views"] for p in await c.post.find_many(**kw)]

    assert await views(order={"views": "desc"}, take=3) == [9, 8, 7]
    assert await views(order={"views": "asc"}, take=3, skip=2) == [2, 3, 4]
    assert await views(order={"views": "asc"}, take=-3) == [7, 8, 9]
    assert await views(order={"views": "asc"}, take=-3, skip=1) == [6, 7, 8]
    assert await views(order=[{"title": "asc"}, {"views": "desc"}], take=4) == [9, 6, 3, 0]
    assert await views(order={"views": "asc"}, cursor={"id": 5}, take=2) == [4, 5]
    assert await views(order={"views": "asc"}, cursor={"id": 5}, take=2, skip=1) == [5, 6]
    assert await views(order={"views": "asc"}, cursor={"id": 5}, take=-2) == [3, 4]
    assert await views(distinct=["title"], order={"views": "asc"}) == [0, 1, 2]
    first = await c.post.find_first(where={"views": {"gt": 4}}, order={"views": "asc"})
    assert first["views"] == 5
    assert await c.post.find_first(where={"views": 99}) is None
    with raises(RecordNotFoundError, match="no Post record"):
        await c.post.find_first_or_raise(where={"views": 99})
    assert await c.post.count() == 10
    assert await c.post.count(where={"title": "p1"}) == 3
    c.close()


async def test_include_with_arguments(factory: Any) -> None:
    c = await open_blog(factory)
    await _seed(c)
    ann = await c.user.find_unique(where={"email": "ann@x.org"}, include={
        "posts": {"where": {"published": True}, "order": {"views": "desc"}, "take": 5},
        "profile": True})
    assert [p["title"] for p in ann["posts"]] == ["Hello"] and ann["profile"] is None
    posts = await c.post.find_many(include={"author": True}, order={"id": "asc"})
    assert [p["author"]["email"] for p in posts] == ["ann@x.org", "ann@x.org", "bob@x.org"]
    with raises(FieldNotFoundError, match="no relation 'comments'"):
        await c.post.find_many(include={"comments": True})
    c.close()


async def test_nested_writes(factory: Any) -> None:
    c = await open_blog(factory)
    user = await c.user.create(data={
        "email": "a@x.org", "profile": {"create": {"bio": "hi"}},
        "posts": {"create": {"title": "one", "categories": {
            "connect_or_create": [{"where": {"name": "py"}, "create": {"name": "py"}}]}}}},
        include={"profile": True, "posts": {"include": {"categories": True}}})
    assert user["profile"]["bio"] == "hi"
    assert user["posts"][0]["categories"] == [{"name": "py"}]
    await c.category.create(data={"name": "js"})
    post = await c.post.create(data={"title": "two", "categories": {"connect": [{"name": "js"},
                                                                                {"name": "py"}]}})
    cat = await c.category.find_unique(where={"name": "py"}, include={"posts": True})
    assert sorted(p["title"] for p in cat["posts"]) == ["one", "two"]
    await c.post.update(where={"id": post["id"]}, data={"categories": {"set": [{"name": "js"}]}})
    got = await c.post.find_unique(where={"id": post["id"]}, include={"categories": True})
    assert got["categories"] == [{"name": "js"}]
    await c.post.update(where={"id": post["id"]}, data={"categories": {"disconnect": [{"name": "js"}]},
                                                       "author": {"connect": {"email": "a@x.org"}}})
    got = await c.post.find_unique(where={"id": post["id"]}, include={"categories": True, "author": True})
    assert got["categories"] == [] and got["author"]["email"] == "a@x.org"
    await c.user.update(where={"id": user["id"]}, data={"posts": {"disconnect": [{"id": post["id"]}]}})
    assert (await c.post.find_unique(where={"id": post["id"]}))["authorId"] is None
    await c.user.update(where={"id": user["id"]}, data={"posts": {"set": [{"id": post["id"]}]}})
    titles = [p["title"] for p in await c.post.find_many(where={"authorId": user["id"]})]
    assert titles == ["two"]
    await c.post.update(where={"id": post["id"]}, data={"author": {"disconnect": True}})
    assert (await c.post.find_unique(where={"id": post["id"]}))["authorId"] is None
    c.close()


async def test_update_operators_upsert_update_many(factory: Any) -> None:
    c = await open_blog(factory)
    await _seed(c)
    p = await c.post.update(where={"id": 1}, data={"views": {"increment": 5}, "tags": {"push": "c"}})
    assert p["views"] == 15 and p["tags"] == ["a", "b", "c"]
    assert (await c.post.update(where={"id": 1}, data={"views": {"divide": 2}}))["views"] == 7
    assert (await c.post.update(where={"id": 1}, data={"views": {"multiply": 3}}))["views"] == 21
    assert (await c.post.update(where={"id": 1}, data={"views": {"decrement": 1}}))["views"] == 20
    u = await c.user.update(where={"email": "bob@x.org"}, data={"score": {"multiply": 2}})
    assert u["score"] == 5.0
    assert await c.post.update_many(where={"published": True}, data={"views": {"set": 0}}) == 2
    assert await c.post.count(where={"views": 0}) == 2
    up = await c.user.upsert(where={"email": "dan@x.org"},
                             data={"create": {"email": "dan@x.org"}, "update": {"name": "no"}})
    assert up["name"] is None
    up = await c.user.upsert(where={"email": "dan@x.org"},
                             data={"create": {"email": "dan@x.org"}, "update": {"name": "Dan"}})
    assert up["name"] == "Dan" and await c.user.count() == 4
    c.close()


async def test_delete_cascade_setnull_restrict(factory: Any) -> None:
    c = await open_blog(factory)
    await _seed(c)
    await c.profile.create(data={"bio": "x", "user": {"connect": {"email": "ann@x.org"}}})
    deleted = await c.user.delete(where={"email": "ann@x.org"})
    assert deleted["name"] == "Ann"
    assert await c.profile.count() == 0  # Cascade
    assert [p["authorId"] for p in await c.post.find_many(where={"title": "Hello"})] == [None]  # SetNull
    with raises(RecordNotFoundError, match="no User record"):
        await c.user.delete(where={"email": "ann@x.org"})
    assert await c.user.delete_many(where={"active": True}) == 1
    assert await c.user.count() == 1
    c.close()


async def test_restrict_blocks_delete(factory: Any) -> None:
    from conformance._support import db_name

    from pyidb.model import Client, Schema

    schema = Schema.from_prisma(
        "model A {\n  id Int @id\n  bs B[]\n}\n"
        "model B {\n  id Int @id\n  aId Int\n  a A @relation(fields: [aId], references: [id])\n}")
    c = await Client.open(db_name("restrict"), schema, factory=factory)
    await c.a.create(data={"id": 1, "bs": {"create": [{"id": 1}, {"id": 2}]}})
    with raises(ForeignKeyViolationError, match="2 B record") as e:
        await c.a.delete(where={"id": 1})
    assert e.value.model == "A"
    assert await c.a.count() == 1 and await c.b.count() == 2
    c.close()


async def test_group_by(factory: Any) -> None:
    c = await open_blog(factory)
    await _seed(c)
    groups = await c.post.group_by(by=["published"], count=True, sum=["views"], avg=["views"],
                                   min=["title"], max=["views"])
    assert groups == [
        {"published": False, "_count": {"_all": 1}, "_sum": {"views": 1}, "_avg": {"views": 1.0},
         "_min": {"title": "Draft"}, "_max": {"views": 1}},
        {"published": True, "_count": {"_all": 2}, "_sum": {"views": 15}, "_avg": {"views": 7.5},
         "_min": {"title": "Hello"}, "_max": {"views": 10}}]
    c.close()


async def test_compound_keys(factory: Any) -> None:
    c = await open_blog(factory)
    await c.membership.create(data={"userId": 1, "group": "g", "rank": 1})
    await c.membership.create(data={"userId": 2, "group": "g", "rank": 2})
    found = await c.membership.find_unique(where={"userId_group": {"userId": 2, "group": "g"}})
    assert found == {"userId": 2, "group": "g", "rank": 2}
    assert await c.membership.find_unique(where={"groupRank": {"group": "g", "rank": 1}}) == \
        {"userId": 1, "group": "g", "rank": 1}
    with raises(UniqueViolationError, match=r"Membership\(group, rank\)") as e:
        await c.membership.create(data={"userId": 3, "group": "g", "rank": 2})
    assert e.value.model == "Membership" and e.value.value == ("g", 2)
    with raises(UniqueViolationError, match=r"Membership\(userId, group\)"):
        await c.membership.create(data={"userId": 1, "group": "g", "rank": 9})
    c.close()


async def test_errors_name_model_field_value_and_write_nothing(factory: Any) -> None:
    c = await open_blog(factory)
    await c.user.create(data={"email": "a@x.org"})
    with raises(UniqueViolationError, match="email='a@x.org'") as e:
        await c.user.create(data={"email": "a@x.org"})
    assert (e.value.model, e.value.field, e.value.value) == ("User", "email", "a@x.org")
    with raises(MissingRequiredValueError, match="User.email is required") as e:
        await c.user.create(data={"name": "x"})
    assert e.value.field == "email"
    with raises(InvalidValueError, match="User.score must be a float") as e:
        await c.user.create(data={"email": "b@x.org", "score": "high"})
    assert e.value.value == "high"
    with raises(InvalidValueError, match="one of USER, ADMIN"):
        await c.user.create(data={"email": "b@x.org", "role": "ROOT"})
    with raises(FieldNotFoundError, match="User has no field 'emial'") as e:
        await c.user.find_many(where={"emial": "a@x.org"})
    assert e.value.field == "emial"
    with raises(FieldNotFoundError, match="unknown operator 'greater'"):
        await c.user.find_many(where={"score": {"greater": 1}})
    with raises(ForeignKeyViolationError, match="no User with id = 42"):
        await c.post.create(data={"title": "t", "authorId": 42})
    with raises(RecordNotFoundError, match="no User record matches"):
        await c.post.create(data={"title": "t", "author": {"connect": {"id": 42}}})
    # A nested write failing late leaves nothing of the call (the user create was rolled back).
    with raises(RecordNotFoundError):
        await c.user.create(data={"email": "c@x.org", "posts": {"create": [{"title": "kept?"}],
                                                                "connect": [{"id": 999}]}})
    assert await c.user.count() == 1 and await c.post.count() == 0
    with raises(InvalidValueError, match="a unique where on User needs"):
        await c.user.find_unique(where={"name": "x"})
    assert isinstance(e.value, ModelError)
    c.close()


async def test_tx_commits_everything_or_nothing(factory: Any) -> None:
    c = await open_blog(factory)
    async with c.tx() as t:
        u = await t.user.create(data={"email": "a@x.org"})
        await t.post.create(data={"title": "t", "authorId": u["id"]})
        assert await t.post.count() == 1
    assert await c.post.count() == 1
    try:
        async with c.tx() as t:
            await t.user.create(data={"email": "b@x.org"})
            await t.user.create(data={"email": "a@x.org"})  # unique violation: all rolls back
    except UniqueViolationError:
        pass
    else:
        raise AssertionError("expected UniqueViolationError")
    assert await c.user.count() == 1
    # Catching the error inside the block does not keep the first write either.
    with raises(ModelError, match="aborted"):
        async with c.tx() as t:
            await t.user.create(data={"email": "c@x.org"})
            try:
                await t.user.create(data={"email": "a@x.org"})
            except UniqueViolationError:
                pass
    assert await c.user.count() == 1
    c.close()


async def test_self_relations_tree_and_many_to_many(factory: Any) -> None:
    from conformance._support import db_name

    from pyidb.model import Client, Schema

    schema = Schema.from_prisma("""
model Node {
  id       Int    @id
  parentId Int?
  parent   Node?  @relation("tree", fields: [parentId], references: [id], onDelete: Cascade)
  children Node[] @relation("tree")
  friends  Node[] @relation("friends")
  friendOf Node[] @relation("friends")
}
""")
    c = await Client.open(db_name("nodes"), schema, factory=factory)
    await c.node.create(data={"id": 1, "children": {"create": [
        {"id": 2}, {"id": 3, "children": {"create": {"id": 4}}}]}})
    three = await c.node.find_unique(where={"id": 3}, include={"parent": True, "children": True})
    assert three["parent"]["id"] == 1 and [n["id"] for n in three["children"]] == [4]
    await c.node.update(where={"id": 1}, data={"friends": {"connect": [{"id": 2}, {"id": 4}]}})
    four = await c.node.find_unique(where={"id": 4}, include={"friends": True, "friendOf": True})
    assert four["friends"] == [] and [n["id"] for n in four["friendOf"]] == [1]
    assert [n["id"] for n in await c.node.find_many(where={"friendOf": {"some": {"id": 1}}})] == [2, 4]
    await c.node.delete(where={"id": 3})  # cascades to 4 and its friendship rows
    assert [n["id"] for n in await c.node.find_many()] == [1, 2]
    await c.node.delete(where={"id": 1})
    assert await c.node.count() == 0 and await c.db.count("_friends") == 0
    c.close()


async def test_create_many_checks_duplicates_or_skips_them(factory: Any) -> None:
    c = await open_blog(factory)
    assert await c.user.create_many(data=[{"email": "a@x.org"}, {"email": "b@x.org"}]) == 2
    with raises(UniqueViolationError, match="twice in create_many"):
        await c.user.create_many(data=[{"email": "c@x.org"}, {"email": "c@x.org"}])
    with raises(UniqueViolationError, match="email='a@x.org'"):
        await c.user.create_many(data=[{"email": "d@x.org"}, {"email": "a@x.org"}])
    assert await c.user.count() == 2  # nothing of the failed batches
    n = await c.user.create_many(data=[{"email": "a@x.org"}, {"email": "e@x.org"},
                                       {"email": "e@x.org"}], skip_duplicates=True)
    assert n == 1 and await c.user.count() == 3
    await c.membership.create_many(data=[{"userId": 1, "group": "g", "rank": 1}])
    with raises(UniqueViolationError, match=r"Membership\(userId, group\)"):
        await c.membership.create_many(data=[{"userId": 1, "group": "g", "rank": 2}])
    with raises(InvalidValueError, match="no nested writes"):
        await c.user.create_many(data=[{"email": "f@x.org", "posts": {"create": {"title": "t"}}}])
    c.close()
