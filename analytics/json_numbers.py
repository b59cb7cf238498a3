"""JSON bodies whose numbers are read as sent, or marked where that is not possible.

orjson reads an integer beyond 64 bits as a double and a decimal into the nearest double, so a
number stored from it may differ from the one sent (2**64 as 18446744073709552000, 1e-400 as
0), and it refuses a whole body for one number beyond a double's range (1e400). parse_json
reads the body with orjson and, where such a number stands, puts a string naming it
(INEXACT_NUMBER ...), so that the item holding it is refused and the rest of the body is not.

Every number a 64-bit integer or double may not hold has 16 digits or more, or an exponent of
3 digits or more: any other lies in a double's normal range with at most 15 significant
digits, which a double holds. Every body is checked for those, so the check works on a copy
made by one translate, with substring searches, what Python does fast. In that copy (the
shape) a digit or point is 0, e and E are e, + and - are -, other letters are a, and all that
may border a number is a space. Only a body that may hold such a number (a false alarm is
digits in a string) takes the exact pass, which is linear in the body's length too.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

_SHAPES = {**dict.fromkeys(b"0123456789.", b"0"), **dict.fromkeys(b"eE", b"e"), **dict.fromkeys(b"+-", b"-")}
_SHAPE = bytes(
    _SHAPES.get(byte, b"a" if chr(byte).isalpha() or byte == ord("_") or byte >= 0x80 else b" ")[0]
    for byte in range(256)
)
_SIXTEEN_DIGITS = b"0" * 16
# An exponent of 3 digits or more that ends a token; its search starts with a letter, which
# Python's regular expressions find fast.
_LONG_EXPONENT = re.compile(rb"e-?000+(?![-0ae])")
# Before the e of a number not caught by its digits: 15 digits at most, a point and a sign.
_REACH = 20
_EXPONENT_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?[eE][+-]?\d+")
# Beyond so many exponent-like spots (a crafted body) the exact pass decides.
_MAX_EXPONENT_SPOTS = 64

# In the shape: a whole token of number characters with 16 digits or a long exponent in it.
_SUSPECT = re.compile(rb"(?<![-0ea])[-0e]*?(?:0{16}|e-?000)[-0e]*(?![-0ea])")
# JSON's grammar for a number; one that ends a value (a key is left alone, so marking one
# never turns a body that is not JSON into JSON).
_JSON_NUMBER = re.compile(rb"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ENDS_VALUE = re.compile(rb"[ \t\r\n]*[,\]}]")
# With every escaped character made two plain ones, each quote left opens or closes a string.
_ESCAPED = re.compile(rb"\\.", re.DOTALL)

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1
# What such a number is read as: a string that names it, for the item's reason. Every field
# check refuses it anyway: it holds a NUL character, which no stored text may.
INEXACT_NUMBER = "\x00inexact number "
_SHOWN = 24


def is_exact(token: str) -> bool:
    """Whether the number reads as itself: an integer within 64 bits, or a double whose
    shortest decimal form has the same value (0.1 does; 2**64 and 1e400 do not)."""
    if token.lstrip("-").isdigit() and len(token) <= 21 and INT64_MIN <= int(token) <= UINT64_MAX:
        return True
    number = float(token)
    if not math.isfinite(number):
        return False
    if number == 0:
        mantissa = token.partition("e")[0].partition("E")[0]
        return not mantissa.strip("-.0")
    try:
        return Decimal(repr(number)) == Decimal(token)
    except InvalidOperation:  # an exponent beyond Decimal's, which no double holds either
        return False


def may_hold_inexact_numbers(body: bytes) -> bool:
    shape = body.translate(_SHAPE)
    if _SIXTEEN_DIGITS in shape:
        return True
    for spots, spot in enumerate(_LONG_EXPONENT.finditer(shape)):
        if spots == _MAX_EXPONENT_SPOTS:
            return True
        # The whole token, when it is short enough to be such a number: "550e8400-e29b-..."
        # (a UUID) is one token, and no number.
        at = spot.start()
        start = shape.rfind(b" ", max(0, at - _REACH), at) + 1
        if (start or at <= _REACH) and _EXPONENT_NUMBER.fullmatch(body, start, spot.end()):
            return True
    return False


def _marker(token: bytes) -> bytes:
    shown = token[:_SHOWN].decode() + ("..." if len(token) > _SHOWN else "")
    return orjson.dumps(INEXACT_NUMBER + shown)


def mark_inexact_numbers(body: bytes) -> bytes | None:
    """The body with each number it cannot hold exactly replaced by an INEXACT_NUMBER string;
    None when there is none."""
    shape = body.translate(_SHAPE)
    plain = _ESCAPED.sub(b"__", body)
    pieces: list[bytes] = []
    done = counted = 0
    in_string = False
    for suspect in _SUSPECT.finditer(shape):
        start, end = suspect.span()
        in_string ^= plain.count(b'"', counted, start) % 2 == 1
        counted = start
        if (
            in_string
            or not _JSON_NUMBER.fullmatch(body, start, end)
            or not _ENDS_VALUE.match(body, end)
            or is_exact(body[start:end].decode())
        ):
            continue
        pieces += [body[done:start], _marker(body[start:end])]
        done = end
    if not pieces:
        return None
    pieces.append(body[done:])
    return b"".join(pieces)


def inexact_number(value: Any) -> str | None:
    """The number as sent, where the body held one that cannot be stored exactly."""
    if type(value) is str and value.startswith(INEXACT_NUMBER):
        return value[len(INEXACT_NUMBER) :]
    return None


def parse_json(body: bytes) -> Any:
    """The body read by orjson, with INEXACT_NUMBER strings where it held numbers that cannot
    be read exactly. Raises orjson.JSONDecodeError for a body that is not JSON."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        marked = mark_inexact_numbers(body) if may_hold_inexact_numbers(body) else None
        if marked is None:
            raise
        try:
            return orjson.loads(marked)
        except orjson.JSONDecodeError:
            raise error from None  # what is wrong with the body as sent
    if not may_hold_inexact_numbers(body):
        return data
    marked = mark_inexact_numbers(body)
    return data if marked is None else orjson.loads(marked)
