"""pyidb.key_range: KeyRange, "convert a value to a key range", byte bounds for scans."""

from __future__ import annotations

import copy
from bisect import bisect_left

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyidb
from pyidb.engine.bounds import range_bounds as key_range_to_bytes
from pyidb.errors import DataError
from pyidb.key_encoding import decode_key, encode_key
from pyidb.key_range import KeyRange, to_key_range
from pyidb.keys import compare_keys, to_key

small_keys = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, "", "a", "a\x00", "b", b"", b"\x00", b"\xff"]),
    st.lists(st.one_of(st.integers(-1, 1), st.sampled_from(["", "a"])), max_size=2),
).map(to_key)


def test_only() -> None:
    r = KeyRange.only(5.0)
    assert (r.lower, r.upper, r.lower_open, r.upper_open) == (5, 5, False, False)
    assert r.includes(5) and not r.includes(4) and not r.includes(6)
    assert r.is_only
    assert repr(r) == "KeyRange.only(5)"


def test_lower_bound() -> None:
    r = KeyRange.lower_bound(1)
    assert (r.lower, r.upper, r.lower_open, r.upper_open) == (1, None, False, True)
    assert r.includes(1) and r.includes("z") and not r.includes(0)
    o = KeyRange.lower_bound(1, open=True)
    assert not o.includes(1) and o.includes(1.5)
    assert repr(o) == "KeyRange.lower_bound(1, open=True)"


def test_upper_bound() -> None:
    r = KeyRange.upper_bound("m")
    assert (r.lower, r.upper, r.lower_open, r.upper_open) == (None, "m", True, False)
    assert r.includes("m") and r.includes(-1) and not r.includes("n")
    o = KeyRange.upper_bound("m", open=True)
    assert not o.includes("m") and o.includes("l")
    assert repr(o) == "KeyRange.upper_bound('m', open=True)"


def test_bound() -> None:
    r = KeyRange.bound(1, 10, upper_open=True)
    assert (r.lower, r.upper, r.lower_open, r.upper_open) == (1, 10, False, True)
    assert r.includes(1) and r.includes(9.99) and not r.includes(10)
    assert 5 in r and 10 not in r
    assert repr(r) == "KeyRange.bound(1, 10, upper_open=True)"
    assert KeyRange.bound(2, 2).is_only
    assert KeyRange.bound([1], [1, 0], True, True).includes([1, -5])


