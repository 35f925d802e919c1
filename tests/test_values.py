"""pyidb.values: what a stored value becomes (structured clone rules + the tagged JSON codec)."""

from __future__ import annotations

import enum
import json
import math
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyidb.errors import DataCloneError, UnknownError
from pyidb.values import MAX_DEPTH, clone, decode, dumps, encode, loads, loads_many


def roundtrip(value: Any) -> Any:
    return decode(encode(*clone(value)))


def same(a: Any, b: Any) -> bool:
    """Equality that also holds NaN == NaN and checks exact types (True is not 1, 2 is not 2.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


class Color(str, enum.Enum):  # noqa: UP042 - on purpose: its str() is "Color.RED", not "red"
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Ratio(float):
    pass


# --- normalization ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (False, False),
        (0, 0),
        (-7, -7),
        (2**53 - 1, 2**53 - 1),
        (-(2**53) + 1, -(2**53) + 1),
        (2**53, 2**53),  # an int, stored as a BigInt
        ((1, 2.0, -0.0), [1, 2, 0]),
        (1.5, 1.5),
        (float(2**53 - 1), 2**53 - 1),
        (2.0**53, 2.0**53),  # integral but not a safe integer: Pyodide's to_py gives a float
        (2.0**60, 2.0**60),
        (1e300, 1e300),
        ("", ""),
        ("héllo ✓ 😀", "héllo ✓ 😀"),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"xyz")[1:], b"yz"),
        ([], []),
        ({}, {}),
        ({"a": [1, {"b": (2, 3)}]}, {"a": [1, {"b": [2, 3]}]}),
        (Color.RED, "red"),
        (Level.HIGH, 3),
        (Ratio(2.5), 2.5),
        (Ratio(4.0), 4),
        ({Color.RED: 1}, {"red": 1}),
    ],
)
def test_round_trip_gives_the_normalized_value(value: Any, expected: Any) -> None:
    copy, _ = clone(value)
    assert same(copy, expected)
    assert same(roundtrip(value), expected)


def test_bool_stays_bool_and_is_not_int() -> None:
    assert roundtrip([True, 1, False, 0]) == [True, 1, False, 0]
    assert [type(x) for x in roundtrip([True, 1, False, 0])] == [bool, int, bool, int]


def test_special_floats_round_trip() -> None:
    out = roundtrip([math.nan, math.inf, -math.inf])
    assert math.isnan(out[0])
    assert out[1:] == [math.inf, -math.inf]
    assert clone(math.nan)[1] and clone(math.inf)[1] and clone(-math.inf)[1]


def test_negative_zero_becomes_zero_int() -> None:
    copy, _ = clone(-0.0)
    assert copy == 0 and type(copy) is int and math.copysign(1, copy) == 1


@pytest.mark.parametrize(
    "n", [2**53, -(2**53), 2**53 + 1, 2**64, -(10**40), 10**5000, -(7**9000)],
    ids=["2**53", "-2**53", "2**53+1", "2**64", "-10**40", "10**5000", "-7**9000"],
)
def test_big_ints_round_trip_exactly_with_a_tag(n: int) -> None:
    copy, needs_tags = clone({"n": n})
    assert needs_tags
    text = dumps(copy, needs_tags)
    assert '"$t":"bigint"' in text
    assert roundtrip({"n": n}) == {"n": n}


def test_small_ints_need_no_tags() -> None:
    assert clone([2**53 - 1, -(2**53) + 1, 0])[1] is False


def test_naive_datetime_is_taken_as_utc_and_truncated_to_ms() -> None:
    out = roundtrip(datetime(2024, 2, 29, 12, 30, 1, 123999))
    assert out == datetime(2024, 2, 29, 12, 30, 1, 123000, tzinfo=UTC)
    assert out.tzinfo is not None and out.utcoffset() == timedelta(0)


def test_aware_datetime_is_converted_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    out = roundtrip(datetime(2024, 1, 1, 1, 0, tzinfo=plus2))
    assert out == datetime(2023, 12, 31, 23, 0, tzinfo=UTC)
    assert out.utcoffset() == timedelta(0)


@pytest.mark.parametrize("dt", [datetime(1, 1, 1), datetime(1969, 12, 31, 23, 59, 59, 999999),
                                datetime(9999, 12, 31, 23, 59, 59, 999000)])
def test_datetime_extremes_and_pre_epoch(dt: datetime) -> None:
    expected = dt.replace(microsecond=dt.microsecond // 1000 * 1000, tzinfo=UTC)
    assert roundtrip(dt) == expected


def test_date_tag_is_ms_since_epoch() -> None:
    text = dumps(*clone(datetime(1970, 1, 1, 0, 0, 1, 500000)))
    assert json.loads(text) == {"$t": "date", "v": 1500}


def test_bytes_tag_is_base64() -> None:
    assert json.loads(dumps(*clone(b"hi"))) == {"$t": "bytes", "v": "aGk="}


def test_lone_surrogates_survive_storage() -> None:
    for s in ["\ud800", "a\udfffb", "\udc00\ud800"]:  # the last is low-then-high: not a pair
        copy, _ = clone({s: s})
        assert roundtrip({s: s}) == {s: s} == copy


def test_adjacent_surrogate_halves_are_joined_as_js_would() -> None:
    # a JS string is UTF-16: these two code units are one character there, so they come back joined
    assert roundtrip(["\ud83d\ude00"]) == ["😀"]
    assert clone({"\ud83d\ude00": 1})[0] == {"😀": 1}


def test_str_subclass_is_stored_as_its_value_not_its_str() -> None:
    copy, _ = clone(Color.RED)
    assert copy == "red" and type(copy) is str
    key_copy, _ = clone({Color.RED: Level.HIGH})
    assert [type(k) for k in key_copy] == [str] and type(key_copy["red"]) is int


# --- "$t" collisions -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "value",
    [
        {"$t": "bytes", "v": "AAAA"},
        {"$t": "obj", "v": []},
        {"$t": 1},
        {"a": {"$t": "date", "v": 0, "x": b"\x01"}},
        [{"$t": {"$t": "num", "v": "NaN"}}],
        {"$t": "x", "inner": {"$t": "y"}},
    ],
)
def test_user_dicts_with_a_dollar_t_key_round_trip(value: Any) -> None:
    copy, needs_tags = clone(value)
    assert needs_tags
    assert roundtrip(value) == value
    assert loads(dumps(copy, needs_tags)) == value


def test_dollar_t_key_keeps_its_position() -> None:
    assert list(roundtrip({"a": 1, "$t": 2, "b": 3})) == ["a", "$t", "b"]


def test_string_value_dollar_t_takes_slow_path_but_stays_a_string() -> None:
    assert roundtrip({"k": "$t", "v": '"$t"'}) == {"k": "$t", "v": '"$t"'}


# --- DataCloneError cases --------------------------------------------------------------------

class Thing:
    pass


@pytest.mark.parametrize(
    ("value", "where", "words"),
    [
        ({"a": [1, 2, {3}]}, "value['a'][2]", "a set cannot be stored; use a list"),
        (frozenset(), "value", "frozenset"),
        ([date(2024, 1, 1)], "value[0]", "date"),
        ({"t": time(1, 2)}, "value['t']", "time"),
        ({"d": Decimal("1.5")}, "value['d']", "Decimal"),
        (1 + 2j, "value", "complex"),
        ([Thing()], "value[0]", "Thing"),
        ({"f": len}, "value['f']", "builtin_function_or_method"),
        ([lambda: 1], "value[0]", "function"),
        ({"x": {1: "a"}}, "value['x']", "dict key must be a str"),
        ({(1, 2): "a"}, "value", "dict key must be a str"),
        (range(3), "value", "range"),
        ({"m": {"a": object()}}, "value['m']['a']", "object"),
    ],
)
def test_unstorable_values_raise_data_clone_error(value: Any, where: str, words: str) -> None:
    with pytest.raises(DataCloneError) as info:
        clone(value)
    assert info.value.name == "DataCloneError"
    message = str(info.value)
    assert message.startswith(where + ":"), message
    assert words in message


def test_cycles_are_refused_with_their_path() -> None:
    a: list[Any] = [1]
    a.append({"self": a})
    with pytest.raises(DataCloneError) as info:
        clone(a)
    assert info.value.name == "DataCloneError"
    assert str(info.value).startswith("value[1]['self']:") and "cycle" in str(info.value)

    d: dict[str, Any] = {}
    d["me"] = d
    with pytest.raises(DataCloneError, match="cycle"):
        clone({"x": [d]})


def test_shared_but_acyclic_references_are_fine() -> None:
    shared = [1, 2]
    assert roundtrip([shared, shared, {"s": shared}]) == [[1, 2], [1, 2], {"s": [1, 2]}]


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def unnest(value: Any) -> tuple[int, Any]:
    """(levels, leaf) of a nested() value, without recursion (== on it would hit the limit)."""
    levels = 0
    while isinstance(value, list | dict):
        assert len(value) == 1
        value = value[0] if isinstance(value, list) else value["k"]
        levels += 1
    return levels, value


def test_nesting_up_to_the_limit_round_trips() -> None:
    value = nested(MAX_DEPTH)
    assert unnest(roundtrip(value)) == (MAX_DEPTH, "leaf")
    copy, tags = clone(value)
    many = loads_many([encode(copy, tags), encode(copy, tags)])
    assert [unnest(v) for v in many] == [(MAX_DEPTH, "leaf")] * 2


def test_nesting_beyond_the_limit_is_a_data_clone_error_not_recursion_error() -> None:
    with pytest.raises(DataCloneError) as info:
        clone(nested(MAX_DEPTH + 1))
    assert info.value.name == "DataCloneError" and "deeper than 1000" in str(info.value)
    with pytest.raises(DataCloneError, match="deeper"):
        clone(nested(50_000))


def test_deep_values_work_even_when_the_caller_is_deep_in_the_stack() -> None:
    def at_depth(n: int) -> Any:
        return roundtrip(nested(MAX_DEPTH)) if n == 0 else at_depth(n - 1)

    assert unnest(at_depth(800)) == (MAX_DEPTH, "leaf")


def test_bad_datetime_tzinfo_is_a_data_clone_error() -> None:
    class Broken(tzinfo):
        def utcoffset(self, dt: Any) -> timedelta:
            raise RuntimeError("boom")

    with pytest.raises(DataCloneError, match="UTC"):
        clone({"d": datetime(2024, 1, 1, tzinfo=Broken())})


# --- copy independence -----------------------------------------------------------------------

def test_clone_is_independent_of_the_input() -> None:
    tags = ["a"]
    value: dict[str, Any] = {"tags": tags, "inner": {"n": 1}, "t": ([1],)}
    copy, _ = clone(value)
    tags.append("b")
    value["inner"]["n"] = 2
    value["t"][0][0] = 9
    value["new"] = 1
    assert copy == {"tags": ["a"], "inner": {"n": 1}, "t": [[1]]}


def test_clone_of_a_bytearray_does_not_follow_later_changes() -> None:
    buf = bytearray(b"ab")
    copy, _ = clone([buf])
    buf[0] = 0
    assert copy == [b"ab"]


def test_decode_returns_fresh_objects() -> None:
    data = encode(*clone({"a": [1]}))
    first = decode(data)
    first["a"].append(2)
    assert decode(data) == {"a": [1]}
    many = loads_many([data])
    many[0]["a"].clear()
    assert loads_many([data]) == [{"a": [1]}]


# --- codec details ---------------------------------------------------------------------------

def test_dumps_is_compact_and_keeps_non_ascii() -> None:
    assert dumps(*clone({"a": [1, "é"]})) == '{"a":[1,"é"]}'
    assert dumps(*clone({"a": "é\ud800"}), ensure_ascii=True) == '{"a":"\\u00e9\\ud800"}'


def test_loads_accepts_str_and_bytes() -> None:
    assert loads('{"a":{"$t":"bytes","v":"AA=="}}') == {"a": b"\x00"}
    assert loads(b'["\xed\xa0\x80"]') == ["\ud800"]  # a lone surrogate in surrogatepass UTF-8


def test_loads_many_mixes_tagged_and_plain_records() -> None:
    records = [{"id": 1}, {"id": 2, "b": b"x"}, [math.inf], "s", None, 2**70]
    encoded = [encode(*clone(r)) for r in records]
    assert loads_many(encoded) == records
    assert loads_many([e.decode("utf-8") for e in encoded]) == records
    assert loads_many([]) == []


def test_js_written_numbers_beyond_2_53_stay_float() -> None:
    # JS writes 2**60 as a num tag with decimal text: Python's json would read the bare digits as int
    out = loads('[{"$t":"num","v":"1152921504606847000"},{"$t":"num","v":"-1e+300"}]')
    assert out == [2.0**60, -1e300] and all(type(x) is float for x in out)


@pytest.mark.parametrize(
    "text",
    [
        '{"$t":"bytes"}',
        '{"$t":"bytes","v":"!!"}',
        '{"$t":"bytes","v":1}',
        '{"$t":"date","v":"x"}',
        '{"$t":"num","v":"lots"}',
        '{"$t":"bigint","v":"1.5"}',
        '{"$t":"bigint","v":" 1"}',
        '{"$t":"obj","v":{"a":1}}',
        '{"$t":"obj","v":[["a"]]}',
        '{"$t":"what","v":1}',
        '{"$t":"bytes","v":"AA==","extra":1}',
    ],
)
def test_malformed_tags_raise_unknown_error(text: str) -> None:
    with pytest.raises(UnknownError) as info:
        loads(text)
    assert info.value.name == "UnknownError" and "malformed" in str(info.value)


def test_corrupt_data_raises_unknown_error() -> None:
    with pytest.raises(UnknownError, match="not valid JSON"):
        decode(b'{"a":')
    with pytest.raises(UnknownError, match="not UTF-8"):
        decode(b"\xff")


def test_date_outside_python_range_is_a_data_clone_error() -> None:
    with pytest.raises(DataCloneError, match="datetime range"):
        loads('{"$t":"date","v":8640000000000000}')


def test_nothing_read_can_run_code() -> None:
    # the codec only knows json; text that looks like Python is just a string
    assert loads('"__import__(\'os\').system(\'false\')"') == "__import__('os').system('false')"


# --- property: any storable value round trips to its clone -----------------------------------

def normalized(v: Any) -> Any:
    """The documented mapping, written independently of values.py."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 2**53:
            return int(v)
        return v
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        v = v.astimezone(UTC)
        return v.replace(microsecond=v.microsecond // 1000 * 1000)
    if isinstance(v, list | tuple):
        return [normalized(x) for x in v]
    return {k: normalized(x) for k, x in v.items()}


# surrogates are left out here: adjacent halves are joined on purpose (tested above)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.sampled_from([math.inf, -math.inf, -0.0, 2.0**53 - 1, 2.0**53, 2.0**53 + 2, 2**53 - 1, 2**53])
    | text
    | st.binary(max_size=8)
    | st.datetimes(
        datetime(2, 1, 1),
        datetime(9998, 1, 1),
        timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=-5))),
    )
)
storable = st.recursive(
    leaves,
    lambda kids: st.lists(kids, max_size=4)
    | st.lists(kids, max_size=3).map(tuple)
    | st.dictionaries(text | st.just("$t") | st.just("v"), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(storable)
def test_any_storable_value_round_trips(value: Any) -> None:
    expected = normalized(value)
    copy, needs_tags = clone(value)
    assert same(copy, expected)
    assert same(decode(encode(copy, needs_tags)), expected)
    assert same(loads_many([encode(copy, needs_tags)] * 2), [expected, expected])
    if not needs_tags:
        assert '"$t"' not in dumps(copy, needs_tags) or "$t" in repr(value)
        assert same(json.loads(dumps(copy, needs_tags)), expected)  # plain JSON really is enough


def test_hostile_bigint_text_is_bounded() -> None:
    # A file may hold any text: a huge bigint must not take minutes to read (it did: quadratic).
    import time as clock

    start = clock.monotonic()
    with pytest.raises(UnknownError, match="malformed tag"):
        loads('{"$t":"bigint","v":"' + "9" * 10**7 + '"}')
    assert clock.monotonic() - start < 30  # a hang guard, not a speed assertion (was > 40 s)
    big = 7**40_000  # 33,802 digits: several chunks, split in halves on the way back
    assert loads(dumps(*clone(big))) == big and loads(dumps(*clone(-big))) == -big
    assert loads('{"$t":"bigint","v":"' + "9" * 10**6 + '"}') == 10**10**6 - 1  # the bound


def test_too_large_int_is_not_storable() -> None:
    with pytest.raises(DataCloneError, match="bits cannot be stored"):
        clone(1 << 3_300_001)
