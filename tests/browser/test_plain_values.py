"""pyidb.browser.store.is_plain: put_many dumps a plain record itself instead of its clone, so
is_plain must say True only where values.clone would give an equal value of the same types and
the same wire text (runs on CPython: no browser needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import pytest

from pyidb import values
from pyidb.clone import is_plain
from pyidb.errors import DataCloneError


class Level(IntEnum):
    LOW = 1


PLAIN = [1, -(2**53 - 1), 0.5, 1e300, 2.0**60, True, None, "a", "é", {"é": [1, 0.25]},
         [[[]]], {"id": 1, "title": "task", "tags": ["t1", "t2"], "done": False, "n": 0.75}]
NOT_PLAIN = [2.0, -0.0, float("nan"), float("inf"), 2**53, -(2**53), "\ud83d\ude00", "\ud83d",
             {"\ud83d": 1}, b"x", bytearray(b"x"), (1,), [1, (2,)], {"$t": 1}, {"a": {"$t": 1}},
             {1: 2}, Level.LOW, datetime(2020, 1, 1, tzinfo=UTC), {"a": [1.5, 2.0]}, {1, 2},
             [float("nan")], {"d": datetime(2020, 1, 1)}]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_values_dump_as_their_clone(value: Any) -> None:
    assert is_plain(value)
    copy, tags = values.clone(value)
    assert not tags
    assert repr(copy) == repr(value)  # same types all the way down (1 vs 1.0 would differ)
    assert values.dumps(value, False, ensure_ascii=True) == values.dumps(copy, tags,
                                                                        ensure_ascii=True)


@pytest.mark.parametrize("value", NOT_PLAIN, ids=repr)
def test_values_clone_changes_or_refuses_are_not_plain(value: Any) -> None:
    assert not is_plain(value)


def test_deep_and_cyclic_values_are_left_to_clone() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(150):
        node.append([])
        node = node[0]
    cycle: list[Any] = []
    cycle.append(cycle)
    assert (is_plain(deep), is_plain(cycle)) == (False, False)
    with pytest.raises(DataCloneError, match="cycle"):
        values.clone(cycle)
