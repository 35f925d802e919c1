"""CPython-only: random operation sequences on the engine vs a pure-Python model of IndexedDB.

The store has out-of-line keys (numbers and strings), a unique index ``by_u`` on ``u`` and a
multiEntry index ``by_tags`` on ``tags``. Values deliberately include what the spec says is not
indexed (missing properties, ``None``, ``True``, invalid array members) and array keys. Hypothesis
draws sequences of put/add/delete/clear/get/get_all/count, index queries, cursor walks, cursor
updates/deletes, commits and aborts; each sequence runs on the engine (memory and SQLite) and on
the model, and every result (ConstraintError included: it is caught, so the transaction goes on)
and the final contents must be equal.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import pyidb
from pyidb import KeyRange

MISSING = "<missing>"  # a property the value does not have


# -- the model ------------------------------------------------------------------------------
def is_key(v: Any) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, (int, float, str)):
        return True
    return isinstance(v, list) and all(is_key(x) for x in v)


def order(k: Any) -> tuple:
    """IndexedDB key order: numbers < dates < strings < binary < arrays (element-wise)."""
    if isinstance(k, (int, float)):
        return (0, k)
    if isinstance(k, str):
        return (2, k)  # the strings here are ASCII: code points == UTF-16 code units
    return (4, tuple(order(x) for x in k))


def index_keys(value: dict, index: str) -> list[Any]:
    """Spec "extract a key from a value using a key path" (+ multiEntry dedupe) for our indexes."""
    if index == "by_u":
        u = value.get("u", MISSING)
        return [u] if u is not MISSING and is_key(u) else []
    tags = value.get("tags", MISSING)
    if tags is MISSING:
        return []
    if isinstance(tags, list):
        seen: dict[tuple, Any] = {}
        for t in tags:
            if is_key(t):
                seen.setdefault(order(t), t)
        return list(seen.values())
    return [tags] if is_key(tags) else []


def in_query(k: Any, query: Any) -> bool:
    if query is None:
        return True
    if isinstance(query, tuple) and query and query[0] == "range":
        _, lo, hi, lo_open, hi_open = query
        o = order(k)
        if lo is not None and (o < order(lo) or (lo_open and o == order(lo))):
            return False
        return not (hi is not None and (o > order(hi) or (hi_open and o == order(hi))))
    return order(k) == order(query)


class Model:
    def __init__(self) -> None:
        self.records: dict[tuple, tuple[Any, dict]] = {}  # order(pk) -> (pk, value)
        self.snapshot = copy.deepcopy(self.records)

    # transactions
    def commit(self) -> str:
        self.snapshot = copy.deepcopy(self.records)
        return "committed"

    def abort(self) -> str:
        self.records = copy.deepcopy(self.snapshot)
        return "aborted"

    # helpers
    def rows(self) -> list[tuple[Any, dict]]:
        return [self.records[o] for o in sorted(self.records)]

    def matching(self, query: Any) -> list[tuple[Any, dict]]:
        return [(k, v) for k, v in self.rows() if in_query(k, query)]

    def entries(self, index: str) -> list[tuple[Any, Any]]:
        out = [(ik, pk) for pk, v in self.rows() for ik in index_keys(v, index)]
        return sorted(out, key=lambda e: (order(e[0]), order(e[1])))

    # store operations
    def put(self, value: dict, key: Any, no_overwrite: bool = False) -> Any:
        if no_overwrite and order(key) in self.records:
            return "ConstraintError"
        for u in index_keys(value, "by_u"):
            for pk, other in self.rows():
                if order(pk) != order(key) and any(order(x) == order(u) for x in index_keys(other, "by_u")):
                    return "ConstraintError"
        self.records[order(key)] = (key, copy.deepcopy(value))
        return key

    def add(self, value: dict, key: Any) -> Any:
        return self.put(value, key, no_overwrite=True)

    def delete(self, query: Any) -> None:
        for k, _ in self.matching(query):
            del self.records[order(k)]

    def clear(self) -> None:
        self.records.clear()

    def get(self, query: Any) -> Any:
        hits = self.matching(query)
        return copy.deepcopy(hits[0][1]) if hits else None

    def get_all(self, query: Any, count: int | None) -> list:
        return [copy.deepcopy(v) for _, v in self.matching(query)][:count]

    def get_all_keys(self, query: Any, count: int | None) -> list:
        return [k for k, _ in self.matching(query)][:count]

    def count(self, query: Any) -> int:
        return len(self.matching(query))

    def _value(self, pk: Any) -> dict:
        return copy.deepcopy(self.records[order(pk)][1])

    def index_get(self, index: str, query: Any) -> Any:
        hits = [pk for ik, pk in self.entries(index) if in_query(ik, query)]
        return self._value(hits[0]) if hits else None

    def index_get_all(self, index: str, query: Any, count: int | None) -> list:
        return [self._value(pk) for ik, pk in self.entries(index) if in_query(ik, query)][:count]

    def index_get_all_keys(self, index: str, query: Any, count: int | None) -> list:
        return [pk for ik, pk in self.entries(index) if in_query(ik, query)][:count]

    def index_count(self, index: str, query: Any) -> int:
        return sum(1 for ik, _ in self.entries(index) if in_query(ik, query))

    def index_cursor(self, index: str, query: Any, direction: str) -> list:
        hits = [(ik, pk) for ik, pk in self.entries(index) if in_query(ik, query)]
        if direction.endswith("unique"):  # the first (lowest primary key) entry of each key
            firsts: dict[tuple, tuple] = {}
            for ik, pk in hits:
                firsts.setdefault(order(ik), (ik, pk))
            hits = list(firsts.values())
        return hits[::-1] if direction.startswith("prev") else hits

    def _walk_list(self, index: str | None, direction: str) -> list[tuple[Any, Any]]:
        if index is None:
            hits = [(k, k) for k, _ in self.rows()]
            return hits[::-1] if direction.startswith("prev") else hits
        return self.index_cursor(index, None, direction)

    def seek(self, index: str | None, direction: str, target: Any, target_pk: Any, steps: int) -> Any:
        """Open a cursor, continue_(target) / continue_primary_key(target, target_pk), advance."""
        walk = self._walk_list(index, direction)
        if not walk:
            return None
        out: list[Any] = [walk[0]]
        forward = direction.startswith("next")
        sign = 1 if forward else -1
        pos = 0
        if target is not None:
            cur_key, cur_pk = walk[0]
            cmp_key = (order(target) > order(cur_key)) - (order(target) < order(cur_key))
            if target_pk is None:
                if cmp_key * sign <= 0:
                    return [*out, "DataError"]

                def ok(e: tuple) -> bool:
                    return (order(e[0]) >= order(target)) if forward else (order(e[0]) <= order(target))
            else:
                cmp_pk = (order(target_pk) > order(cur_pk)) - (order(target_pk) < order(cur_pk))
                if cmp_key * sign < 0 or (cmp_key == 0 and cmp_pk * sign <= 0):
                    return [*out, "DataError"]

                def ok(e: tuple) -> bool:
                    a, b = (order(e[0]), order(e[1])), (order(target), order(target_pk))
                    return a >= b if forward else a <= b
            pos = next((i for i in range(1, len(walk)) if ok(walk[i])), len(walk))
            out.append(walk[pos] if pos < len(walk) else None)
            if pos >= len(walk):
                return out
        pos += steps
        out.append(walk[pos] if pos < len(walk) else None)
        return out

    def cursor_bump(self, query: Any) -> list:
        done = []
        for k, v in self.matching(query):
            v["n"] += 1
            done.append(k)
        return done

    def cursor_delete_odd(self, query: Any) -> list:
        done = []
        for k, v in self.matching(query):
            if v["n"] % 2:
                del self.records[order(k)]
                done.append(k)
        return done


# -- the engine side --------------------------------------------------------------------------
# Every sequence ends by walking both indexes in every direction, so each example checks that
# the indexes match the final records (and the unique directions' choice of primary key).
FINAL_INDEXES = ("by_u", "by_tags")
DIRECTIONS = ("next", "prev", "nextunique", "prevunique")


def _upgrade(db: pyidb.Database, old: int, new: int, tx: pyidb.Transaction) -> None:
    store = db.create_object_store("s")
    store.create_index("by_u", "u", unique=True)
    store.create_index("by_tags", "tags", multi_entry=True)


def to_query(q: Any) -> Any:
    if isinstance(q, tuple) and q and q[0] == "range":
        _, lo, hi, lo_open, hi_open = q
        if lo is None:
            return KeyRange.upper_bound(hi, hi_open)
        if hi is None:
            return KeyRange.lower_bound(lo, lo_open)
        return KeyRange.bound(lo, hi, lo_open, hi_open)
    return q


async def run_engine(factory: pyidb.Factory, name: str, ops: list[tuple]) -> tuple[list, list]:
    db = await factory.open(name, 1, upgrade=_upgrade)
    results: list[Any] = []
    tx: pyidb.Transaction | None = None
    for op in ops:
        kind, args = op[0], op[1:]
        if tx is None:
            tx = db.transaction("s", "readwrite")
        store = tx.object_store("s")
        if kind == "commit":
            tx.commit()
            await tx.done
            tx = None
            results.append("committed")
            continue
        if kind == "abort":
            tx.abort()
            with pytest.raises(pyidb.AbortError):
                await tx.done
            tx = None
            results.append("aborted")
            continue
        try:
            results.append(await _engine_op(store, kind, args))
        except pyidb.ConstraintError:
            results.append("ConstraintError")  # caught: the transaction goes on
    if tx is not None:
        tx.commit()
        await tx.done
    final = [await db.get_all_keys("s"), await db.get_all("s")]
    tx = db.transaction("s")
    for index in FINAL_INDEXES:
        for direction in DIRECTIONS:
            final.append(await _engine_op(tx.object_store("s"), "index_cursor", (index, None, direction)))
    await tx.done
    db.close()
    return results, final


async def _engine_op(store: pyidb.ObjectStore, kind: str, args: tuple) -> Any:
    if kind in ("put", "add"):
        value, key = args
        return await getattr(store, kind)(value, key)
    if kind in ("delete", "get", "count"):
        return await getattr(store, kind)(to_query(args[0]))
    if kind == "clear":
        return await store.clear()
    if kind in ("get_all", "get_all_keys"):
        return await getattr(store, kind)(to_query(args[0]), args[1])
    if kind.startswith("index_"):
        index = store.index(args[0])
        if kind == "index_cursor":
            out = []
            async for cursor in index.open_cursor(to_query(args[1]), args[2]):
                out.append((cursor.key, cursor.primary_key))
            return out
        method = getattr(index, kind[len("index_"):])
        return await method(to_query(args[1]), *args[2:])
    if kind == "seek":
        index_name, direction, target, target_pk, steps = args
        source = store if index_name is None else store.index(index_name)
        cursor = await source.open_cursor(None, direction)
        if cursor is None:
            return None
        out: list[Any] = [(cursor.key, cursor.primary_key)]
        if target is not None:
            try:
                if target_pk is None:
                    request = cursor.continue_(target)
                else:
                    request = cursor.continue_primary_key(target, target_pk)
            except pyidb.DataError:
                return [*out, "DataError"]
            cursor = await request
            out.append(None if cursor is None else (cursor.key, cursor.primary_key))
            if cursor is None:
                return out
        cursor = await cursor.advance(steps)
        out.append(None if cursor is None else (cursor.key, cursor.primary_key))
        return out
    if kind == "cursor_bump":
        done = []
        async for cursor in store.open_cursor(to_query(args[0])):
            await cursor.update({**cursor.value, "n": cursor.value["n"] + 1})
            done.append(cursor.primary_key)
        return done
    if kind == "cursor_delete_odd":
        done = []
        async for cursor in store.open_cursor(to_query(args[0])):
            if cursor.value["n"] % 2:
                await cursor.delete()
                done.append(cursor.primary_key)
        return done
    raise AssertionError(kind)


def run_model(ops: list[tuple]) -> tuple[list, list]:
    model = Model()
    results = []
    for op in ops:
        kind, args = op[0], op[1:]
        results.append(getattr(model, kind)(*args))
    model.commit()
    final = [[k for k, _ in model.rows()], [v for _, v in model.rows()]]
    for index in FINAL_INDEXES:
        for direction in DIRECTIONS:
            final.append(model.index_cursor(index, None, direction))
    return results, final


# -- strategies -----------------------------------------------------------------------------
primary_keys = st.sampled_from([*range(13), "a", "b", "c", "d"])
# Mostly unindexed u (missing/None/True), so puts often succeed and the store fills up; tags from
# a small alphabet, so records share index keys and unique cursor directions have a choice.
u_values = st.sampled_from([0, 1, 2, 3, 4, "s", "t", [1, "a"]] + [MISSING] * 6 + [None, True])
tag_items = st.sampled_from(["x", "x", "y", "y", "z", None, False, 0, 1, ["x"]])
tags_values = st.one_of(st.lists(tag_items, max_size=4), st.sampled_from(["x", 1, None, MISSING]))


@st.composite
def values(draw: st.DrawFn) -> dict:
    value: dict[str, Any] = {"n": draw(st.integers(0, 9))}
    u, tags = draw(u_values), draw(tags_values)
    if u is not MISSING:
        value["u"] = u
    if tags is not MISSING:
        value["tags"] = tags
    return value


def queries(keys: st.SearchStrategy, allow_none: bool = True) -> st.SearchStrategy:
    def as_range(t: tuple) -> tuple:
        lo, hi, lo_open, hi_open, shape = t
        if order(lo) > order(hi):
            lo, hi = hi, lo
        if order(lo) == order(hi):
            lo_open = hi_open = False
        if shape == "lower":
            hi, hi_open = None, False
        elif shape == "upper":
            lo, lo_open = None, False
        return ("range", lo, hi, lo_open, hi_open)

    ranges = st.tuples(keys, keys, st.booleans(), st.booleans(),
                       st.sampled_from(["bound", "lower", "upper"])).map(as_range)
    options = [keys, ranges] + ([st.none()] if allow_none else [])
    return st.one_of(*options)


u_keys = st.one_of(st.integers(0, 4), st.sampled_from(["s", "t"]), st.just([1, "a"]))
tag_keys = st.one_of(st.sampled_from(["x", "y", "z"]), st.integers(0, 2), st.just(["x"]))
counts = st.sampled_from([None, 1, 2, 5])
directions = st.sampled_from(DIRECTIONS)


def index_ops() -> st.SearchStrategy:
    per_index = []
    for name, keys in (("by_u", u_keys), ("by_tags", tag_keys)):
        per_index += [
            st.tuples(st.just("index_get"), st.just(name), queries(keys, allow_none=False)),
            st.tuples(st.just("index_get_all"), st.just(name), queries(keys), counts),
            st.tuples(st.just("index_get_all_keys"), st.just(name), queries(keys), counts),
            st.tuples(st.just("index_count"), st.just(name), queries(keys)),
            st.tuples(st.just("index_cursor"), st.just(name), queries(keys), directions),
            st.tuples(st.just("index_cursor"), st.just(name), st.none(), directions),
        ]
    return st.one_of(*per_index)


@st.composite
def seeks(draw: st.DrawFn) -> tuple:
    """A cursor jump: on the store or an index, continue_(key) or continue_primary_key, advance."""
    index = draw(st.sampled_from([None, "by_u", "by_tags"]))
    keys = {None: primary_keys, "by_u": u_keys, "by_tags": tag_keys}[index]
    target_pk = None
    if index is not None and draw(st.booleans()):
        direction = draw(st.sampled_from(["next", "prev"]))
        target, target_pk = draw(keys), draw(primary_keys)
    else:
        direction = draw(directions)
        target = draw(st.one_of(st.none(), keys))
    return ("seek", index, direction, target, target_pk, draw(st.integers(1, 2)))


_OPS: dict[str, st.SearchStrategy] = {
    "put": st.tuples(st.just("put"), values(), primary_keys),
    "add": st.tuples(st.just("add"), values(), primary_keys),
    "delete": st.tuples(st.just("delete"), queries(primary_keys, allow_none=False)),
    "get": st.tuples(st.just("get"), queries(primary_keys, allow_none=False)),
    "get_all": st.tuples(st.just("get_all"), queries(primary_keys), counts),
    "get_all_keys": st.tuples(st.just("get_all_keys"), queries(primary_keys), counts),
    "count": st.tuples(st.just("count"), queries(primary_keys)),
    "index": index_ops(),
    "cursor_bump": st.tuples(st.just("cursor_bump"), queries(primary_keys)),
    "seek": seeks(),
    "cursor_delete_odd": st.tuples(st.just("cursor_delete_odd"), queries(primary_keys)),
    "clear": st.just(("clear",)),
    "commit": st.just(("commit",)),
    "abort": st.just(("abort",)),
}
# Weights (st.one_of would weight each of the many index variants like a whole operation kind).
_WEIGHTS = {"put": 24, "add": 6, "delete": 2, "get": 4, "get_all": 4, "get_all_keys": 2, "count": 2,
            "index": 20, "seek": 16, "cursor_bump": 2, "cursor_delete_odd": 2, "clear": 1, "commit": 6,
            "abort": 3}
operations = st.sampled_from([k for k, w in _WEIGHTS.items() for _ in range(w)]).flatmap(_OPS.__getitem__)
sequences = st.lists(operations, min_size=20, max_size=50)

_names = itertools.count()


@pytest.fixture(scope="module")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory):
    f = pyidb.factory(f"sqlite:///{tmp_path_factory.mktemp('model') / 'model.db'}")
    yield f
    f.close()


def _check(factory: pyidb.Factory, ops: list[tuple]) -> None:
    expected = run_model(ops)
    got = asyncio.run(run_engine(factory, f"model-{next(_names)}", ops))
    for i, (e, g) in enumerate(zip(expected[0], got[0], strict=True)):
        assert g == e, f"operation {i} {ops[i]!r}: engine {g!r}, model {e!r}"
    assert got[1] == expected[1], "final contents or index walks differ"


# Shrinking a failing 50-operation sequence replays it thousands of times (minutes); by default a
# failure reports the whole sequence and the first operation that differs. Set
# PYIDB_MODEL_SHRINK=1 to let hypothesis shrink it to a minimal one.
_PHASES = list(Phase) if os.environ.get("PYIDB_MODEL_SHRINK") else [
    Phase.explicit, Phase.reuse, Phase.generate
]
_settings = settings(
    max_examples=60, deadline=None, phases=_PHASES, suppress_health_check=[HealthCheck.too_slow]
)


@_settings
@given(ops=sequences)
def test_memory_engine_agrees_with_the_model(ops):
    _check(pyidb.factory("memory:"), ops)


@_settings
@given(ops=sequences)
def test_sqlite_engine_agrees_with_the_model(sqlite_factory, ops):
    _check(sqlite_factory, ops)


def test_model_sanity():
    """The model itself encodes the rules the engine is held to (a broken model proves nothing)."""
    m = Model()
    assert m.put({"u": 1, "n": 0}, 1) == 1
    assert m.put({"u": 1, "n": 0}, 2) == "ConstraintError"  # unique index
    assert m.put({"u": 1, "n": 5}, 1) == 1  # overwriting its own record is fine
    assert m.add({"n": 0}, 1) == "ConstraintError"
    m.put({"tags": ["x", "x", None, ["x"], 1], "n": 0}, "a")
    assert m.index_get_all_keys("by_tags", None, None) == ["a", "a", "a"]
    assert [ik for ik, _ in m.entries("by_tags")] == [1, "x", ["x"]]  # deduped, None skipped
    m.commit()
    m.clear()
    m.abort()
    assert m.count(None) == 2
    assert m.index_cursor("by_u", None, "prevunique") == [(1, 1)]


def test_a_fixed_sequence_on_both_engines(sqlite_factory):
    """One hand-written sequence, so a failure here reads without hypothesis's shrinking."""
    ops = [
        ("put", {"u": 1, "tags": ["x", "y"], "n": 1}, 1),
        ("put", {"u": 1, "tags": ["x"], "n": 2}, 2),  # ConstraintError, caught
        ("add", {"u": 2, "tags": "y", "n": 3}, "a"),
        ("index_cursor", "by_tags", None, "prevunique"),
        ("commit",),
        ("cursor_delete_odd", ("range", 0, "b", False, False)),
        ("abort",),
        ("index_count", "by_tags", "y"),
        ("get_all_keys", None, None),
    ]
    expected = run_model(ops)
    assert expected[0][1] == "ConstraintError" and expected[0][-2] == 2
    for factory in (pyidb.factory("memory:"), sqlite_factory):
        _check(factory, ops)

