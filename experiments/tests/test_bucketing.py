"""Bucketing: deterministic, proportional to the weights, independent across experiments."""

import hashlib
from collections import Counter

import pytest
from scipy.stats import chi2_contingency, chisquare

from experiments.bucketing import BUCKETS, bucket_of, variant_for_bucket
from experiments.validation import VariantSpec

ANON_IDS = [f"anon-{index}" for index in range(20_000)]


def assign_all(variants: list[VariantSpec], experiment_key: str = "checkout") -> Counter:
    return Counter(
        variant_for_bucket(variants=variants, bucket=bucket_of(experiment_key=experiment_key, anon_id=anon)).key
        for anon in ANON_IDS
    )


def test_the_bucket_comes_from_sha1_of_the_experiment_key_and_the_anon_id():
    digest = hashlib.sha1(b"checkout.a1").hexdigest()
    assert bucket_of(experiment_key="checkout", anon_id="a1") == int(digest[:15], 16) * 10_000 // 16**15


def test_every_anon_id_lands_in_one_of_the_buckets():
    buckets = {bucket_of(experiment_key="checkout", anon_id=anon) for anon in ANON_IDS}
    assert min(buckets) >= 0
    assert max(buckets) < BUCKETS
    assert len(buckets) > 8000  # spread over nearly all of them, not a few


@pytest.mark.parametrize("weights", [(50, 50), (20, 30, 50), (90, 10), (1, 99)])
def test_assignments_follow_the_weights(weights):
    variants = [VariantSpec(key=f"v{index}", weight=weight) for index, weight in enumerate(weights)]
    seen = assign_all(variants)
    observed = [seen[variant.key] for variant in variants]
    expected = [len(ANON_IDS) * weight / 100 for weight in weights]
    # A hypothesis test, not exact counts: the split is random-looking, not a quota.
    assert chisquare(observed, expected).pvalue > 0.001


def test_a_variant_of_weight_zero_is_never_assigned():
    variants = [VariantSpec("control", 50), VariantSpec("off", 0), VariantSpec("b", 50)]
    seen = assign_all(variants)
    assert seen["off"] == 0
    assert seen["control"] + seen["b"] == len(ANON_IDS)


def test_two_experiments_split_the_same_people_independently():
    variants = [VariantSpec("control", 50), VariantSpec("b", 50)]
    pairs = Counter(
        (
            variant_for_bucket(variants=variants, bucket=bucket_of(experiment_key="checkout", anon_id=anon)).key,
            variant_for_bucket(variants=variants, bucket=bucket_of(experiment_key="pricing", anon_id=anon)).key,
        )
        for anon in ANON_IDS
    )
    table = [[pairs["control", "control"], pairs["control", "b"]], [pairs["b", "control"], pairs["b", "b"]]]
    assert chi2_contingency(table).pvalue > 0.001


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [(0, "a"), (2999, "a"), (3000, "c"), (9999, "c")],
)
def test_each_variant_owns_its_share_of_the_buckets_in_order(bucket, expected):
    variants = [VariantSpec("a", 30), VariantSpec("b", 0), VariantSpec("c", 70)]
    assert variant_for_bucket(variants=variants, bucket=bucket).key == expected
