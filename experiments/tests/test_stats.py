"""experiments.stats against textbook formulas (experiments.tests.reference) and known values."""

import math

import pytest

from experiments import stats
from experiments.tests.reference import (
    Z_95,
    chi_square_statistic,
    monte_carlo_chance,
    wald_interval,
    z_test_p_value,
)


def counts(c0: int, n0: int, c1: int, n1: int) -> dict[str, int]:
    return {"control_conversions": c0, "control_exposures": n0, "conversions": c1, "exposures": n1}


CASES = [
    (100, 1000, 130, 1000),
    (48, 500, 41, 520),
    (3, 40, 9, 35),
    (900, 1000, 930, 1000),
    (2, 10000, 9, 9000),
]


@pytest.mark.parametrize(("c0", "n0", "c1", "n1"), CASES)
def test_the_p_value_is_the_pooled_two_proportion_z_test(c0, n0, c1, n1):
    assert stats.two_proportion_p_value(**counts(c0, n0, c1, n1)) == pytest.approx(
        z_test_p_value(c0, n0, c1, n1), abs=1e-9
    )


@pytest.mark.parametrize(("c0", "n0", "c1", "n1"), CASES)
def test_the_interval_is_the_unpooled_wald_interval_of_the_difference(c0, n0, c1, n1):
    low, high = stats.difference_interval(**counts(c0, n0, c1, n1))
    expected_low, expected_high = wald_interval(c0, n0, c1, n1)
    assert low == pytest.approx(expected_low, abs=1e-9)
    assert high == pytest.approx(expected_high, abs=1e-9)


@pytest.mark.parametrize(
    ("c0", "n0", "c1", "n1"),
    [
        *CASES,
        (0, 1, 1, 1),
        (5, 5, 0, 3),
        # The closed-form sum runs over the smallest Beta parameter; one case for each:
        (12, 100, 4, 30),  # the variant's conversions
        (4, 30, 12, 100),  # the control's conversions
        (26, 30, 88, 100),  # the control's non-conversions
        (88, 100, 26, 30),  # the variant's non-conversions
    ],
)
def test_the_chance_to_beat_control_matches_a_million_draws_from_the_posteriors(c0, n0, c1, n1):
    chance = stats.chance_to_beat_control(**counts(c0, n0, c1, n1))
    assert chance == pytest.approx(monte_carlo_chance(c0, n0, c1, n1), abs=0.003)


def test_the_chance_to_beat_an_identical_control_is_one_half():
    assert stats.chance_to_beat_control(**counts(7, 100, 7, 100)) == pytest.approx(0.5, abs=1e-9)
    assert stats.chance_to_beat_control(**counts(0, 100, 0, 100)) == pytest.approx(0.5, abs=1e-9)


def test_the_chance_to_beat_control_stays_exact_for_large_counts():
    # Normal approximation of two Beta posteriors this large: accurate to far below 0.001.
    c0, n0, c1, n1 = 250_000, 500_000, 250_500, 500_000
    mean0, mean1 = (1 + c0) / (2 + n0), (1 + c1) / (2 + n1)
    var0 = mean0 * (1 - mean0) / (3 + n0)
    var1 = mean1 * (1 - mean1) / (3 + n1)
    expected = 0.5 * math.erfc(-(mean1 - mean0) / math.sqrt(var0 + var1) / math.sqrt(2))
    assert stats.chance_to_beat_control(**counts(c0, n0, c1, n1)) == pytest.approx(expected, abs=1e-4)


def test_the_uplift_is_relative_to_the_control_rate():
    assert stats.relative_uplift(**counts(100, 1000, 130, 1000)) == pytest.approx(0.3)
    assert stats.relative_uplift(**counts(100, 1000, 50, 1000)) == pytest.approx(-0.5)


