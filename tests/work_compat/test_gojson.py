"""Go encoding/json parity of the encoder: numbers, strings, maps, and what cannot be encoded."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from work_compat import EncodeError, gojson

# Values and the bytes Go writes for them (protocol §2.2 and P3; each checked against Go).
GO_FLOATS = [
    (2.0, "2"),
    (3.25, "3.25"),
    (-7.0, "-7"),
    (0.0, "0"),
    (-0.0, "-0"),
    (1e-7, "1e-7"),
    (0.000001, "0.000001"),
    (0.00001, "0.00001"),
    (1.5e300, "1.5e+300"),
    (1e21, "1e+21"),
    (1e20, "100000000000000000000"),
    (1e16, "10000000000000000"),
    (1.2345678901234567e19, "12345678901234567000"),
    (9007199254740993.0, "9007199254740992"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (123456789012345.6, "123456789012345.6"),
    (-1.5e-9, "-1.5e-9"),
]


@pytest.mark.parametrize(("value", "expected"), GO_FLOATS)
def test_floats_format_as_go(value: float, expected: str) -> None:
    assert gojson.format_float(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_round_trips_and_has_no_python_spelling(value: float) -> None:
    text = gojson.format_float(value)
    assert float(text) == value or (value == 0 and float(text) == 0)
    assert not text.endswith(".0") and "e-0" not in text and "e+0" not in text
    if value != 0 and 1e-6 <= abs(value) < 1e21:
        assert "e" not in text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_naming_the_argument(value: float) -> None:
    with pytest.raises(EncodeError) as err:
        gojson.dumps({"ok": 1, "bad": [1, value]})
    assert "args['bad'][1]" in str(err.value)


def test_strings_escape_as_go() -> None:
    s = 'tab\tnl\nquote"bs\\ <a>&\u2028\u2029 \b\f\x01\x7f héllo / 日本'
    assert gojson.encode_string(s) == (
        '"tab\\tnl\\nquote\\"bs\\\\ \\u003ca\\u003e\\u0026\\u2028\\u2029 \\b\\f\\u0001\x7f héllo / 日本"'
    )


def test_lone_surrogates_become_replacement_escapes_as_go_does_for_bad_utf8() -> None:
    assert gojson.dumps_bytes({"s": "a\ud800b"}) == b'{"s":"a\\ufffdb"}'


def test_maps_sort_keys_by_bytes_at_every_level() -> None:
    value = {"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "é": 1, "Z": None}, "": True}
    assert gojson.dumps(value) == '{"":true,"a":{"Z":null,"z":[3,{"x":2,"y":1}],"é":1},"b":1}'


class Custom:
    pass


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ({"s": {1, 2}}, "args['s']"),
        ({"b": b"bytes"}, "args['b']"),
        ({"o": Custom()}, "args['o']"),
        ({"deep": {"list": [1, {"x": object()}]}}, "args['deep']['list'][1]['x']"),
        ({"k": {1: "int key"}}, "args['k']"),
    ],
)
def test_values_json_cannot_carry_are_refused_with_their_path(args: dict[str, Any], path: str) -> None:
    with pytest.raises(EncodeError) as err:
        gojson.dumps(args)
    assert path in str(err.value)


def test_subclasses_encode_as_their_base_types() -> None:
    import enum
    from collections import OrderedDict

    class Color(str, enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    assert (
        gojson.dumps(OrderedDict([("b", Level.HIGH), ("a", Color.RED), ("t", (1, 2))])) == '{"a":"red","b":3,"t":[1,2]}'
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_output_is_json_that_parses_back_to_the_value(value: Any) -> None:
    text = gojson.dumps(value).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    assert _same(json.loads(text), value)
    for ch in "<>&\u2028\u2029":
        assert ch not in text


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, float) or isinstance(a, float):
        return float(a) == float(b)
    if isinstance(b, dict):
        return set(a) == {k.encode("utf-8", "replace").decode("utf-8", "replace") for k in b} or len(a) == len(b)
    if isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(b, str):
        return a == b.encode("utf-8", "replace").decode("utf-8", "replace") or "\ufffd" in a
    return bool(a == b)


def test_a_negative_zero_reads_back_as_one() -> None:
    """Go holds ``-0`` as a float64 negative zero and writes it back as ``-0``; a Python int would not."""
    value = gojson.loads('{"a": -0, "b": [-0, 0], "c": "-0", "d": -0.0}')
    assert gojson.encode_value(value) == '{"a":-0,"b":[-0,0],"c":"-0","d":-0}'
