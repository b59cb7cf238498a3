"""Reference computations for checking experiments.stats: textbook formulas, math and numpy only."""

import math

import numpy as np

Z_95 = 1.959964


def z_test_p_value(c0: int, n0: int, c1: int, n1: int) -> float:
    """Two-sided p-value of the two-proportion z-test with the pooled standard error."""
    pooled = (c0 + c1) / (n0 + n1)
    z = (c1 / n1 - c0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    return math.erfc(abs(z) / math.sqrt(2))  # = 2 * (1 - Phi(|z|))


def wald_interval(c0: int, n0: int, c1: int, n1: int) -> tuple[float, float]:
    """95% Wald interval of p1 - p0 with the unpooled standard error."""
    p0, p1 = c0 / n0, c1 / n1
    se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    return (p1 - p0 - Z_95 * se, p1 - p0 + Z_95 * se)


def monte_carlo_chance(c0: int, n0: int, c1: int, n1: int, draws: int = 1_000_000) -> float:
    """P(variant > control) estimated from a million draws of each Beta posterior."""
    rng = np.random.default_rng(20261128)
    control = rng.beta(1 + c0, 1 + n0 - c0, draws)
    variant = rng.beta(1 + c1, 1 + n1 - c1, draws)
    return float((variant > control).mean())


def chi_square_statistic(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