@pytest.mark.parametrize(
    ("c0", "n0", "c1", "n1"),
    [(0, 100, 5, 100), (0, 0, 5, 100), (5, 100, 0, 0)],
)
def test_the_uplift_is_undefined_without_a_control_rate_or_exposures(c0, n0, c1, n1):
    assert stats.relative_uplift(**counts(c0, n0, c1, n1)) is None


@pytest.mark.parametrize(("c0", "n0", "c1", "n1"), [(0, 0, 5, 100), (5, 100, 0, 0), (0, 0, 0, 0)])
def test_every_comparison_is_undefined_when_an_arm_has_no_exposures(c0, n0, c1, n1):
    assert stats.two_proportion_p_value(**counts(c0, n0, c1, n1)) is None
    assert stats.difference_interval(**counts(c0, n0, c1, n1)) is None
    assert stats.chance_to_beat_control(**counts(c0, n0, c1, n1)) is None


@pytest.mark.parametrize(("c0", "n0", "c1", "n1"), [(0, 100, 0, 80), (100, 100, 80, 80)])
def test_the_p_value_and_interval_are_undefined_when_the_standard_error_is_zero(c0, n0, c1, n1):
    assert stats.two_proportion_p_value(**counts(c0, n0, c1, n1)) is None
    assert stats.difference_interval(**counts(c0, n0, c1, n1)) is None


def test_no_count_yields_nan_or_infinity():
    for n0 in range(4):
        for c0 in range(n0 + 1):
            for n1 in range(4):
                for c1 in range(n1 + 1):
                    given = counts(c0, n0, c1, n1)
                    values = [
                        stats.relative_uplift(**given),
                        stats.two_proportion_p_value(**given),
                        stats.chance_to_beat_control(**given),
                        *(stats.difference_interval(**given) or ()),
                        *(stats.rate_interval(c1, n1) or ()),
                        stats.sample_ratio_p_value([n0, n1], [50, 50]),
                    ]
                    assert all(value is None or math.isfinite(value) for value in values), given


def test_the_rate_is_zero_without_exposures():
    assert stats.conversion_rate(0, 0) == 0
    assert stats.conversion_rate(3, 12) == 0.25


@pytest.mark.parametrize(("conversions", "exposures"), [(0, 50), (13, 50), (50, 50), (120, 1000)])
def test_the_rate_interval_is_the_wilson_score_interval(conversions, exposures):
    p, n = conversions / exposures, exposures
    z = Z_95
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = stats.rate_interval(conversions, exposures)
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-9)
    assert high == pytest.approx(min(1.0, centre + half), abs=1e-9)
    assert 0 <= low <= p + 1e-12
    assert p - 1e-12 <= high <= 1


def test_the_srm_check_is_a_chi_square_goodness_of_fit_test():
    # One degree of freedom: the chi-square survival function is erfc(sqrt(x / 2)).
    observed, expected = [1000, 850], [925, 925]
    statistic = chi_square_statistic(observed, expected)
    assert stats.sample_ratio_p_value(observed, [50, 50]) == pytest.approx(
        math.erfc(math.sqrt(statistic / 2)), abs=1e-12
    )
    # Two degrees of freedom: exp(-x / 2); the expected split follows the weights.
    observed = [210, 290, 500]
    statistic = chi_square_statistic(observed, [200, 300, 500])
    assert stats.sample_ratio_p_value(observed, [20, 30, 50]) == pytest.approx(math.exp(-statistic / 2), abs=1e-12)


def test_the_srm_check_leaves_out_variants_of_weight_zero():
    assert stats.sample_ratio_p_value([500, 400, 510], [50, 0, 50]) == pytest.approx(
        stats.sample_ratio_p_value([500, 510], [50, 50])
    )


@pytest.mark.parametrize(
    ("exposures", "weights"),
    [([0, 0], [50, 50]), ([0, 0, 30], [50, 50, 0]), ([100, 3], [100, 0])],
)
def test_the_srm_check_is_undefined_without_exposures_or_a_second_weighted_variant(exposures, weights):
    assert stats.sample_ratio_p_value(exposures, weights) is None
