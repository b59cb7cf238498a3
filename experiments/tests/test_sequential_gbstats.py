"""experiments.stats.sequential_difference against an independent implementation: GrowthBook's gbstats.

gbstats is a test-only dependency (requirements-oracle.txt, installed without its dependencies:
it declares numpy<2 and pandas<2 for parts of it these tests do not import).
"""

import math

import numpy as np
import orjson
import pytest
from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest
from gbstats.models.statistics import ProportionStatistic

from experiments import stats
from experiments.models import Experiment, Variant
from experiments.selectors import results_from_counts
from experiments.serializers import ExperimentResultsSerializer

TOLERANCE = 1e-9


def gbstats_sequential(c0: int, n0: int, c1: int, n1: int, tuning: int) -> tuple[float, float, float] | None:
    """(low, high, p-value) from gbstats' sequential t-test of the absolute difference; None where it refuses."""
    config = SequentialConfig(difference_type="absolute", sequential_tuning_parameter=tuning, alpha=0.05)
    test = SequentialTwoSidedTTest(ProportionStatistic(n=n0, sum=c0), ProportionStatistic(n=n1, sum=c1), config)
    # A p-value beyond doubt overflows its e-value in numpy (1 / inf = 0): the right answer, without the warning.
    with np.errstate(over="ignore"):
        result = test.compute_result()
    if result.error_message is not None:
        return None
    return (float(result.ci[0]), float(result.ci[1]), float(result.p_value))


def ours(c0: int, n0: int, c1: int, n1: int, tuning: int) -> tuple[float, float, float] | None:
    result = stats.sequential_difference(
        conversions=c1, exposures=n1, control_conversions=c0, control_exposures=n0, tuning=tuning
    )
    return None if result is None else (*result.ci95, result.p_value)


EDGE_CASES = [
    (0, 0, 0, 0),  # nothing exposed
    (0, 0, 5, 10),  # an empty control
    (5, 10, 0, 0),  # an empty variant
    (0, 1000, 7, 1000),  # no conversions in the control
    (7, 1000, 0, 1000),  # none in the variant
    (0, 50_000, 0, 50_000),  # none anywhere
    (1000, 1000, 990, 1000),  # everyone converts in the control
    (990, 1000, 1000, 1000),  # everyone in the variant
    (3, 3, 2, 2),  # everyone, tiny arms
    (1, 1, 0, 1),  # one visitor each
    (1, 2, 1, 2),  # the smallest arms with a variance
    (1, 2, 2, 3),
    (1, 50_000, 1, 2),  # a tiny arm next to a large one
    (1, 50_000, 49_999, 50_000),  # a difference far beyond doubt: the e-value overflows
    (25_000, 50_000, 25_000, 50_000),  # no difference at all: p = 1
    (1, 50_000, 2, 50_000),
    (49_998, 50_000, 49_999, 50_000),
]


def random_tables(count: int, seed: int) -> list[tuple[int, int, int, int]]:
    """Count tables of every sort: sizes 0..50,000 (a fifth of them under 30), rates near and far apart."""
    rng = np.random.default_rng(seed)
    tables = []
    for _ in range(count):
        high = 30 if rng.random() < 0.2 else 50_001
        n0, n1 = (int(n) for n in rng.integers(0, high, size=2))
        kind = rng.integers(0, 3)
        if kind == 0:  # any counts at all
            c0, c1 = int(rng.integers(0, n0 + 1)), int(rng.integers(0, n1 + 1))
        else:  # web-like rates, the same in both arms (kind 1) or up to 30% apart (kind 2)
            rate = rng.uniform(0.001, 0.3)
            variant_rate = rate if kind == 1 else min(1.0, rate * rng.uniform(0.7, 1.3))
            c0, c1 = int(rng.binomial(n0, rate)), int(rng.binomial(n1, variant_rate))
        tables.append((c0, n0, c1, n1))
    return tables


