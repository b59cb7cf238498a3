"""experiments.stats.sequential_difference: what peeking does to it, next to the fixed-horizon z-test."""

import math

import numpy as np
import pytest

from experiments import stats
from experiments.tests.reference import z_test_p_value

EXPERIMENTS = 2000
DAYS = 30
VISITORS_PER_ARM_PER_DAY = 200


def declares_a_winner(p_values) -> bool:
    """Stopping at the first look whose p-value is under 0.05 (None: nothing to read yet)."""
    return any(p is not None and p < 0.05 for p in p_values)


def fixed_horizon_p_value(c0: int, n0: int, c1: int, n1: int) -> float | None:
    # The textbook z-test that stats.two_proportion_p_value equals (test_stats.py), at a
    # fraction of its cost; None where that answers None (no variance yet).
    if (c0 + c1) in (0, n0 + n1):
        return None
    return z_test_p_value(c0, n0, c1, n1)


def sequential_p_value(c0: int, n0: int, c1: int, n1: int) -> float | None:
    result = stats.sequential_difference(conversions=c1, exposures=n1, control_conversions=c0, control_exposures=n0)
    return None if result is None else result.p_value


def peeking_false_winners(rate: float, seed: int) -> tuple[float, float]:
    """Share of A/A experiments declared won by (sequential, fixed-horizon) under daily peeking.

    Both arms convert at `rate`; each arm gets Poisson(200) visitors a day for 30 days, and each
    day's look sees the cumulative counts. Both tests read the same experiments.
    """
    rng = np.random.default_rng(seed)
    visitors = rng.poisson(VISITORS_PER_ARM_PER_DAY, size=(EXPERIMENTS, DAYS, 2))
    exposures = visitors.cumsum(axis=1).tolist()
    conversions = rng.binomial(visitors, rate).cumsum(axis=1).tolist()
    sequential = fixed = 0
    for n_days, c_days in zip(exposures, conversions, strict=True):
        looks = [(c0, n0, c1, n1) for (n0, n1), (c0, c1) in zip(n_days, c_days, strict=True)]
        sequential += declares_a_winner(sequential_p_value(*look) for look in looks)
        fixed += declares_a_winner(fixed_horizon_p_value(*look) for look in looks)
    return sequential / EXPERIMENTS, fixed / EXPERIMENTS


@pytest.mark.parametrize(("rate", "seed"), [(0.05, 20261202), (0.2, 20261203)])
def test_peeking_daily_at_the_sequential_p_value_declares_at_most_5_percent_false_winners(rate, seed):
    sequential, fixed = peeking_false_winners(rate, seed)
    rates = (
        f"A/A at {rate:.0%}, {EXPERIMENTS} experiments, daily looks for {DAYS} days: "
        f"sequential {sequential:.2%} false winners, fixed-horizon z-test {fixed:.2%}"
    )
    print(f"\n{rates}")
    assert sequential <= 0.05, rates
    assert fixed > 0.10, rates


def counts(c0: int, n0: int, c1: int, n1: int) -> dict[str, int]:
    return {"control_conversions": c0, "control_exposures": n0, "conversions": c1, "exposures": n1}


def test_the_sequence_is_wider_than_the_fixed_horizon_interval_and_holds_the_difference():
    for table in [(100, 1000, 130, 1000), (48, 500, 41, 520), (2, 10000, 9, 9000), (9000, 40000, 9400, 40000)]:
        sequential = stats.sequential_difference(**counts(*table))
        wald_low, wald_high = stats.difference_interval(**counts(*table))
        low, high = sequential.ci95
        c0, n0, c1, n1 = table
        assert low < wald_low < c1 / n1 - c0 / n0 < wald_high < high
        assert high - (c1 / n1 - c0 / n0) == pytest.approx((c1 / n1 - c0 / n0) - low)
        assert sequential.p_value >= stats.two_proportion_p_value(**counts(*table))


def test_the_sequential_numbers_by_hand():
    # 100/1000 against 130/1000 with N* = 5000:
    #   V = 0.1*0.9/1000 + 0.13*0.87/1000 = 0.0002031, N = 2000, sigma^2 = N V = 0.4062
    #   rho^2 = (-2 ln 0.05 + ln(1 - 2 ln 0.05)) / 5000 = (5.991465 + 1.944690) / 5000 = 0.001587231
    #   N rho^2 + 1 = 4.174462
    #   half = sqrt(0.4062 * 2 * 4.174462 / (2000^2 * 0.001587231) * ln(sqrt(4.174462) / 0.05)) = 0.044518
    #   S^2 = 2000 * 0.03^2 / 0.0002031 = 8862.63
    #   ln E = 0.001587231 * 8862.63 / (2 * 4.174462) - ln(4.174462) / 2 = 0.97040
    #   p = e^-0.97040 = 0.37893
    rho_squared = (-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 5000
    spread = 2000 * rho_squared + 1
    half = math.sqrt(0.4062 * 2 * spread / (2000**2 * rho_squared) * math.log(math.sqrt(spread) / 0.05))
    log_e = rho_squared * (2000 * 0.03**2 / 0.0002031) / (2 * spread) - math.log(spread) / 2
    result = stats.sequential_difference(**counts(100, 1000, 130, 1000))
    assert result.ci95 == pytest.approx((0.03 - half, 0.03 + half), abs=1e-12)
    assert result.ci95 == pytest.approx((0.03 - 0.044518, 0.03 + 0.044518), abs=1e-6)
    assert result.p_value == pytest.approx(math.exp(-log_e), abs=1e-12)
    assert result.p_value == pytest.approx(0.3789, abs=1e-4)


def test_a_larger_tuning_parameter_narrows_the_sequence_late_and_widens_it_early():
    early, late = counts(10, 200, 14, 200), counts(5000, 50000, 5200, 50000)

    def width(table, tuning):
        low, high = stats.sequential_difference(**table, tuning=tuning).ci95
        return high - low

    assert width(late, 100_000) < width(late, 5000)
    assert width(early, 100_000) > width(early, 5000)


@pytest.mark.parametrize(
    "table",
    [
        (0, 0, 0, 0),
        (0, 100, 0, 100),
        (0, 100, 3, 100),
        (3, 100, 0, 100),
        (100, 100, 99, 100),
        (5, 5, 5, 5),
        (1, 1, 0, 1),
    ],
)
def test_there_are_no_sequential_numbers_while_an_arm_has_no_variance(table):
    assert stats.sequential_difference(**counts(*table)) is None


def test_an_overwhelming_difference_has_p_value_0_not_an_overflow():
    result = stats.sequential_difference(**counts(1, 50_000, 49_999, 50_000))
    assert result.p_value == 0.0
    assert all(math.isfinite(bound) for bound in result.ci95)


def test_identical_arms_have_p_value_1():
    assert stats.sequential_difference(**counts(700, 10_000, 700, 10_000)).p_value == 1.0


@pytest.mark.parametrize("tuning", [0, -5000])
def test_it_rejects_a_tuning_parameter_that_is_not_positive(tuning):
    with pytest.raises(ValueError, match="tuning"):
        stats.sequential_difference(**counts(100, 1000, 130, 1000), tuning=tuning)
