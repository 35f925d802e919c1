"""pyidb.key_encoding: byte order is key order, round trips, self-delimiting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyidb.engine.bounds import past
from pyidb.errors import DataError, UnknownError
from pyidb.key_encoding import (
    decode_key,
    decode_key_prefix,
    encode_key,
)
from pyidb.keys import MAX_SAFE_INTEGER, compare_keys, to_key

SPECIAL_CHARS = ["\x00", "\x01", "\x02", "a", "\x7f", "\x80", "\ud7ff", "\ud800", "\udbff",
                 "\udc00", "\udfff", "\ue000", "\uffff", "\U00010000", "\U0010ffff"]
numbers = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.floats(allow_nan=False),
    st.sampled_from([0, -0.0, 0.5, float("inf"), float("-inf"), 5e-324, -5e-324,
                     1.7976931348623157e308, -1.7976931348623157e308, 2.0**53 + 2, 1e-300]),
)
strings = st.text(
    st.one_of(st.sampled_from(SPECIAL_CHARS), st.characters(exclude_categories=())), max_size=6
)
binaries = st.one_of(st.binary(max_size=6), st.sampled_from([b"\x00", b"\x01", b"\x01\x02",
                                                              b"\x00\x01", b"\xff"]))
dates = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
leaves = st.one_of(numbers, strings, binaries, dates)
keys = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=8).map(to_key)


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


def bytes_cmp(a: bytes, b: bytes) -> int:
    return (a > b) - (a < b)


def same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@given(keys, keys)
def test_byte_order_is_key_order(a: object, b: object) -> None:
    assert bytes_cmp(encode_key(a), encode_key(b)) == compare_keys(a, b)


@given(keys)
def test_round_trip(key: object) -> None:
    data = encode_key(key)
    assert same(decode_key(data), key)
    decoded, end = decode_key_prefix(data)
    assert same(decoded, key) and end == len(data)


@given(keys)
def test_no_encoded_key_starts_with_ff(key: object) -> None:
    assert encode_key(key)[0] != 0xFF


@given(keys, keys, keys, keys)
def test_concatenations_compare_like_tuples(a1: object, b1: object, a2: object, b2: object) -> None:
    e1 = encode_key(a1) + encode_key(b1)
    e2 = encode_key(a2) + encode_key(b2)
    want = compare_keys(a1, a2) or compare_keys(b1, b2)
    assert bytes_cmp(e1, e2) == want


@given(keys, keys)
def test_concatenation_decodes_back_in_pieces(a: object, b: object) -> None:
    data = encode_key(a) + encode_key(b)
    first, end = decode_key_prefix(data)
    assert same(first, a) and end == len(encode_key(a))
    second, end2 = decode_key_prefix(data, end)
    assert same(second, b) and end2 == len(data)


@given(keys, keys, keys)
def test_upper_bound_is_just_past_every_entry_with_that_key(a: object, pk: object, c: object) -> None:
    bound = past(encode_key(a))
    assert bound == encode_key(a) + b"\xff"
    assert encode_key(a) < bound
    assert encode_key(a) + encode_key(pk) < bound
    order = compare_keys(c, a)
    if order > 0:
        assert encode_key(c) + encode_key(pk) > bound
    elif order < 0:
        assert encode_key(c) + encode_key(pk) < encode_key(a)


@pytest.mark.parametrize(
    "key",
    [0, 1, -1, 2**53 - 1, -(2**53 - 1), 2.0**53, -(2.0**53), 0.5, float("inf"), float("-inf"),
     5e-324, "", "a\x00b", "\x01",
     "\ud800", "\udfff\ud800", "\U0010ffff", b"", b"\x00\x01\xff", [], [[]], [1, ["a", b"b"]],
     datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
     datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)],
)
def test_round_trip_edge_cases(key: object) -> None:
    assert same(decode_key(encode_key(key)), key)


def test_negative_zero_encodes_as_zero() -> None:
    assert encode_key(-0.0) == encode_key(0) == encode_key(0.0)
    assert same(decode_key(encode_key(-0.0)), 0)


def test_decoded_numbers_normalize_like_to_key() -> None:
    assert same(decode_key(encode_key(3.0)), 3)
    assert same(decode_key(encode_key(2.0**60)), 2.0**60)


def test_strings_cost_one_byte_per_ascii_char_and_order_by_utf16() -> None:
    assert encode_key("abc") == b"\x30abc\x00"
    assert encode_key("\U00010000") < encode_key("\uffff")  # UTF-16 code unit order
    assert encode_key("\ud83d\ude00") == encode_key("\U0001f600")


def test_nul_and_prefix_strings_order() -> None:
    ordered = ["", "\x00", "\x00\x00", "\x00\x01", "\x01", "\x01\x00", "\x02", "a", "a\x00", "ab"]
    encoded = [encode_key(s) for s in ordered]
    assert encoded == sorted(encoded)
    assert len(set(encoded)) == len(encoded)


def test_unnormalized_input_is_normalized_or_rejected() -> None:
    assert encode_key((1.0, bytearray(b"x"))) == encode_key([1, b"x"])
    assert encode_key(datetime(2020, 1, 1)) == encode_key(datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(DataError):
        encode_key(True)
    with pytest.raises(DataError):
        encode_key(float("nan"))
    with pytest.raises(DataError):
        encode_key([None])


@pytest.mark.parametrize(
    "data",
    [b"", b"\x10\x00", b"\x30abc", b"\x50\x10", b"\x99", b"\xff", b"\x30\xff\x00"],
)
def test_corrupt_bytes_raise_unknown_error(data: bytes) -> None:
    with pytest.raises(UnknownError) as info:
        decode_key(data)
    assert info.value.name == "UnknownError"
    assert "corrupt" in str(info.value)


def test_trailing_bytes_are_rejected_by_decode_key() -> None:
    with pytest.raises(UnknownError) as info:
        decode_key(encode_key(1) + encode_key(2))
    assert "after the key" in str(info.value)
