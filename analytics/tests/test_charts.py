"""The chart geometry the admin's pages share (analytics/charts.py)."""

import pytest

from analytics.charts import Slots, nice_step, points, value_axis


@pytest.mark.parametrize(
    ("value", "step"),
    [(1, 1), (3, 5), (5, 5), (7, 10), (10, 10), (11, 20), (0.003, 0.005), (0.3, 0.5), (0.02, 0.02), (1234, 2000)],
)
def test_a_step_is_the_next_1_2_or_5_times_a_power_of_ten(value, step):
    assert nice_step(value) == pytest.approx(step)


def test_an_axis_from_zero_has_whole_steps_that_hold_the_peak():
    axis = value_axis(low=0, high=37, steps=4, top=10, bottom=110, min_step=1)
    assert [tick.label for tick in axis.ticks(lambda value: f"{value:g}")] == ["0", "10", "20", "30", "40"]
    assert (axis.y(0), axis.y(40), axis.y(20)) == (110, 10, 60)


def test_an_axis_across_zero_starts_below_the_low_and_has_a_tick_at_exactly_zero():
    axis = value_axis(low=-0.35, high=0.45, steps=4, top=0, bottom=100, min_step=0.001)
    values = [float(tick.label) for tick in axis.ticks(str)]
    assert values[0] <= -0.35 and values[-1] >= 0.45
    assert 0.0 in values and "-0.0" not in [tick.label for tick in axis.ticks(str)]


def test_a_flat_series_still_has_an_axis():
    axis = value_axis(low=0, high=0, steps=4, top=0, bottom=100, min_step=1)
    assert [tick.position for tick in axis.ticks(str)] == [100, 75, 50, 25, 0]


def test_slots_centre_each_point_and_thin_the_labels():
    slots = Slots(left=50, width=100, count=4)
    assert [slots.centre(index) for index in range(4)] == [62.5, 87.5, 112.5, 137.5]
    assert list(Slots(left=0, width=300, count=30).labelled(6)) == [0, 5, 10, 15, 20, 25]
    assert points([(1, 2), (3.5, 4)]) == "1,2 3.5,4"
