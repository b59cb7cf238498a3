"""Input rules of experiments, shared by the API, the Django admin and the command line."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from analytics.errors import invalid_field

# Keys travel in URL paths and SDK code; '.' is left out because the bucketing hash joins
# the experiment key and the anonId with one.
KEY_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"
KEY_RULE = "1 to 64 letters, digits, '-' or '_', starting with a letter or digit"
WEIGHT_TOTAL = 100
MIN_VARIANTS = 2
MAX_VARIANTS = 20
MAX_ANON_ID_LENGTH = 128
MAX_GOAL_LENGTH = 64
# The largest sequential tuning parameter N* a Postgres integer holds.
MAX_SEQUENTIAL_TUNING = 2_147_483_647

_key_pattern = re.compile(KEY_REGEX)


@dataclass(frozen=True)
class VariantSpec:
    key: str
    weight: int


def is_valid_key(value: Any) -> bool:
    return isinstance(value, str) and _key_pattern.match(value) is not None


def clean_key(value: Any, *, field: str = "key") -> str:
    if not is_valid_key(value):
        raise invalid_field(field, f"must be {KEY_RULE}")
    return value


def clean_identifier(value: Any, *, field: str, max_length: int) -> str:
    """A client-made identifier (anonId, goal): a string of 1..max_length characters.

    NUL is refused because Postgres text cannot hold it.
    """
    if value is None:
        raise invalid_field(field, "is required")
    if not isinstance(value, str) or not 1 <= len(value) <= max_length or "\x00" in value:
        raise invalid_field(field, f"must be a string of 1 to {max_length} characters, without NUL")
    return value


def _clean_weight(value: Any, *, field: str) -> int:
    # bool is an int subclass, and "50" or 50.0 are not what the caller meant to be sure of.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= WEIGHT_TOTAL:
        raise invalid_field(field, f"must be an integer from 0 to {WEIGHT_TOTAL}")
    return value


def validate_variants(variants: list[tuple[Any, Any]]) -> list[VariantSpec]:
    """(key, weight) pairs in order, the first being the control, checked as a whole.

    At least two and at most MAX_VARIANTS, distinct keys, integer weights 0..100 adding up
    to 100. Raises ApiError 400 invalid_field naming the offending entry.
    """
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise invalid_field(
            "variants", f"give from {MIN_VARIANTS} to {MAX_VARIANTS} variants, the first being the control"
        )
    specs: list[VariantSpec] = []
    seen: set[str] = set()
    for index, (key, weight) in enumerate(variants):
        key = clean_key(key, field=f"variants[{index}].key")
        if key in seen:
            raise invalid_field(f"variants[{index}].key", f"{key!r} is used twice; variant keys must differ")
        seen.add(key)
        specs.append(VariantSpec(key=key, weight=_clean_weight(weight, field=f"variants[{index}].weight")))
    total = sum(spec.weight for spec in specs)
    if total != WEIGHT_TOTAL:
        raise invalid_field("variants", f"the weights add up to {total}; they must add up to {WEIGHT_TOTAL}")
    return specs


def clean_sequential_tuning(value: Any, *, field: str = "sequentialTuning") -> int:
    """N*: a whole number of exposures, at least 1 (true, 5000.0 and "5000" are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQUENTIAL_TUNING:
        raise invalid_field(field, f"must be a whole number of exposures from 1 to {MAX_SEQUENTIAL_TUNING}")
    return value


def clean_mde(value: Any, *, field: str = "mde") -> float:
    """The minimum detectable relative effect: a finite number above 0 (0.1 means 10%)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise invalid_field(field, "must be a number above 0, the relative change to detect (0.1 means 10%)")
    return float(value)


def clean_primary_goal(value: Any, *, field: str = "primaryGoal") -> str | None:
    """A goal name, or None for no primary goal."""
    return None if value is None else clean_identifier(value, field=field, max_length=MAX_GOAL_LENGTH)
