"""The admin results page's plain-language verdict and chart geometry (no database)."""

import pytest

from experiments import stats
from experiments.models import Experiment
from experiments.report import CHART_LABEL_WIDTH, CHART_PLOT_WIDTH, build_report
from experiments.selectors import Comparison, ExperimentResults, VariantResult


def results(*arms, status=Experiment.Status.RUNNING, srm_p_value=0.5, comparison=None):
    """arms: (key, exposures, conversions); the first is the control."""
    variants = [
        VariantResult(
            key=key,
            weight=100 // len(arms),
            exposures=exposures,
            conversions=conversions,
            rate=conversions / exposures if exposures else 0.0,
            rate_ci95=stats.rate_interval(conversions, exposures),
            comparison=None if index == 0 else comparison,
        )
        for index, (key, exposures, conversions) in enumerate(arms)
    ]
    return ExperimentResults(
        experiment=Experiment(key="checkout", status=status),
        goal=None,
        variants=variants,
        srm_p_value=srm_p_value,
    )


def texts(report):
    return " ".join(finding.text for finding in report.findings)


def test_a_significantly_worse_variant_is_called_worse():
    comparison = Comparison(uplift=-0.5, p_value=0.001, ci95=(-0.07, -0.03), chance_to_beat_control=0.0004)
    report = build_report(results(("control", 1000, 100), ("b", 1000, 50), comparison=comparison))
    assert "Leading: control" in texts(report)
    assert "b is very likely worse than control" in texts(report)
    assert "-50.0% relative" in texts(report)


def test_a_stopped_experiment_says_so_and_a_mismatch_comes_first():
    report = build_report(
        results(("control", 10, 1), ("b", 10, 1), status=Experiment.Status.STOPPED, srm_p_value=0.0001)
    )
    assert report.findings[0].level == "error"
    assert report.findings[0].text.startswith("Sample ratio mismatch")
    assert "Stopped" in texts(report)


def test_without_conversions_there_is_no_leader():
    comparison = Comparison(uplift=None, p_value=None, ci95=None, chance_to_beat_control=0.5)
    report = build_report(results(("control", 100, 0), ("b", 100, 0), comparison=comparison))
    assert "No exposed visitor has converted yet." in texts(report)
    assert "Leading" not in texts(report)


def test_the_bars_share_one_scale_and_an_arm_without_data_has_no_whisker():
    report = build_report(results(("control", 1000, 100), ("b", 1000, 200), ("c", 0, 0)))
    control, b, c = report.chart.bars
    assert b.width == pytest.approx(2 * control.width, abs=0.2)
    assert CHART_LABEL_WIDTH < control.low_x < CHART_LABEL_WIDTH + control.width < control.high_x
    assert b.high_x <= CHART_LABEL_WIDTH + CHART_PLOT_WIDTH
    assert (c.width, c.low_x, c.high_x, c.label) == (0, None, None, "no data")
    assert [label for _, label in report.chart.ticks] == ["0.0%", "10.0%", "20.0%", "30.0%", "40.0%"]
