"""The PostgreSQL storage's write buffer (postgresql_buffer.py): a write transaction's puts and
deletes wait in memory and go out in batches (copied when new, sent behind on a helper thread
when the buffer fills). These tests prove the storage still answers exactly as one that writes
at once: a random mix of every Storage call, inside and across write transactions, compared
call by call with the memory storage, with batches made tiny so every path runs many times."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from pyidb.engine.storage import postgresql as pg
from pyidb.engine.storage import postgresql_buffer
from pyidb.engine.storage.memory import MemoryStorage
from pyidb.engine.storage.postgresql_buffer import WriteBuffer


def test_buffer_knows_pending_writes_and_empty_gaps() -> None:
    b = WriteBuffer()
    b.learn_absent(1, b"b", b"m")
    b.put(1, b"c", b"3")
    b.put(1, b"d", None)
    assert b.lookup(1, b"c") == (True, b"3")
    assert b.lookup(1, b"d") == (True, None)  # a pending delete
    assert b.lookup(1, b"e") == (True, None)  # inside the empty gap
    assert b.lookup(1, b"m") == (False, None)  # hi is exclusive
    assert b.lookup(2, b"c") == (False, None)  # another tree
    assert b.size == 2
    [(tree, keys, values, deleted)] = b.take()
    assert (tree, keys, values, deleted) == (1, [b"c"], [b"3"], [b"d"])
    # PostgreSQL now holds b"c": the gap keeps only what lies outside the keys sent
    assert b.lookup(1, b"c") == (False, None)
    assert b.lookup(1, b"b") == (True, None) and b.lookup(1, b"c\x00") == (True, None)
    assert b.size == 0


def test_buffer_carves_unbounded_gaps_and_forgets_keys_written_directly() -> None:
    b = WriteBuffer()
    b.learn_absent(1, b"a", None)
    b.put_many(1, {b"b": b"1", b"d": b"2"})
    b.take()
    assert b.lookup(1, b"a") == (True, None)
    assert b.lookup(1, b"c") == (False, None)  # between the keys sent: not known any more
    assert b.lookup(1, b"z") == (True, None)
    b.wrote(1, [b"q"])
    assert b.lookup(1, b"q") == (False, None) and b.lookup(1, b"r") == (True, None)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "FLUSH_ROWS", 7)  # sent behind every 7 buffered rows
    monkeypatch.setattr(postgresql_buffer, "COPY_ROWS", 3)  # batches of 3+ new keys are copied


@pytest.fixture
def pair(pg_url: str, small_batches: None) -> Iterator[tuple[pg.PostgreSQLStorage, MemoryStorage]]:
    base, schema = pg_url.split("?schema=")
    s = pg.PostgreSQLStorage(base, schema=schema)
    yield s, MemoryStorage()
    s.close()


def _key(rng: random.Random) -> bytes:
    # few distinct keys (collisions, overwrites, deletes of what exists) plus runs in key order
    return bytes([rng.randrange(6), rng.randrange(40)])


@pytest.mark.parametrize("seed", range(6))
def test_random_calls_answer_as_the_memory_storage(pair, seed: int) -> None:
    s, model = pair
    rng = random.Random(seed)
    for _ in range(25):  # transactions
        s.begin_write()
        model.begin_write()
        for _ in range(rng.randrange(1, 60)):
            tree = rng.choice((1, 2))
            op = rng.random()
            key = _key(rng)
            if op < 0.35:
                value = bytes([rng.randrange(256)]) * rng.randrange(1, 5)
                s.put(tree, key, value)
                model.put(tree, key, value)
            elif op < 0.45:
                start = rng.randrange(40)
                pairs = [(bytes([3, i]), b"m%d" % i) for i in range(start, start + rng.randrange(1, 12))]
                s.put_many(tree, pairs)
                model.put_many(tree, pairs)
            elif op < 0.6:
                assert s.delete(tree, key) == model.delete(tree, key), (seed, tree, key)
            elif op < 0.63:
                lo, hi = sorted((_key(rng), _key(rng)))
                assert s.delete_range(tree, lo, hi) == model.delete_range(tree, lo, hi)
            elif op < 0.85:
                assert s.get(tree, key) == model.get(tree, key), (seed, tree, key)
            elif op < 0.95:
                lo, hi = sorted((_key(rng), _key(rng)))
                rev = rng.random() < 0.5
                limit = rng.choice((None, 1, 3))
                assert list(s.scan(tree, lo, hi, reverse=rev, limit=limit)) == \
                    list(model.scan(tree, lo, hi, reverse=rev, limit=limit))
            else:
                assert s.count(tree) == model.count(tree)
        if rng.random() < 0.75:
            s.commit()
            model.commit()
        else:
            s.rollback()
            model.rollback()
        for tree in (1, 2):  # what PostgreSQL holds, read outside any write transaction
            assert list(s.scan(tree)) == list(model.scan(tree)), seed


def test_a_bulk_load_in_key_order_reads_once_and_is_copied(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    s, _ = pair
    statements: list[str] = []
    run = pg.PostgreSQLStorage._run

    def counting(self, query, args):  # type: ignore[no-untyped-def]
        statements.append((query[:20], args))
        return run(self, query, args)

    monkeypatch.setattr(pg.PostgreSQLStorage, "_run", counting)
    s.begin_write()
    for i in range(100):  # what the engine does per record: read the old one, write the new
        key = i.to_bytes(4, "big")
        assert s.get(1, key) is None
        s.put(1, key, b"v")
        s.put(2, key + b"i", key)
    s.commit()
    assert len(statements) == 1  # one get reached PostgreSQL; every other write was batched
    assert s.count(1) == 100 and s.count(2) == 100
    assert s.get(1, (99).to_bytes(4, "big")) == b"v"
