"""Deterministic, weight-proportional assignment of an anonId to a variant."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeVar

from experiments.validation import WEIGHT_TOTAL

BUCKETS = 10_000
# 15 hex digits = 60 bits, so mapping them onto BUCKETS is uniform to within 1e-14.
HASH_HEX_DIGITS = 15


class WeightedVariant(Protocol):
    key: str
    weight: int


VariantT = TypeVar("VariantT", bound=WeightedVariant)


def bucket_of(*, experiment_key: str, anon_id: str) -> int:
    """The anonId's bucket in 0..BUCKETS-1 for this experiment.

    The experiment key is part of the hashed text, so the same person lands in unrelated
    buckets in different experiments instead of always in the first arm.
    """
    digest = hashlib.sha1(f"{experiment_key}.{anon_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:HASH_HEX_DIGITS], 16) * BUCKETS // 16**HASH_HEX_DIGITS


def variant_for_bucket(*, variants: Sequence[VariantT], bucket: int) -> VariantT:
    """Walk the cumulative weights: each variant owns weight/100 of the buckets, in order.

    A variant of weight 0 owns no bucket, so it is never chosen. The weights add up to
    WEIGHT_TOTAL (validated on every write), so every bucket has an owner.
    """
    upper = 0
    for variant in variants:
        upper += variant.weight * BUCKETS // WEIGHT_TOTAL
        if bucket < upper:
            return variant
    raise ValueError(f"the variants' weights add up to less than {WEIGHT_TOTAL}")
