"""Numbers in JSON bodies are read as sent, or marked: never silently changed."""

import json
import uuid
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.json_numbers import (
    inexact_number,
    is_exact,
    mark_inexact_numbers,
    may_hold_inexact_numbers,
    parse_json,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=30)
# Number literals of every shape JSON allows: long, short, tiny, huge, signed, with exponents.
literals = st.builds(
    lambda sign, whole, fraction, exponent: (
        sign + (whole.lstrip("0") or "0") + (f".{fraction}" if fraction else "") + (exponent or "")
    ),
    st.sampled_from(["", "-"]),
    digits,
    st.none() | digits,
    st.none()
    | st.builds(
        lambda e, s, d: e + s + d,
        st.sampled_from("eE"),
        st.sampled_from(["", "+", "-"]),
        # Exponents Decimal can compare, for the check below; longer ones are cases of their own.
        st.text(alphabet="0123456789", min_size=1, max_size=6),
    ),
)
# What may stand around a number in a body, strings that look like numbers included.
neighbours = st.lists(
    st.sampled_from(
        ['"x"', '"550e8400-e29b-41d4-a716-446655440000"', '"1e400"', '"12345678901234567"', "1.5", "1764279999000"]
    ),
    max_size=3,
)


@settings(max_examples=500, deadline=None)
@given(literal=literals, before=neighbours, after=neighbours)
def test_a_number_that_cannot_be_read_exactly_is_always_marked(literal, before, after):
    body = f'{{"k": [{", ".join([*before, literal, *after])}]}}'.encode()
    value = parse_json(body)["k"][len(before)]
    if is_exact(literal):
        assert Decimal(repr(value)) == Decimal(literal)
    else:
        assert may_hold_inexact_numbers(body)
        shown = inexact_number(value)
        assert shown is not None and literal.startswith(shown.removesuffix("..."))
    # Its neighbours are read as they were.
    assert parse_json(body)["k"][: len(before)] == [json.loads(item) for item in before]


@pytest.mark.parametrize(
    ("literal", "exact"),
    [
        ("9223372036854775807", True),
        ("-9223372036854775808", True),
        ("18446744073709551615", True),
        ("18446744073709551616", False),
        ("-9223372036854775809", False),
        ("100000000000000000000000", True),
        ("0.1", True),
        ("0.30000000000000004", True),
        ("1.0000000000000000001", False),
        ("1e400", False),
        ("1e-400", False),
        ("0e400", True),
        ("-0.0", True),
        ("5e-324", True),
        ("2.5e-324", False),
        ("0e1000000000000000000", True),
        ("1e1000000000000000000", False),
        ("1e-1000000000000000000", False),
    ],
)
def test_exact_means_the_same_value_after_reading(literal, exact):
    assert is_exact(literal) is exact


def test_text_that_looks_like_a_number_is_left_alone():
    body = b'{"a": "1e400", "b": "x\\" 18446744073709551616 ", "c": ["\\\\", 18446744073709551616]}'
    assert parse_json(body) == {
        "a": "1e400",
        "b": 'x" 18446744073709551616 ',
        "c": ["\\", "\x00inexact number 18446744073709551616"],
    }


def test_an_sdk_batch_takes_the_fast_path():
    # Event ids are UUIDs ("550e8400-..." holds an exponent-like e8400) and times have 13 digits.
    for _ in range(200):
        batch = {
            "sentAt": 1764280000000,
            "batchId": str(uuid.uuid4()),
            "events": [{"id": str(uuid.uuid4()), "ts": 1764279999000, "props": {"price": 9.99}} for _ in range(20)],
            "movement": [{"ts": 1764279999100, "x": 120, "y": 300} for _ in range(50)],
        }
        assert not may_hold_inexact_numbers(orjson.dumps(batch))


def test_crafted_bodies_are_read_right():
    many_spots = b'{"a": "' + b"1e000 " * 40_000 + b'"}'
    assert may_hold_inexact_numbers(many_spots)
    assert mark_inexact_numbers(many_spots) is None
    many_numbers = b'{"a": [' + b"1234567890123456789012," * 10_000 + b"1]}"
    marked = orjson.loads(mark_inexact_numbers(many_numbers))["a"]
    assert len(marked) == 10_001
    assert {inexact_number(value) for value in marked[:-1]} == {"1234567890123456789012"}
    assert marked[-1] == 1
