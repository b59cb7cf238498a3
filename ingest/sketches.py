"""HyperLogLog sketches of visitors, for the sealed days (ingest.services.seal_day) and the ranges
that read them (insights/selectors.py).

An anonId is hashed by Postgres (`hashtextextended(anon_id, 0)`, 64 bits): the first
PRECISION bits pick one of REGISTERS registers, which keeps the position of the first 1 in
the remaining bits (the rank), at its largest over the anonIds that picked it. Postgres
computes the registers of a set of rows (`registers_sql`); numpy merges sketches (the
register-wise maximum is the sketch of the union, so days add up without double counting a
visitor) and estimates the count.

The estimate is Ertl's ("New cardinality estimation algorithms for HyperLogLog sketches",
2017): unbiased from a handful of visitors to billions without correction tables, with a
relative standard error of about 1.04 / sqrt(REGISTERS).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

PRECISION = 18
REGISTERS = 1 << PRECISION
# Bits left after the register's: a rank is 1 to RANK_BITS + 1.
RANK_BITS = 64 - PRECISION
STANDARD_ERROR = 1.04 / math.sqrt(REGISTERS)


def registers_sql(anon_ids: str) -> str:
    """A statement returning (register, rank) for the anonIds of `anon_ids` (a query with an
    `anon_id` column): the highest rank per register that any of them has. `bigint::bit(n)`
    keeps the rightmost n bits; `position` finds the first 1 (0: none)."""
    return f"""
SELECT (h >> {RANK_BITS}) & {REGISTERS - 1} AS register,
       max(CASE WHEN position(B'1' IN h::bit({RANK_BITS})) = 0 THEN {RANK_BITS + 1}
                ELSE position(B'1' IN h::bit({RANK_BITS})) END) AS rank
FROM (SELECT hashtextextended(anon_id, 0) AS h FROM ({anon_ids}) AS rows) AS hashed
GROUP BY 1
"""


def sketch(rows: Iterable[tuple[int, int]]) -> np.ndarray:
    """The registers of (register, rank) rows, as registers_sql returns them."""
    registers = np.zeros(REGISTERS, dtype=np.uint8)
    found = np.array(list(rows), dtype=np.int64).reshape(-1, 2)
    registers[found[:, 0]] = found[:, 1]
    return registers


def from_bytes(stored: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(stored, dtype=np.uint8)


def union(sketches: Iterable[np.ndarray]) -> np.ndarray:
    """The sketch of the union of the sketches' sets."""
    merged = np.zeros(REGISTERS, dtype=np.uint8)
    for registers in sketches:
        np.maximum(merged, registers, out=merged)
    return merged


def _sigma(x: float) -> float:
    # x + sum over k >= 1 of x^(2^k) 2^(k-1): the weight of the empty registers.
    if x == 1:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    # The weight of the registers whose rank saturated (all RANK_BITS bits zero).
    if x in (0, 1):
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z == previous:
            return z / 3


def estimate(registers: np.ndarray) -> float:
    """How many distinct anonIds the sketch holds, estimated; 0 for an empty one."""
    counts = np.bincount(registers, minlength=RANK_BITS + 2).astype(float)
    m = float(REGISTERS)
    z = m * _tau(1 - counts[RANK_BITS + 1] / m)
    for rank in range(RANK_BITS, 0, -1):
        z = 0.5 * (z + counts[rank])
    z += m * _sigma(counts[0] / m)
    return m * m / (2 * math.log(2) * z)
