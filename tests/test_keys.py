"""pyidb.keys: spec "convert a value to a key" and "compare two keys"."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyidb
from pyidb.errors import DataError
from pyidb.keys import MAX_SAFE_INTEGER, cmp, compare_keys, is_valid_key, key_to_python, to_key

# -- strategies: raw values that are keys (to_key normalizes them) -------------------------------
SPECIAL_CHARS = ["\x00", "\x01", "\x02", "a", "\x7f", "\x80", "\ud7ff", "\ud800", "\udbff",
                 "\udc00", "\udfff", "\ue000", "\uffff", "\U00010000", "\U0010ffff"]
numbers = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.floats(allow_nan=False),
    st.sampled_from([0, -0.0, 0.5, -0.5, float("inf"), float("-inf"), 5e-324, -5e-324,
                     1.7976931348623157e308, 2.0**53, -(2.0**53), 2.0**53 + 2, 1e300]),
)
strings = st.text(
    st.one_of(st.sampled_from(SPECIAL_CHARS), st.characters(exclude_categories=())), max_size=6
)
binaries = st.one_of(st.binary(max_size=6), st.sampled_from([b"", b"\x00", b"\x01", b"\xff",
                                                              b"\x00\x00", b"\x01\x02"]))
dates = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
leaves = st.one_of(numbers, strings, binaries, dates)
raw_keys = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
keys = raw_keys.map(to_key)


def reference_sort_key(key: object) -> tuple:
    """An independent model of IndexedDB order: (type rank, payload), strings as UTF-16."""
    if isinstance(key, (int, float)):
        return (0, key)
    if isinstance(key, datetime):
        return (1, key)
    if isinstance(key, str):
        return (2, key.encode("utf-16-be", "surrogatepass"))
    if isinstance(key, bytes):
        return (3, key)
    assert isinstance(key, list)
    return (4, tuple(reference_sort_key(k) for k in key))


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


def same(a: object, b: object) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# -- comparison ----------------------------------------------------------------------------------
@given(keys, keys)
def test_compare_keys_matches_reference_order(a: object, b: object) -> None:
    ra, rb = reference_sort_key(a), reference_sort_key(b)
    assert compare_keys(a, b) == (ra > rb) - (ra < rb)
    assert compare_keys(b, a) == -compare_keys(a, b)


@given(keys)
def test_compare_keys_reflexive(a: object) -> None:
    assert compare_keys(a, a) == 0
    assert compare_keys(a, to_key(a)) == 0


@given(st.lists(keys, max_size=8))
def test_sorting_with_compare_keys_is_the_reference_sort(items: list) -> None:
    got = sorted(items, key=functools.cmp_to_key(compare_keys))
    want = sorted(items, key=reference_sort_key)
    assert [reference_sort_key(k) for k in got] == [reference_sort_key(k) for k in want]


@given(keys, keys, keys)
def test_compare_keys_transitive(a: object, b: object, c: object) -> None:
    if compare_keys(a, b) <= 0 and compare_keys(b, c) <= 0:
        assert compare_keys(a, c) <= 0


def test_type_order_number_date_string_binary_array() -> None:
    ordered = [float("-inf"), -1, 0, 1.5, float("inf"), datetime(1970, 1, 1), "", "a", b"",
               b"\x00", [], [0], ["a"]]
    for i, a in enumerate(ordered):
        for j, b in enumerate(ordered):
            assert cmp(a, b) == (i > j) - (i < j), (a, b)


def test_strings_compare_by_utf16_code_units_not_code_points() -> None:
    assert "\U00010000" > "\uffff"  # Python: code points
    assert cmp("\U00010000", "\uffff") == -1  # JS: 0xD800 < 0xFFFF
    assert cmp("\ufb01", "\U0001f600") == 1
    assert cmp("a\U0001f600", "a\ue000") == -1
    assert cmp("\ud7ff", "\U00010000") == -1  # below the surrogates: same in both orders


def test_surrogate_pair_as_two_code_points_is_the_same_key() -> None:
    assert to_key("\ud83d\ude00") == "\U0001f600"
    assert cmp("\ud83d\ude00", "\U0001f600") == 0
    assert to_key("\ud83d") == "\ud83d"  # a lone surrogate stays


def test_numbers_compare_numerically() -> None:
    assert cmp(1, 1.0) == 0
    assert cmp(0, -0.0) == 0
    assert cmp(-1, 0.5) == -1
    assert cmp(float("inf"), 2.0**53) == 1


def test_arrays_compare_elementwise_then_by_length() -> None:
    assert cmp([1, 2], [1, 3]) == -1
    assert cmp([1, 2], [1]) == 1
    assert cmp([1, "a"], [1, 2]) == 1
    assert cmp([], [[]]) == -1
    assert cmp([[1]], [[1], 0]) == -1


def test_bytes_compare_unsigned() -> None:
    assert cmp(b"\x7f", b"\x80") == -1
    assert cmp(b"\xff", b"\x00\x00") == 1
    assert cmp(b"ab", b"ab\x00") == -1


def test_cmp_is_pyidb_cmp_and_validates() -> None:
    assert pyidb.cmp is cmp
    with pytest.raises(DataError) as info:
        cmp(1, None)
    assert info.value.name == "DataError"
    with pytest.raises(DataError):
        cmp(True, 1)


# -- conversion ------------------------------------------------------------------------------
@given(raw_keys)
def test_to_key_is_idempotent(value: object) -> None:
    key = to_key(value)
    assert same(to_key(key), key)
    assert is_valid_key(value)


@given(st.floats(allow_nan=False))
def test_floats_normalize_like_a_js_number(f: float) -> None:
    key = to_key(f)
    assert key == f
    if f.is_integer() and abs(f) <= 2**53 - 1:
        assert type(key) is int
    else:
        assert type(key) is float


def test_number_normalization() -> None:
    assert same(to_key(-0.0), 0)
    assert same(to_key(3.0), 3)
    assert same(to_key(2.5), 2.5)
    assert same(to_key(2.0**60), 2.0**60)  # integral but beyond 2**53: stays float
    assert same(to_key(float("-inf")), float("-inf"))
    assert same(to_key(2**53 - 1), 2**53 - 1)
    assert same(to_key(-(2**53 - 1)), -(2**53 - 1))
    # 2**53 itself (issue 9 #8): the float is a JS number and a key, kept a float; the int is a
    # BigInt in JS (as in values) and no key, on every backend
    assert same(to_key(2.0**53), 2.0**53)
    assert same(to_key(-(2.0**53)), -(2.0**53))
    with pytest.raises(DataError, match="BigInt"):
        to_key(2**53)
    with pytest.raises(DataError, match="BigInt"):
        to_key(-(2**53))


def test_subclasses_normalize_to_plain_types() -> None:
    class Color(enum.IntEnum):
        RED = 1

    class Name(str):
        def __str__(self) -> str:
            return "overridden"

    class Num(float):
        pass

    assert same(to_key(Color.RED), 1)
    assert same(to_key(Name("bob")), "bob")
    assert same(to_key(Num(1.5)), 1.5)
    assert same(to_key(Num(2.0)), 2)


def test_binary_and_sequences_normalize() -> None:
    assert same(to_key(bytearray(b"ab")), b"ab")
    assert same(to_key(memoryview(b"abc")[1:]), b"bc")
    assert same(to_key((1, (2.0, "x"))), [1, [2, "x"]])
    shared = [1]
    assert same(to_key([shared, shared]), [[1], [1]])  # a list used twice is no cycle


def test_datetimes_normalize_to_utc_milliseconds() -> None:
    naive = datetime(2024, 5, 6, 7, 8, 9, 123456)
    assert same(to_key(naive), datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC))
    plus2 = datetime(2024, 5, 6, 9, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    key = to_key(plus2)
    assert key == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert key.tzinfo is UTC
    assert cmp(plus2, datetime(2024, 5, 6, 7, 8, 9)) == 0
    assert cmp(datetime(2024, 1, 1), 10**12) == 1  # any date > any number


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (True, "bool"),
        (False, "bool"),
        (None, "None"),
        ({"a": 1}, "dict"),
        ({1, 2}, "set"),
        (frozenset(), "set"),
        (date(2024, 1, 1), "date without a time"),
        (float("nan"), "NaN"),
        (2**53, "2**53-1"),
        (-(2**53), "2**53-1"),
        (2**53 + 1, "2**53-1"),
        (-(2**53) - 1, "2**53-1"),
        (10**400, "2**53-1"),
        (object(), "object"),
        (1 + 2j, "complex"),
        ([1, [2, None]], "[1][1]"),
        ((1, True), "[1]"),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), "range"),
    ],
)
def test_invalid_keys_raise_data_error(value: object, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        to_key(value)
    assert info.value.name == "DataError"
    message = str(info.value)
    assert fragment in message
    assert "keys may be int/float (not NaN), str, bytes, datetime, or a list of those" in message
    assert not is_valid_key(value)


def test_cyclic_list_is_not_a_key() -> None:
    cyclic: list = [1]
    cyclic.append(cyclic)
    with pytest.raises(DataError) as info:
        to_key(cyclic)
    assert "contains itself" in str(info.value)
    deeper: list = [[0]]
    deeper[0].append(deeper)
    assert not is_valid_key(deeper)


def test_key_to_python_copies_lists() -> None:
    key = [1, [2]]
    out = key_to_python(key)
    assert out == key
    assert out is not key and out[1] is not key[1]
    assert key_to_python("s") == "s"
