"""experiments.stats against textbook formulas (experiments.tests.reference) and known values."""

import math

import numpy as np
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
                    sequential = stats.sequential_difference(**given)
                    values = [
                        stats.relative_uplift(**given),
                        stats.two_proportion_p_value(**given),
                        stats.chance_to_beat_control(**given),
                        *(stats.difference_interval(**given) or ()),
                        *(stats.rate_interval(c1, n1) or ()),
                        stats.sample_ratio_p_value([n0, n1], [50, 50]),
                        *((*sequential.ci95, sequential.p_value) if sequential else ()),
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


def test_the_sample_size_is_the_contracts_formula_worked_by_hand():
    # Control rate 10%, mde 10%: p2 = 0.1 * 1.1 = 0.11,
    #   (1.959964 + 0.841621)^2 = 2.801585^2 = 7.848879
    #   p1(1 - p1) + p2(1 - p2) = 0.09 + 0.0979 = 0.1879, (p2 - p1)^2 = 0.0001
    #   7.848879 * 0.1879 / 0.0001 = 14748.04 -> 14749 per variant.
    assert stats.sample_size(control_rate=0.1, mde=0.1) == 14749
    # 5% and a 20% lift: 7.848879 * (0.0475 + 0.0564) / 0.01^2 = 8154.98 -> 8155.
    assert stats.sample_size(control_rate=0.05, mde=0.2) == 8155
    # A drop is detected the same way: 20% -> 18%: 7.848879 * (0.16 + 0.1476) / 0.02^2 = 6035.79 -> 6036.
    assert stats.sample_size(control_rate=0.2, mde=-0.1) == 6036


def test_the_sample_size_uses_the_contracts_six_decimal_quantiles():
    # 0.1% and a 10% lift: 1,646,529.89 with 1.959964 + 0.841621 as the contract pins them,
    # 1,646,530.14 with the exact quantiles (1.95996398... + 0.84162123...): they differ by one.
    z = 1.959964 + 0.841621
    p1, p2 = 0.001, 0.0011
    assert stats.sample_size(control_rate=p1, mde=0.1) == math.ceil(z * z * (p1 * (1 - p1) + p2 * (1 - p2)) / 0.0001**2)
    assert stats.sample_size(control_rate=p1, mde=0.1) == 1_646_530
    # Other error rates take their quantiles the same way: alpha 0.01, power 0.9 -> 2.575829 + 1.281552.
    z = 2.575829 + 1.281552
    assert stats.sample_size(control_rate=0.1, mde=0.1, alpha=0.01, power=0.9) == math.ceil(
        z * z * (0.09 + 0.11 * 0.89) / 0.01**2
    )


@pytest.mark.parametrize(
    ("control_rate", "mde"),
    [(0.0, 0.1), (1.0, 0.1), (0.95, 0.1), (0.5, 1.0), (0.1, 0.0), (0.1, -1.0), (0.1, -1.5)],
)
def test_there_is_no_sample_size_while_the_control_rate_is_0_or_the_target_rate_is_no_rate(control_rate, mde):
    assert stats.sample_size(control_rate=control_rate, mde=mde) is None


@pytest.mark.parametrize(("alpha", "power"), [(0, 0.8), (1, 0.8), (0.05, 0), (0.05, 1.2)])
def test_it_rejects_error_rates_outside_0_to_1(alpha, power):
    with pytest.raises(ValueError, match="alpha and power"):
        stats.sample_size(control_rate=0.1, mde=0.1, alpha=alpha, power=power)


def test_the_progress_is_the_smallest_arms_exposures_over_the_plan():
    assert stats.sample_progress(smallest_exposures=4000, required_per_variant=16000) == 0.25
    assert stats.sample_progress(smallest_exposures=20000, required_per_variant=16000) == 1.25
    assert stats.sample_progress(smallest_exposures=4000, required_per_variant=None) is None


def test_the_days_to_go_are_rounded_up_at_the_smallest_arms_rate_so_far():
    # 14,749 - 4,000 = 10,749 to go at 500 a day: 21.5 days -> about 22 more.
    assert stats.days_remaining(required_per_variant=14749, smallest_exposures=4000, smallest_per_day=500) == 22
    assert stats.days_remaining(required_per_variant=1000, smallest_exposures=500, smallest_per_day=250) == 2


def test_there_are_no_days_to_go_once_the_plan_is_reached_even_without_traffic():
    assert stats.days_remaining(required_per_variant=1000, smallest_exposures=1000, smallest_per_day=50) == 0
    assert stats.days_remaining(required_per_variant=1000, smallest_exposures=1500, smallest_per_day=0) == 0


def test_the_days_to_go_are_unknown_without_a_plan_or_without_traffic():
    assert stats.days_remaining(required_per_variant=None, smallest_exposures=10, smallest_per_day=5) is None
    assert stats.days_remaining(required_per_variant=1000, smallest_exposures=0, smallest_per_day=0) is None


def test_holm_by_hand():
    # m = 4, sorted 0.005 0.01 0.03 0.04 -> 4 * 0.005, 3 * 0.01, 2 * 0.03, max(0.06, 1 * 0.04).
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1, and kept in order: 2 * 0.6 -> 1, then max(1, 0.7) = 1.
    assert stats.holm([0.7, 0.6]) == [1.0, 1.0]
    # Equal p-values get equal adjustments: 3 * 0.02, max(0.06, 2 * 0.02), 0.5.
    assert stats.holm([0.02, 0.5, 0.02]) == pytest.approx([0.06, 0.5, 0.06])
    assert stats.holm([0.2]) == [0.2]
    assert stats.holm([]) == []


def test_holm_leaves_undefined_p_values_out_of_the_count():
    # m = 2, not 4: 2 * 0.01 and 0.04.
    assert stats.holm([None, 0.01, None, 0.04]) == pytest.approx([None, 0.02, None, 0.04])
    assert stats.holm([None, None]) == [None, None]


def test_holm_rejects_what_the_step_down_procedure_rejects():
    # Holm's procedure: reject p(1), p(2), ... while p(j) <= alpha / (m - j + 1), stop at the first that is not.
    # Its adjusted p-values are exactly those that put a goal among the rejected at each alpha.
    rng = np.random.default_rng(20261204)
    for _ in range(500):
        p_values = [float(p) for p in rng.uniform(0, 0.2, size=rng.integers(1, 8))]
        alpha = float(rng.uniform(0.001, 0.2))
        rejected = set()
        for rank, index in enumerate(sorted(range(len(p_values)), key=p_values.__getitem__)):
            if p_values[index] > alpha / (len(p_values) - rank):
                break
            rejected.add(index)
        adjusted = stats.holm(p_values)
        assert {index for index, p in enumerate(adjusted) if p <= alpha} == rejected, (p_values, alpha)
