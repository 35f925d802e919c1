"""pyidb.key_path: validation, extraction (with NO_KEY / INVALID_KEY), multiEntry, injection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyidb.errors import DataError, KeyPathSyntaxError
from pyidb.key_path import (
    INVALID_KEY,
    NO_KEY,
    check_key_injectable,
    extract_index_keys,
    extract_key,
    inject_key,
    is_valid_key_path,
    validate_key_path,
)

# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["", "id", "a.b", "a.b.c", "$", "_", "$a$", "_private", "länge", "名前", "a\u200d", "a\u200cb",
     "class", "length", "a1", "A.B1.$c"],
)
def test_valid_string_paths(path: str) -> None:
    assert validate_key_path(path) == path
    assert type(validate_key_path(path)) is str
    assert is_valid_key_path(path)


@pytest.mark.parametrize(
    "path",
    [" ", "a b", "a-b", "1a", "a.", ".a", "a..b", ".", "a.1", "a[0]", "\u200da", "a/b", "a.b ",
     "a\x00"],
)
def test_invalid_string_paths(path: str) -> None:
    with pytest.raises(KeyPathSyntaxError) as info:
        validate_key_path(path)
    assert info.value.name == "SyntaxError"
    assert repr(path) in str(info.value)
    assert "a key path is" in str(info.value)
    assert not is_valid_key_path(path)


def test_list_paths() -> None:
    assert validate_key_path(["a", "b.c"]) == ["a", "b.c"]
    assert validate_key_path(("a",)) == ["a"]
    assert type(validate_key_path(("a",))) is list
    assert validate_key_path(["", "a"]) == ["", "a"]  # "" is a valid item


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ([], "empty list"),
        ((), "empty list"),
        (["a", "b c"], "'b c'"),
        (["a", 1], "item 1"),
        ([["a"]], "item ['a']"),
        (None, "NoneType"),
        (1, "int"),
        ({"a": 1}, "dict"),
        (b"a", "bytes"),
    ],
)
def test_invalid_paths_of_other_shapes(path: object, fragment: str) -> None:
    with pytest.raises(KeyPathSyntaxError) as info:
        validate_key_path(path)
    assert info.value.name == "SyntaxError"
    assert fragment in str(info.value)
    assert "a key path is" in str(info.value)


# -- extraction ----------------------------------------------------------------------------------


def test_extract_simple_and_nested() -> None:
    value = {"id": 3.0, "author": {"name": "Ann", "born": None}, "tags": ["x", "y"]}
    assert extract_key(value, "id") == 3 and type(extract_key(value, "id")) is int
    assert extract_key(value, "author.name") == "Ann"
    assert extract_key(value, "tags") == ["x", "y"]
    assert extract_key(value, ["author.name", "id"]) == ["Ann", 3]


def test_empty_path_is_the_value_itself() -> None:
    assert extract_key(5, "") == 5
    assert extract_key((1, "a"), "") == [1, "a"]
    assert extract_key({"a": 1}, "") is INVALID_KEY


def test_missing_property_is_no_key() -> None:
    assert extract_key({}, "id") is NO_KEY
    assert extract_key({"a": {}}, "a.b") is NO_KEY
    assert extract_key({"a": 1}, ["a", "b"]) is NO_KEY


def test_path_through_a_non_dict_intermediate_is_no_key() -> None:
    assert extract_key({"a": 5}, "a.b") is NO_KEY
    assert extract_key({"a": "text"}, "a.b") is NO_KEY
    assert extract_key({"a": None}, "a.b") is NO_KEY
    assert extract_key({"a": [1, 2]}, "a.b") is NO_KEY
    assert extract_key({"a": b"xy"}, "a.length") is NO_KEY  # a Uint8Array has no own length
    assert extract_key(7, "a") is NO_KEY


def test_invalid_result_is_invalid_key() -> None:
    assert extract_key({"a": None}, "a") is INVALID_KEY
    assert extract_key({"a": True}, "a") is INVALID_KEY
    assert extract_key({"a": {"b": 1}}, "a") is INVALID_KEY
    assert extract_key({"a": float("nan")}, "a") is INVALID_KEY
    assert extract_key({"a": 1, "b": None}, ["a", "b"]) is INVALID_KEY
    # failure (NO_KEY) wins over invalid when both happen in a list path
    assert extract_key({"b": None}, ["b", "missing"]) is NO_KEY


def test_sentinels_are_falsy_and_named() -> None:
    assert not NO_KEY and not INVALID_KEY
    assert repr(NO_KEY) == "NO_KEY" and repr(INVALID_KEY) == "INVALID_KEY"


def test_length_of_strings_counts_utf16_code_units() -> None:
    assert extract_key({"s": "abc"}, "s.length") == 3
    assert extract_key({"s": ""}, "s.length") == 0
    assert extract_key({"s": "\U0001f600"}, "s.length") == 2  # one surrogate pair
    assert extract_key({"s": "é"}, "s.length") == 1
    assert extract_key("hello", "length") == 5


def test_length_of_lists_and_dicts() -> None:
    assert extract_key({"l": [1, 2, 3]}, "l.length") == 3
    assert extract_key({"d": {"length": 9}}, "d.length") == 9
    assert extract_key({"d": {}}, "d.length") is NO_KEY


def test_extracted_keys_are_normalized() -> None:
    when = datetime(2024, 1, 1, 12, 0, 0, 123456)
    assert extract_key({"t": when}, "t") == datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert extract_key({"k": (1.0, -0.0)}, "k") == [1, 0]


def test_extract_never_raises_on_cycles() -> None:
    cyclic: list = []
    cyclic.append(cyclic)
    assert extract_key({"a": cyclic}, "a") is INVALID_KEY


@given(st.dictionaries(st.sampled_from(["a", "b", "length"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3),
                                 st.lists(st.integers(), max_size=3)), max_size=3),
       st.sampled_from(["", "a", "b", "a.b", "a.length", "length", "b.length.x"]))
def test_extract_key_never_raises(value: dict, path: str) -> None:
    result = extract_key(value, path)
    assert result is NO_KEY or result is INVALID_KEY or result is not None


# -- index keys ----------------------------------------------------------------------------------


def test_index_keys_single_entry() -> None:
    assert extract_index_keys({"a": 1}, "a", False) == [1]
    assert extract_index_keys({"a": [1, 1]}, "a", False) == [[1, 1]]
    assert extract_index_keys({}, "a", False) == []
    assert extract_index_keys({"a": None}, "a", False) == []
    assert extract_index_keys({"a": 1, "b": "x"}, ["a", "b"], False) == [[1, "x"]]


def test_index_keys_multi_entry() -> None:
    value = {"tags": ["b", "a", "b", None, 1.0, 1, {"x": 1}, [2], [2.0], True]}
    assert extract_index_keys(value, "tags", True) == ["b", "a", 1, [2]]
    assert extract_index_keys({"tags": "solo"}, "tags", True) == ["solo"]
    assert extract_index_keys({"tags": None}, "tags", True) == []
    assert extract_index_keys({"tags": []}, "tags", True) == []
    assert extract_index_keys({}, "tags", True) == []


def test_multi_entry_skips_the_array_inside_itself() -> None:
    tags: list = ["a"]
    tags.append(tags)
    assert extract_index_keys({"tags": tags}, "tags", True) == ["a"]


def test_multi_entry_dedupes_equal_keys_of_different_spelling() -> None:
    value = {"t": ["\ud83d\ude00", "\U0001f600", -0.0, 0, b"x", bytearray(b"x")]}
    assert extract_index_keys(value, "t", True) == ["\U0001f600", 0, b"x"]


# -- injection -----------------------------------------------------------------------------------


def test_check_key_injectable() -> None:
    assert check_key_injectable({}, "id")
    assert check_key_injectable({}, "a.b.c")  # intermediates get created
    assert check_key_injectable({"a": {}}, "a.b")
    assert check_key_injectable({"a": {"b": {}}}, "a.b.c")
    assert not check_key_injectable({"a": "text"}, "a.b")  # a str cannot take a property
    assert not check_key_injectable({"a": 5}, "a.b")
    assert not check_key_injectable({"a": None}, "a.b.c")
    assert not check_key_injectable({"a": [1]}, "a.b")  # a Python list cannot either
    assert not check_key_injectable("text", "id")
    assert not check_key_injectable(5, "id")


def test_inject_key() -> None:
    value: dict = {"x": 1}
    inject_key(value, 7, "id")
    assert value == {"x": 1, "id": 7}
    nested: dict = {"a": {"keep": True}}
    inject_key(nested, 8, "a.b.c")
    assert nested == {"a": {"keep": True, "b": {"c": 8}}}


def test_inject_key_copies_list_keys() -> None:
    key = [1, [2]]
    value: dict = {}
    inject_key(value, key, "k")
    assert value["k"] == key and value["k"] is not key


def test_inject_then_extract_round_trips() -> None:
    value: dict = {"meta": {}}
    assert check_key_injectable(value, "meta.id")
    inject_key(value, 42, "meta.id")
    assert extract_key(value, "meta.id") == 42


def test_inject_into_non_dict_raises_data_error_not_type_error() -> None:
    with pytest.raises(DataError) as info:
        inject_key({"a": "text"}, 1, "a.b")
    assert info.value.name == "DataError"
