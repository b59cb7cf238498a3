"""The statistics of experiment results: pure functions of counts, no database.

Each function answers None where its number is undefined (an arm without exposures, a zero
standard error), so that callers never pass NaN or infinity on to JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

# The 97.5th percentile of the standard normal, as the API contract fixes it.
Z_95 = 1.959964


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
