"""The statistics of experiment results: pure functions of counts, no database.

Each function answers None where its number is undefined (an arm without exposures, a zero
standard error), so that callers never pass NaN or infinity on to JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

# The 97.5th percentile of the standard normal, as the API contract fixes it.
Z_95 = 1.959964

# The sequential test's error rate (the 95% of its confidence sequence) and the default of its
# tuning parameter N*: the mixture is chosen to give the tightest interval at N* total exposures.
SEQUENTIAL_ALPHA = 0.05
SEQUENTIAL_TUNING = 5000
# The minimum detectable relative effect a sample size is planned for unless told otherwise.
DEFAULT_MDE = 0.1


def conversion_rate(conversions: int, exposures: int) -> float:
    """The observed proportion conversions / exposures; 0 when nothing was exposed yet."""
    return conversions / exposures if exposures else 0.0


def relative_uplift(
    *, conversions: int, exposures: int, control_conversions: int, control_exposures: int
) -> float | None:
    """Relative difference of the rates, (rate - controlRate) / controlRate, as a fraction.

    None when either arm has no exposures or the control rate is 0 (division by zero).
    """
    if not exposures or not control_exposures or not control_conversions:
        return None
    control_rate = control_conversions / control_exposures
    return (conversions / exposures - control_rate) / control_rate


def two_proportion_p_value(
    *, conversions: int, exposures: int, control_conversions: int, control_exposures: int
) -> float | None:
    """Two-sided p-value of the two-proportion z-test, with the pooled standard error.

    z = (p1 - p0) / sqrt(p(1 - p)(1/n1 + 1/n0)) with p the pooled rate; p-value = 2 * P(Z > |z|).
    None when an arm has no exposures or the pooled rate is 0 or 1 (standard error 0).
    """
    if not exposures or not control_exposures:
        return None
    pooled = (conversions + control_conversions) / (exposures + control_exposures)
    se = math.sqrt(pooled * (1 - pooled) * (1 / exposures + 1 / control_exposures))
    if se == 0:
        return None
    z = (conversions / exposures - control_conversions / control_exposures) / se
    return float(2 * stats.norm.sf(abs(z)))


def difference_interval(
    *, conversions: int, exposures: int, control_conversions: int, control_exposures: int
) -> tuple[float, float] | None:
    """95% Wald confidence interval of rate - controlRate, with the unpooled standard error.

    d ± 1.959964 * sqrt(p1(1 - p1)/n1 + p0(1 - p0)/n0). None when an arm has no exposures or
    the standard error is 0 (both rates 0 or 1), where the Wald interval says nothing.
    """
    if not exposures or not control_exposures:
        return None
    rate = conversions / exposures
    control_rate = control_conversions / control_exposures
    se = math.sqrt(rate * (1 - rate) / exposures + control_rate * (1 - control_rate) / control_exposures)
    if se == 0:
        return None
    difference = rate - control_rate
    return (difference - Z_95 * se, difference + Z_95 * se)


def rate_interval(conversions: int, exposures: int) -> tuple[float, float] | None:
    """95% Wilson score interval of one rate, for charts; None without exposures.

    Unlike the Wald interval it stays within [0, 1] and is not empty at 0% or 100%.
    """
    if not exposures:
        return None
    rate = conversions / exposures
    z2 = Z_95 * Z_95
    centre = (rate + z2 / (2 * exposures)) / (1 + z2 / exposures)
    half = Z_95 * math.sqrt(rate * (1 - rate) / exposures + z2 / (4 * exposures**2)) / (1 + z2 / exposures)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _beta_b_beats_a(a_alpha: int, a_beta: int, b_alpha: int, b_beta: int) -> float:
    """P(X_B > X_A) for independent X_A ~ Beta(a_alpha, a_beta), X_B ~ Beta(b_alpha, b_beta).

    The exact closed form for integer b_alpha, a finite sum of b_alpha terms:
        sum for i in 0..b_alpha-1 of
        B(a_alpha + i, a_beta + b_beta) / ((b_beta + i) B(1 + i, b_beta) B(a_alpha, a_beta)),
    summed in log space so that large counts neither overflow nor underflow.
    """
    i = np.arange(b_alpha, dtype=np.float64)
    log_terms = (
        special.betaln(a_alpha + i, a_beta + b_beta)
        - np.log(b_beta + i)
        - special.betaln(1 + i, b_beta)
        - special.betaln(a_alpha, a_beta)
    )
    return float(np.exp(log_terms).sum())


def chance_to_beat_control(
    *, conversions: int, exposures: int, control_conversions: int, control_exposures: int
) -> float | None:
    """Bayesian chance to beat control: P(rate > controlRate) under Beta posteriors.

    Each arm's rate has the posterior Beta(1 + conversions, 1 + exposures - conversions) of a
    uniform prior; the probability is computed exactly (closed-form sum, see _beta_b_beats_a).
    The sum runs over whichever of the four Beta parameters is smallest, using
    P(B > A) = 1 - P(A > B) and the mirror X -> 1 - X, so it stays short when rates are low
    or high. None when an arm has no exposures.
    """
    if not exposures or not control_exposures:
        return None
    a_alpha, a_beta = 1 + control_conversions, 1 + control_exposures - control_conversions
    b_alpha, b_beta = 1 + conversions, 1 + exposures - conversions
    shortest = min(b_alpha, a_alpha, a_beta, b_beta)
    if shortest == b_alpha:
        chance = _beta_b_beats_a(a_alpha, a_beta, b_alpha, b_beta)
    elif shortest == a_alpha:
        chance = 1 - _beta_b_beats_a(b_alpha, b_beta, a_alpha, a_beta)
    elif shortest == a_beta:
        # X_B > X_A  <=>  1 - X_A > 1 - X_B, with 1 - X ~ Beta(beta, alpha).
        chance = _beta_b_beats_a(b_beta, b_alpha, a_beta, a_alpha)
    else:
        chance = 1 - _beta_b_beats_a(a_beta, a_alpha, b_beta, b_alpha)
    return min(1.0, max(0.0, chance))


def sample_ratio_p_value(exposures: Sequence[int], weights: Sequence[int]) -> float | None:
    """Sample-ratio-mismatch check: Pearson's chi-square goodness-of-fit test.

    Compares the exposures of the variants with weight > 0 against the split their weights
    promise (weight-0 variants are left out), with k - 1 degrees of freedom. None when those
    variants have no exposures or fewer than two variants have weight.
    """
    observed = [count for count, weight in zip(exposures, weights, strict=True) if weight > 0]
    shares = [weight for weight in weights if weight > 0]
    total = sum(observed)
    if total == 0 or len(observed) < 2:
        return None
    expected = [total * share / sum(shares) for share in shares]
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    return float(stats.chi2.sf(statistic, len(observed) - 1))


@dataclass(frozen=True)
class Sequential:
    """An always-valid comparison of a variant with the control (see sequential_difference)."""

    ci95: tuple[float, float]
    p_value: float


def _sequential_rho_squared(tuning: int, alpha: float) -> float:
    """rho^2 of the normal mixture, chosen to make the interval tightest at N = N* = tuning.

    Waudby-Smith et al. (2023), eq. 161: rho^2 = (-2 ln(alpha) + ln(1 - 2 ln(alpha))) / N*.
    """
    return (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / tuning


def sequential_difference(
    *,
    conversions: int,
    exposures: int,
    control_conversions: int,
    control_exposures: int,
    tuning: int = SEQUENTIAL_TUNING,
) -> Sequential | None:
    """Always-valid 95% confidence sequence of rate - controlRate and its always-valid p-value.

    The asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas,
    "Time-uniform central limit theory and asymptotic confidence sequences" (2023), as
    GrowthBook's sequential test computes it for an absolute difference. With
        d = rate - controlRate,
        V = rate(1 - rate)/n + controlRate(1 - controlRate)/n0  (unpooled variance of d),
        N = n + n0, and sigma^2 = N V the variance per observation,
    the half-width is eq. 9 with t = N:
        sigma * sqrt(2 (N rho^2 + 1) / (N^2 rho^2) * ln(sqrt(N rho^2 + 1) / alpha)),
    rho from eq. 161 (see _sequential_rho_squared), and the p-value is min(1, 1/E) with the
    e-value of eq. 155 for "no difference",
        E = exp(rho^2 S^2 / (2 (N rho^2 + 1))) / sqrt(N rho^2 + 1),  S^2 = N d^2 / V.
    Unlike the fixed-horizon numbers these stay valid however often they are looked at, and
    whenever the experiment is stopped: the chance that the sequence ever misses the true
    difference is at most 5% (asymptotically).

    None when either arm's rate is 0 or 1 (or it has no exposures): its estimated variance is
    then 0, which would claim a certainty the counts cannot give; GrowthBook refuses the same
    cases. `tuning` is N*, the total exposures at which the interval is made as tight as it can
    be (earlier and later looks pay a little width for it).
    """
    if tuning <= 0:
        raise ValueError(f"the tuning parameter N* must be positive, not {tuning!r}")
    if not (0 < conversions < exposures and 0 < control_conversions < control_exposures):
        return None
    rate = conversions / exposures
    control_rate = control_conversions / control_exposures
    difference = rate - control_rate
    variance = rate * (1 - rate) / exposures + control_rate * (1 - control_rate) / control_exposures
    total = exposures + control_exposures
    sigma_squared = total * variance
    rho_squared = _sequential_rho_squared(tuning, SEQUENTIAL_ALPHA)
    spread = total * rho_squared + 1
    half_width = math.sqrt(
        sigma_squared * 2 * spread / (total * total * rho_squared) * math.log(math.sqrt(spread) / SEQUENTIAL_ALPHA)
    )
    # ln E rather than E: E overflows a float for differences far beyond doubt; there p is 0.
    log_e_value = rho_squared * (total * difference * difference / variance) / (2 * spread) - 0.5 * math.log(spread)
    p_value = math.exp(-log_e_value) if log_e_value > 0 else 1.0
    return Sequential(ci95=(difference - half_width, difference + half_width), p_value=p_value)


def _rounded_normal_quantile(probability: float) -> float:
    """The standard normal quantile to six decimals, as the API contract writes them."""
    return round(float(stats.norm.ppf(probability)), 6)


def sample_size(*, control_rate: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Exposures per variant needed to detect a relative change `mde` of the control's rate.

    The two-sided test of two proportions at level alpha with the given power:
        ceil((z(1 - alpha/2) + z(power))^2 (p1(1 - p1) + p2(1 - p2)) / (p2 - p1)^2),
    p1 = control_rate, p2 = p1 (1 + mde), the quantiles rounded to six decimals, so that the
    defaults give the contract's 1.959964 and 0.841621. None while p1 is 0 (nothing to change
    relatively) or 1, and when p2 is not strictly between 0 and 1 or equals p1 (mde 0).
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie strictly between 0 and 1, not {alpha!r} and {power!r}")
    if not 0 < control_rate < 1:
        return None
    rate = control_rate * (1 + mde)
    if not 0 < rate < 1 or rate == control_rate:
        return None
    z = _rounded_normal_quantile(1 - alpha / 2) + _rounded_normal_quantile(power)
    variance = control_rate * (1 - control_rate) + rate * (1 - rate)
    return math.ceil(z * z * variance / (rate - control_rate) ** 2)


def sample_progress(*, smallest_exposures: int, required_per_variant: int | None) -> float | None:
    """The smallest arm's exposures / requiredPerVariant; past 1 once the plan is reached.

    None when no sample size is known (required_per_variant None).
    """
    if required_per_variant is None:
        return None
    return smallest_exposures / required_per_variant


def days_remaining(*, required_per_variant: int | None, smallest_exposures: int, smallest_per_day: float) -> int | None:
    """Whole days until the smallest arm reaches requiredPerVariant at its rate so far.

    smallest_per_day is the smallest arm's exposures per day so far (its exposures over the
    days the experiment has run). 0 once the plan is reached; None without a sample size, or
    when the smallest arm gains no exposures (it would never get there).
    """
    if required_per_variant is None:
        return None
    missing = required_per_variant - smallest_exposures
    if missing <= 0:
        return 0
    if smallest_per_day <= 0:
        return None
    return math.ceil(missing / smallest_per_day)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of p-values for comparing several goals at once.

    With the m known p-values sorted p(1) <= ... <= p(m), the adjusted p(i) is
    max over j <= i of min(1, (m - j + 1) p(j)), returned in the input's order. A goal whose
    adjusted p-value is under alpha survives with the family-wise error rate kept at alpha.
    None (an undefined p-value) stays None and does not count in m.
    """
    known = sorted((p, index) for index, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(known):
        # The running maximum keeps the order: a smaller p never ends up adjusted above a larger one.
        running = max(running, min(1.0, (len(known) - rank) * p))
        adjusted[index] = running
    return adjusted
