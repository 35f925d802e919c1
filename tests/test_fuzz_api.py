"""Fuzz: the whole public API with random, often hostile arguments (issue 9, "Done when").

Each example opens a database on a fresh factory (memory:, a SQLite file, and memory: through a
pass-through ``pyidb.wrap``) and runs a random sequence of steps: factory calls (open, delete,
cmp), schema changes inside an upgrade, transactions, and store/index/cursor calls, with
arguments drawn from hostile values (str subclasses whose ``__eq__`` raises, objects whose truth
value raises, broken iterables, released memoryviews, keys nested too deep, BigInts, NaN, ...).
Every step must

* raise nothing but a pyidb error (none of the hostile objects' own exceptions escapes);
* finish: each is bounded by ``asyncio.wait_for``, and a timeout fails the test;
* leave no partial write: a step that fails leaves every store, index and the version exactly
  as they were before it (the model is the snapshot taken before the step).

PYIDB_FUZZ_EXAMPLES (default 20 per backend, well under a minute in all) runs more; the rest
of the Hypothesis settings come from the "pyidb" profile in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import UTC
from typing import Any

import pytest
from hostile_objects import BrokenIterable, NoTruth, RaisingEqStr, released_memoryview
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyidb

EXAMPLES = int(os.environ.get("PYIDB_FUZZ_EXAMPLES", "20"))
STEP_TIMEOUT = 20  # seconds; a step never legitimately takes more than a fraction of one
MAIN = "main"


def _deep(depth: int) -> list[Any]:
    key: list[Any] = [1]
    for _ in range(depth):
        key = [key]
    return key


NAMES = ["plain", "inline", "auto", "by_v", "multi", "nope", ""]
WORDS = [*NAMES, "id", "v", "next", "prev", "nextunique", "prevunique", "readonly", "readwrite",
         "default", "strict", "relaxed", "a.b", "id.x"]

atoms = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.sampled_from([2**53, -(2**53), 2**53 - 1, 2.0**53, 10**400, -0.0]),
    st.floats(),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.none(),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(RaisingEqStr),
    st.builds(NoTruth),
    st.builds(BrokenIterable),
    st.builds(released_memoryview),
    st.builds(object),
    st.sampled_from([300, 5000]).map(_deep),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    fields = st.sampled_from(["id", "v", "x"]) | st.text(max_size=2)
    return st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(
        fields, inner, max_size=3)


hostile = st.recursive(atoms, _containers, max_leaves=6)
maybe = st.none() | hostile
store_name = st.sampled_from(["plain", "inline", "auto"]) | hostile
record = st.fixed_dictionaries({"id": st.integers(0, 20) | hostile, "v": st.integers(0, 5) | hostile})
value = record | hostile
key = st.integers(0, 20) | hostile


def _schema(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    db.create_object_store("plain")
    inline = db.create_object_store("inline", key_path="id")
    inline.create_index("by_v", "v")
    inline.create_index("multi", "v", multi_entry=True, unique=False)
    db.create_object_store("auto", key_path="id", auto_increment=True)


async def _snapshot(db: pyidb.Database) -> Any:
    """Everything a failed step must leave as it was: version, stores, indexes, records."""
    names = db.object_store_names
    out: list[Any] = [db.version, names]
    if not names:
        return repr(out)
    async with db.transaction(names) as tx:
        for name in names:
            store = tx.object_store(name)
            out.append((name, await store.get_all_keys(), await store.get_all()))
            for ix in store.index_names:
                out.append((name, ix, await store.index(ix).get_all_keys()))
    return repr(out)  # repr: NaN values compare equal to themselves


async def _store_step(tx: pyidb.Transaction, data: st.DataObject) -> None:
    store = tx.object_store(data.draw(store_name))
    kind = data.draw(st.sampled_from([
        "put", "add", "delete", "clear", "get", "get_key", "get_all", "get_all_keys",
        "get_all_records", "count",
        "put_many", "add_many", "get_many", "delete_many", "cursor", "index", "range",
    ]))
    if kind in ("put", "add"):
        await getattr(store, kind)(data.draw(value), data.draw(st.none() | key))
    elif kind in ("put_many", "add_many"):
        values = data.draw(st.lists(value, max_size=3) | hostile)
        await getattr(store, kind)(values, data.draw(st.none() | st.lists(key, max_size=3) | hostile))
    elif kind in ("get_many", "delete_many"):
        await getattr(store, kind)(data.draw(st.lists(key, max_size=3) | hostile))
    elif kind in ("get_all", "get_all_keys", "get_all_records"):
        direction = st.sampled_from(["next", "nextunique", "prev", "prevunique"]) | hostile
        await getattr(store, kind)(data.draw(maybe), data.draw(st.none() | st.integers(-1, 5) | hostile),
                                   data.draw(direction))
    elif kind == "clear":
        await store.clear()
    elif kind == "cursor":
        await _cursor_step(store, data)
    elif kind == "index":
        index = store.index(data.draw(st.sampled_from(["by_v", "multi"]) | hostile))
        read = data.draw(st.sampled_from(["get", "get_key", "count", "get_all", "cursor"]))
        if read == "cursor":
            await _cursor_step(index, data)
        else:
            await getattr(index, read)(data.draw(maybe))
    elif kind == "range":
        how = data.draw(st.sampled_from(["bound", "only", "lower_bound", "upper_bound"]))
        arity = {"bound": 4, "only": 1}.get(how, 2)
        args = data.draw(st.lists(hostile, min_size=arity, max_size=arity))
        rng = getattr(pyidb.KeyRange, how)(*args)
        await store.count(rng)
    else:  # delete, get, get_key, count
        await getattr(store, kind)(data.draw(maybe))


async def _cursor_step(source: Any, data: st.DataObject) -> None:
    opener = data.draw(st.sampled_from(["open_cursor", "open_key_cursor"]))
    direction = data.draw(st.sampled_from(["next", "prev", "nextunique", "prevunique"]) | hostile)
    cursor = await getattr(source, opener)(data.draw(maybe), direction)
    for _ in range(data.draw(st.integers(0, 3))):
        if cursor is None:
            return
        move = data.draw(st.sampled_from(["continue", "advance", "primary", "update", "delete"]))
        if move == "continue":
            cursor = await cursor.continue_(data.draw(st.none() | key))
        elif move == "advance":
            cursor = await cursor.advance(data.draw(st.integers(-1, 3) | hostile))
        elif move == "primary":
            cursor = await cursor.continue_primary_key(data.draw(key), data.draw(key))
        elif move == "update":
            await cursor.update(data.draw(value))
        else:
            await cursor.delete()


async def _schema_step(factory: pyidb.Factory, box: list[pyidb.Database],
                       data: st.DataObject) -> None:
    """Close, reopen one version up with random schema calls in the upgrade, reopen."""
    db = box[0]
    calls = data.draw(st.lists(st.sampled_from(
        ["create_store", "delete_store", "create_index", "delete_index", "put"]), max_size=3))
    version = db.version
    db.close()

    def upgrade(udb: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
        for call in calls:
            if call == "create_store":
                udb.create_object_store(data.draw(store_name), key_path=data.draw(
                    st.none() | st.sampled_from(["id", "", "a.b", ["id", "v"]]) | hostile),
                    auto_increment=data.draw(st.booleans() | hostile))
            elif call == "delete_store":
                udb.delete_object_store(data.draw(store_name))
            elif call == "create_index":
                tx.object_store(data.draw(store_name)).create_index(
                    data.draw(st.sampled_from(["new_ix", "by_v"]) | hostile),
                    data.draw(st.sampled_from(["v", "id", ["id", "v"]]) | hostile),
                    unique=data.draw(st.booleans() | hostile),
                    multi_entry=data.draw(st.booleans() | hostile))
            elif call == "delete_index":
                tx.object_store(data.draw(store_name)).delete_index(data.draw(hostile))
            else:
                tx.object_store(data.draw(store_name)).put(data.draw(value), data.draw(st.none() | key))

    try:
        (await factory.open(MAIN, version + 1, upgrade=upgrade)).close()
    finally:
        box[0] = await factory.open(MAIN)


async def _factory_step(factory: pyidb.Factory, data: st.DataObject) -> None:
    name = data.draw(hostile.filter(lambda n: not (isinstance(n, str) and str.__str__(n) == MAIN)))
    kind = data.draw(st.sampled_from(["open", "delete", "cmp", "databases"]))
    if kind == "open":
        version = data.draw(st.none() | st.integers(-1, 3) | hostile)
        (await factory.open(name, version)).close()
    elif kind == "delete":
        await factory.delete_database(name)
    elif kind == "cmp":
        factory.cmp(data.draw(hostile), data.draw(hostile))
    else:
        await factory.databases()


async def _step(factory: pyidb.Factory, box: list[pyidb.Database], data: st.DataObject) -> None:
    """One random step; ``box[0]`` is the open connection (a schema step replaces it)."""
    db = box[0]
    where = data.draw(st.sampled_from(["store", "store", "store", "transaction", "schema", "factory"]))
    if where == "schema":
        await _schema_step(factory, box, data)
        return
    if where == "factory":
        await _factory_step(factory, data)
        return
    if where == "transaction":
        scope = data.draw(st.sampled_from([["plain"], ["inline", "auto"]]) | hostile)
        mode = data.draw(st.sampled_from(["readonly", "readwrite"]) | hostile)
        async with db.transaction(scope, mode, durability=data.draw(
                st.sampled_from(["default", "relaxed"]) | hostile)) as tx:
            for name in tx.object_store_names:
                await tx.object_store(name).count()
        return
    names = db.object_store_names
    if names:
        async with db.transaction(names, "readwrite") as tx:
            for _ in range(data.draw(st.integers(1, 3))):
                await _store_step(tx, data)


def _make_factory(kind: str, folder: str) -> pyidb.Factory:
    if kind == "sqlite":
        return pyidb.factory(f"sqlite:///{folder}/fuzz.db")
    inner = pyidb.factory("memory:")
    if kind == "wrapped":
        return pyidb.wrap(inner, lambda op, proceed: proceed(op))
    return inner


@pytest.mark.parametrize("kind", ["memory", "sqlite", "wrapped"])
def test_hostile_calls_raise_pyidb_errors_finish_and_keep_nothing_partial(kind: str) -> None:
    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.data_too_large,
                                                           HealthCheck.too_slow])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(_example(_make_factory(kind, folder), data))

    run()


async def _example(factory: pyidb.Factory, data: st.DataObject) -> None:
    box = [await factory.open(MAIN, 1, upgrade=_schema)]
    try:
        for _ in range(data.draw(st.integers(1, 8))):
            before = await _snapshot(box[0])
            try:
                await asyncio.wait_for(_step(factory, box, data), STEP_TIMEOUT)
            except TimeoutError:
                pytest.fail(f"a call did not finish within {STEP_TIMEOUT} s (a hang)")
            except pyidb.Error:
                assert await _snapshot(box[0]) == before, "a failed step left a partial write"
    finally:
        box[0].close()
        factory.close()