def test_bounds_are_normalized() -> None:
    r = KeyRange.bound((1, 2.0), (3,))
    assert r.lower == [1, 2] and type(r.lower[1]) is int
    assert r.upper == [3]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: KeyRange.bound(5, 1), "greater than the upper bound"),
        (lambda: KeyRange.bound(1, 1, lower_open=True), "equal"),
        (lambda: KeyRange.bound(1, 1.0, upper_open=True), "equal"),
        (lambda: KeyRange.bound("a", 1), "greater than the upper bound"),
        (lambda: KeyRange.only(None), "None"),
        (lambda: KeyRange.only(True), "bool"),
        (lambda: KeyRange.lower_bound(None), "needs a key"),
        (lambda: KeyRange.upper_bound(float("nan")), "NaN"),
        (lambda: KeyRange.bound(None, 1), "needs a key"),
        (lambda: KeyRange.bound(1, {}), "dict"),
    ],
)
def test_invalid_ranges_raise_data_error(make: object, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        make()  # type: ignore[operator]
    assert info.value.name == "DataError"
    assert fragment in str(info.value)


def test_includes_rejects_invalid_keys() -> None:
    with pytest.raises(DataError) as info:
        KeyRange.only(1).includes(None)
    assert info.value.name == "DataError"


def test_immutable_and_value_semantics() -> None:
    r = KeyRange.bound([1], [2])
    with pytest.raises(AttributeError):
        r.lower = 0  # type: ignore[misc]
    assert r == KeyRange.bound((1.0,), [2])
    assert hash(r) == hash(KeyRange.bound((1.0,), [2]))
    assert r != KeyRange.bound([1], [2], upper_open=True)
    assert r != "not a range"
    assert copy.copy(r) is r and copy.deepcopy(r) is r
    assert len({r, KeyRange.bound([1], [2]), KeyRange.only(1)}) == 2


def test_list_bounds_are_copies() -> None:
    r = KeyRange.bound([1], [2])
    r.lower.append(99)  # a fresh copy each time, as JS returns a new array
    assert r.lower == [1]
    assert r.includes([1, 5])


def test_exported_from_package() -> None:
    assert pyidb.KeyRange is KeyRange


def test_to_key_range() -> None:
    assert to_key_range(None) is None
    r = KeyRange.lower_bound(3)
    assert to_key_range(r) is r
    assert to_key_range((1, "a")) == KeyRange.only([1, "a"])
    with pytest.raises(DataError) as info:
        to_key_range(None, null_allowed=False)
    assert info.value.name == "DataError"
    assert "key or KeyRange is required" in str(info.value)
    with pytest.raises(DataError):
        to_key_range({"a": 1})


def test_key_range_to_bytes_shapes() -> None:
    e1, e2 = encode_key(1), encode_key(2)
    assert key_range_to_bytes(None) == (None, None)
    assert key_range_to_bytes(KeyRange.only(1)) == (e1, e1 + b"\xff")
    assert key_range_to_bytes(KeyRange.bound(1, 2, True, True)) == (e1 + b"\xff", e2)
    assert key_range_to_bytes(KeyRange.lower_bound(1)) == (e1, None)
    assert key_range_to_bytes(KeyRange.upper_bound(2, open=True)) == (None, e2)


def _select(entries: list[bytes], lo: bytes | None, hi: bytes | None) -> list[bytes]:
    """What Storage.scan(lo, hi) returns from a sorted list of entries."""
    start = 0 if lo is None else bisect_left(entries, lo)
    stop = len(entries) if hi is None else bisect_left(entries, hi)
    return entries[start:stop]


def _ranges() -> st.SearchStrategy[KeyRange | None]:
    def build(a: object, b: object, lo_open: bool, hi_open: bool, shape: int) -> KeyRange | None:
        lo, hi = (a, b) if compare_keys(a, b) <= 0 else (b, a)
        if shape == 0:
            return None
        if shape == 1:
            return KeyRange.only(lo)
        if shape == 2:
            return KeyRange.lower_bound(lo, lo_open)
        if shape == 3:
            return KeyRange.upper_bound(hi, hi_open)
        if compare_keys(lo, hi) == 0:
            return KeyRange.bound(lo, hi)
        return KeyRange.bound(lo, hi, lo_open, hi_open)

    return st.builds(build, small_keys, small_keys, st.booleans(), st.booleans(),
                     st.integers(0, 4))


@given(st.lists(small_keys, max_size=12), _ranges())
def test_byte_bounds_select_the_range_in_a_record_tree(pks: list, key_range: KeyRange | None) -> None:
    entries = sorted({encode_key(k) for k in pks})
    lo, hi = key_range_to_bytes(key_range)
    got = _select(entries, lo, hi)
    want = [e for e in entries if key_range is None or key_range.includes(decode_key(e))]
    assert got == want


@given(st.lists(st.tuples(small_keys, small_keys), max_size=12), _ranges())
def test_byte_bounds_select_the_range_in_an_index_tree(
    pairs: list, key_range: KeyRange | None
) -> None:
    """Index entries are encode(index key) + encode(primary key); the range is on index keys."""
    entries = sorted({encode_key(ik) + encode_key(pk) for ik, pk in pairs})
    by_entry = {encode_key(ik) + encode_key(pk): ik for ik, pk in pairs}
    lo, hi = key_range_to_bytes(key_range)
    got = _select(entries, lo, hi)
    want = [e for e in entries if key_range is None or key_range.includes(by_entry[e])]
    assert got == want


def test_index_tree_example_with_prefix_strings() -> None:
    """"a" and "a\\x00" as index keys: the only("a") bounds must not catch "a\\x00" entries."""
    pairs = [("a", 1), ("a", "z"), ("a\x00", 0), ("a\x00", [1]), ("b", 0), ("", 5)]
    entries = sorted(encode_key(ik) + encode_key(pk) for ik, pk in pairs)
    lo, hi = key_range_to_bytes(KeyRange.only("a"))
    assert _select(entries, lo, hi) == [encode_key("a") + encode_key(1),
                                        encode_key("a") + encode_key("z")]
    lo, hi = key_range_to_bytes(KeyRange.lower_bound("a", open=True))
    assert len(_select(entries, lo, hi)) == 3