def largest_difference(tables: list[tuple[int, int, int, int]], tuning: int) -> tuple[float, int]:
    """The largest |ours - gbstats| over the tables' bounds and p-values, and how many tables had numbers.

    Fails on any table where exactly one of the two gives no number.
    """
    largest, compared = 0.0, 0
    for table in tables:
        expected, got = gbstats_sequential(*table, tuning), ours(*table, tuning)
        assert (got is None) == (expected is None), f"{table}: ours {got}, gbstats {expected}"
        if expected is None:
            continue
        compared += 1
        largest = max(largest, *(abs(a - b) for a, b in zip(got, expected, strict=True)))
    return largest, compared


def test_the_sequential_numbers_equal_gbstats_on_1000_random_tables_and_the_edge_cases():
    tables = EDGE_CASES + random_tables(1200, seed=20261201)
    largest, compared = largest_difference(tables, tuning=5000)
    print(f"\nsequential vs gbstats, N*=5000: max |difference| {largest:.3g} over {compared} of {len(tables)} tables")
    # Enough tables with numbers that the comparison says something (the rest are refused by both).
    assert compared >= 1000
    assert largest <= TOLERANCE


@pytest.mark.parametrize("tuning", [100, 1_000, 20_000, 1_000_000])
def test_the_tuning_parameter_means_what_it_means_in_gbstats(tuning):
    largest, compared = largest_difference(EDGE_CASES + random_tables(200, seed=tuning), tuning=tuning)
    assert compared >= 150
    assert largest <= TOLERANCE


def test_gbstats_refuses_exactly_where_we_give_no_number():
    # The oracle's own refusals, so that None-for-None above is not a comparison of two empty answers.
    assert gbstats_sequential(0, 1000, 7, 1000, 5000) is None
    assert gbstats_sequential(1000, 1000, 990, 1000, 5000) is None
    assert gbstats_sequential(1, 2, 1, 2, 5000) is not None


def answered_sequential(c0: int, n0: int, c1: int, n1: int, tuning: int) -> tuple[float, float, float] | None:
    """(low, high, pValue) of the variant as the results endpoint answers them, from counts.

    The selectors' shaping and the endpoint's serializer, then orjson both ways, as the API
    sends them; fails if any number on the way is NaN or infinite.
    """
    experiment = Experiment(key="checkout", sequential_tuning=tuning)
    control, variant = Variant(id=1, key="control", weight=50), Variant(id=2, key="b", weight=50)
    results = results_from_counts(
        experiment=experiment, variants=[control, variant], counts={1: (n0, c0), 2: (n1, c1)}, goal=None
    )
    rendered = ExperimentResultsSerializer.render(results)
    sequential = rendered["variants"][1]["sequential"]
    if sequential is not None:
        assert all(math.isfinite(number) for number in (*sequential["ci95"], sequential["pValue"]))
    answer = orjson.loads(orjson.dumps(rendered))
    assert "sequential" not in answer["variants"][0]
    sequential = answer["variants"][1]["sequential"]
    return None if sequential is None else (*sequential["ci95"], sequential["pValue"])


@pytest.mark.parametrize("tuning", [5000, 20_000])
def test_the_results_answer_carries_gbstats_numbers_on_1000_random_tables(tuning):
    tables = EDGE_CASES + random_tables(1200, seed=20261202 + tuning)
    largest, compared = 0.0, 0
    for table in tables:
        expected, got = gbstats_sequential(*table, tuning), answered_sequential(*table, tuning)
        assert (got is None) == (expected is None), f"{table}: answered {got}, gbstats {expected}"
        if expected is not None:
            compared += 1
            largest = max(largest, *(abs(a - b) for a, b in zip(got, expected, strict=True)))
    print(f"\nresults answer vs gbstats, N*={tuning}: max |difference| {largest:.3g} over {compared} tables")
    assert compared >= 1000
    assert largest <= TOLERANCE
