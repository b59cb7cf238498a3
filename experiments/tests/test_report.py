"""The admin results page's words and chart geometry, from counts (no database)."""

import datetime

import pytest

from experiments import stats
from experiments.models import Experiment, Variant
from experiments.report import CHART_LABEL_WIDTH, CHART_PLOT_WIDTH, build_report
from experiments.selectors import TimelineDay, goals_from_results, pace, results_from_counts

START = datetime.date(2026, 11, 1)


def arms(*keys):
    return [Variant(id=index + 1, key=key, weight=100 // len(keys)) for index, key in enumerate(keys)]


def results(*counts, keys=("control", "b"), goal=None, status=Experiment.Status.RUNNING, **settings):
    """counts: (exposures, conversions) per variant, the control first."""
    experiment = Experiment(key="checkout", status=status, **settings)
    variants = arms(*keys[: len(counts)])
    return results_from_counts(
        experiment=experiment,
        variants=variants,
        counts={variant.id: count for variant, count in zip(variants, counts, strict=True)},
        goal=goal,
    )


def days(count):
    """count days of a steady experiment: each day 100 exposures and 10 or 13 conversions per arm."""
    return [
        TimelineDay(day=START + datetime.timedelta(days=n - 1), results=results((100 * n, 10 * n), (100 * n, 13 * n)))
        for n in range(1, count + 1)
    ]


def report_of(main, *, by_goal=(), timeline=(), mixed=0):
    return build_report(
        main,
        goals=goals_from_results(list(by_goal)),
        timeline=list(timeline),
        pace=pace(results=main, days_run=len(timeline)),
        visitors_in_several_variants=mixed,
    )


def texts(report):
    return " ".join(finding.text for finding in report.findings)


def test_the_plan_by_hand():
    # Control 100/1000 = 10%, mde 10%: p2 = 11%.
    #   (1.959964 + 0.841621)^2 = 7.848878512..., p1(1-p1) + p2(1-p2) = 0.09 + 0.0979 = 0.1879
    #   7.848878512 * 0.1879 / 0.01^2 = 14748.04 -> 14,749 per variant
    # The smallest arm has 1,000 after 4 days: 1000 / 14749 = 6.78%; 250 a day, 13,749 missing:
    # 13749 / 250 = 54.996 -> 55 more days.
    main = results((1000, 100), (1200, 130))
    assert main.sample_size.required_per_variant == 14749
    assert main.sample_size.progress == pytest.approx(1000 / 14749, abs=1e-12)
    plan = report_of(main, timeline=days(4)).plan
    assert "14,749 exposures per variant detect a 10.0% relative change from control's 10.0%" in plan
    assert "The smallest arm has 1,000 (6.8%)." in plan
    assert "About 55 more days at the current rate (250 exposures a day in the smallest arm over 4 days)." in plan


def test_the_plan_follows_the_experiments_mde():
    # 5%, mde 20%: p2 = 6%, 7.848878512 * (0.0475 + 0.0564) / 0.01^2 = 8154.98 -> 8,155;
    # 2,000 of them in 10 days is 200 a day: 6,155 / 200 = 30.775 -> 31 days.
    main = results((2000, 100), (2100, 120), mde=0.2)
    assert main.sample_size.required_per_variant == 8155
    assert "About 31 more days" in report_of(main, timeline=days(10)).plan


def test_a_reached_plan_and_a_plan_without_a_control_rate():
    reached = report_of(results((20000, 2000), (20000, 2100)), timeline=days(3)).plan
    assert "The smallest arm has 20,000 (135.6%). The planned sample is reached" in reached
    unknown = results((500, 0), (500, 7))
    assert (unknown.sample_size.required_per_variant, unknown.sample_size.progress) == (None, None)
    assert "Sample size: not known yet" in report_of(unknown, timeline=days(3)).plan


def test_the_sequential_verdict_leads_and_says_why_it_may_be_read_any_time():
    report = report_of(results((5000, 500), (5000, 700)), timeline=days(2))
    assert report.findings[0].level == "success"
    assert report.findings[0].text.startswith("b converts better than control: 14.0% vs 10.0%")
    assert "sequential p < 0.0001" in report.findings[0].text
    assert "at any time" in report.why_sequential


def test_a_significant_fixed_horizon_p_value_alone_gets_a_caution_not_a_verdict():
    main = results((1000, 100), (1000, 140))
    assert main.variants[1].comparison.p_value < 0.05 < main.variants[1].comparison.sequential.p_value
    report = report_of(main, timeline=days(2))
    assert report.findings[0].text.startswith("No difference between b and control shown yet")
    assert [finding.level for finding in report.findings] == ["info", "warning"]
    assert "holds only when read once" in report.findings[1].text


def test_a_worse_variant_is_called_worse_and_a_mismatch_and_a_stop_are_said():
    report = report_of(results((8000, 800), (5000, 300), status=Experiment.Status.STOPPED), timeline=days(2))
    assert report.findings[0].text.startswith("b converts worse than control")
    assert "Sample ratio mismatch" in texts(report)
    assert "Stopped" in texts(report)
    assert report.quality.srm_flagged


def test_without_variance_there_is_no_verdict_and_no_number_is_nan():
    main = results((100, 0), (100, 0))
    assert main.variants[1].comparison.sequential is None
    report = report_of(main, timeline=days(1))
    assert "no verdict yet" in texts(report)
    assert (report.rows[1].sequential_interval, report.rows[1].sequential_p_value) == ("—", "—")
    assert "nan" not in repr(report).lower()


def test_nobody_exposed_has_no_timeline():
    report = report_of(results((0, 0), (0, 0)))
    assert "Nobody has been exposed yet" in texts(report)
    assert report.timeline is None
    assert report.quality.per_day == "none yet"


def goal_results(goal, control, variant, **settings):
    return results(control, variant, goal=goal, **settings)


def test_holm_across_goals_by_hand():
    by_goal = [
        goal_results("signup", (4000, 400), (4000, 560), primary_goal="signup"),
        goal_results("newsletter", (4000, 100), (4000, 100), primary_goal="signup"),
        goal_results("purchase", (4000, 200), (4000, 267), primary_goal="signup"),
    ]
    p = [goal.variants[1].comparison.sequential.p_value for goal in by_goal]
    assert p[0] < 1e-5 and 0.025 < p[2] < 0.05 and p[1] == 1.0
    # Sorted: signup, purchase, newsletter; m = 3.
    adjusted_signup = 3 * p[0]
    adjusted_purchase = max(adjusted_signup, 2 * p[2])
    adjusted_newsletter = max(adjusted_purchase, 1 * p[1])
    report = report_of(by_goal[0], by_goal=by_goal, timeline=days(1))
    assert report.holm_applied
    rows = {row.goal: row for row in report.goals}
    assert [row.goal for row in report.goals] == ["signup", "newsletter", "purchase"]
    assert [row.is_primary for row in report.goals] == [True, False, False]
    assert rows["signup"].adjusted_p_value == "< 0.0001" and rows["signup"].survives
    assert rows["purchase"].adjusted_p_value == f"{adjusted_purchase:.4f}"
    assert rows["purchase"].p_value == f"{p[2]:.4f}"
    assert not rows["purchase"].survives  # under 0.05 alone, not once three goals are read
    assert rows["newsletter"].adjusted_p_value == f"{adjusted_newsletter:.4f}"
    assert not rows["newsletter"].survives


def test_one_goal_is_not_adjusted():
    only = [goal_results("signup", (4000, 200), (4000, 267))]
    report = report_of(only[0], by_goal=only, timeline=days(1))
    assert not report.holm_applied
    assert report.goals[0].adjusted_p_value == ""
    assert report.goals[0].survives == (only[0].variants[1].comparison.sequential.p_value < 0.05)


def test_the_quality_line():
    report = report_of(results((1000, 100), (980, 90)), timeline=days(7), mixed=0)
    assert report.quality.visitors_in_several_variants == 0
    assert report.quality.per_day == "283 (1,980 over 7 days)"
    assert report.quality.srm.startswith("the exposures follow the weights (p = ")


def test_the_timeline_has_a_point_per_day_and_a_band_around_the_difference():
    timeline = report_of(results((700, 70), (700, 91)), timeline=days(7)).timeline
    control, b = timeline.lines
    assert len(control.points.split()) == len(b.points.split()) == 7
    # The exposures climb day by day: y falls (SVG y grows downwards).
    heights = [float(point.split(",")[1]) for point in b.points.split()]
    assert heights == sorted(heights, reverse=True)
    (band,) = timeline.bands
    assert band.key == "b"
    assert len(band.area.split()) == 14  # lows forwards, highs backwards
    assert len(band.centre.split()) == 7
    # The 3 pp difference is drawn above zero, inside the band.
    centre_ys = [float(point.split(",")[1]) for point in band.centre.split()]
    assert all(y < timeline.zero_y for y in centre_ys)
    assert timeline.difference.top <= min(centre_ys) and max(centre_ys) <= timeline.difference.bottom
    assert timeline.x_ticks[0].label == "01 Nov"


def test_the_bars_share_one_scale_and_an_arm_without_data_has_no_whisker():
    report = report_of(results((1000, 100), (1000, 200), (0, 0), keys=("control", "b", "c")), timeline=days(1))
    control, b, c = report.chart.bars
    assert b.width == pytest.approx(2 * control.width, abs=0.2)
    assert CHART_LABEL_WIDTH < control.low_x < CHART_LABEL_WIDTH + control.width < control.high_x
    assert b.high_x <= CHART_LABEL_WIDTH + CHART_PLOT_WIDTH
    assert (c.width, c.low_x, c.high_x, c.label) == (0, None, None, "no data")
    assert [label for _, label in report.chart.ticks] == ["0.0%", "10.0%", "20.0%", "30.0%", "40.0%"]


def test_days_remaining_by_hand():
    assert stats.days_remaining(required_per_variant=14749, smallest_exposures=1000, smallest_per_day=250) == 55
    assert stats.days_remaining(required_per_variant=100, smallest_exposures=100, smallest_per_day=0) == 0
    assert stats.days_remaining(required_per_variant=100, smallest_exposures=50, smallest_per_day=0) is None
