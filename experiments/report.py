"""The admin results page in words and shapes: formatted numbers, a verdict, a chart.

Every number comes computed from experiments.selectors; this module only words and draws
them, so that the page and the API can never disagree on a statistic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from experiments.models import Experiment
from experiments.selectors import ExperimentResults, VariantResult

SIGNIFICANCE_LEVEL = 0.05
# Horizontal bar chart geometry, in SVG user units.
CHART_LABEL_WIDTH = 120
CHART_PLOT_WIDTH = 440
CHART_ROW_HEIGHT = 36
CHART_BAR_HEIGHT = 18
CHART_TOP = 10
# The axis ends at the first of these that holds every interval; each has round quarters.
AXIS_MAXIMA = (0.02, 0.04, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Finding:
    level: str  # a Django messages level name, for the admin's message styles
    text: str


@dataclass(frozen=True)
class TableRow:
    key: str
    is_control: bool
    weight: int
    exposures: int
    conversions: int
    rate: str
    rate_interval: str
    uplift: str
    p_value: str
    difference_interval: str
    chance_to_beat_control: str


@dataclass(frozen=True)
class ChartBar:
    key: str
    label: str
    y: int
    text_y: float
    width: float
    # The 95% interval is drawn as a whisker from low_x to high_x; None without exposures.
    low_x: float | None
    high_x: float | None
    whisker_y: float
    cap_top: float
    cap_bottom: float


@dataclass(frozen=True)
class Chart:
    bars: list[ChartBar]
    width: int
    height: int
    bar_height: int
    plot_left: int
    key_x: int
    label_x: int
    axis_bottom: int
    tick_label_y: int
    ticks: list[tuple[float, str]]


@dataclass(frozen=True)
class Report:
    findings: list[Finding]
    rows: list[TableRow]
    chart: Chart


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def signed_percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def percentage_points(value: float) -> str:
    """A difference of two rates, e.g. +1.5 pp (not +1.5%, which reads as relative)."""
    return f"{value * 100:+.1f} pp"


def p_value_text(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _p_phrase(value: float) -> str:
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"


def _interval_text(interval: tuple[float, float] | None, formatter: Callable[[float], str]) -> str:
    return "—" if interval is None else f"{formatter(interval[0])} … {formatter(interval[1])}"


def _row(variant: VariantResult, *, is_control: bool) -> TableRow:
    comparison = variant.comparison
    return TableRow(
        key=variant.key,
        is_control=is_control,
        weight=variant.weight,
        exposures=variant.exposures,
        conversions=variant.conversions,
        rate=percent(variant.rate) if variant.exposures else "—",
        rate_interval=_interval_text(variant.rate_ci95, percent),
        uplift=signed_percent(comparison.uplift) if comparison else "",
        p_value=p_value_text(comparison.p_value) if comparison else "",
        difference_interval=_interval_text(comparison.ci95, percentage_points) if comparison else "",
        chance_to_beat_control=percent(comparison.chance_to_beat_control) if comparison else "",
    )


def _comparison_finding(variant: VariantResult, control: VariantResult) -> Finding:
    comparison = variant.comparison
    if comparison is None or comparison.p_value is None:
        return Finding("info", f"{variant.key} vs {control.key}: not enough data to compare yet.")
    summary = (
        f"{variant.key} converts {percent(variant.rate)} vs {percent(control.rate)} for {control.key}"
        + (f" ({signed_percent(comparison.uplift)} relative)" if comparison.uplift is not None else "")
        + f"; chance to beat {control.key}: {percent(comparison.chance_to_beat_control)}."
    )
    if comparison.p_value < SIGNIFICANCE_LEVEL:
        direction = "better" if variant.rate > control.rate else "worse"
        return Finding(
            "success",
            f"{summary} Statistically significant ({_p_phrase(comparison.p_value)}): "
            f"{variant.key} is very likely {direction} than {control.key}, not just lucky.",
        )
    return Finding(
        "info",
        f"{summary} Not significant yet ({_p_phrase(comparison.p_value)}): "
        "the difference may well be chance; keep it running or accept there is no clear winner.",
    )


def _findings(results: ExperimentResults) -> list[Finding]:
    findings: list[Finding] = []
    if results.srm_flagged:
        findings.append(
            Finding(
                "error",
                "Sample ratio mismatch: the exposures do not follow the weights "
                f"({_p_phrase(results.srm_p_value)}). Something skews who is counted (bots, "
                "caching, a variant that fails to load, weights edited mid-test); do not trust "
                "these results until it is explained.",
            )
        )
    if results.experiment.status == Experiment.Status.STOPPED:
        findings.append(Finding("warning", "Stopped: everyone gets the control and no new exposures are counted."))
    exposed = [variant for variant in results.variants if variant.exposures]
    if not exposed:
        findings.append(Finding("info", "Nobody has been exposed yet: results appear once visitors are assigned."))
        return findings
    leader = max(exposed, key=lambda variant: variant.rate)
    if leader.rate == 0:
        findings.append(Finding("info", "No exposed visitor has converted yet."))
        return findings
    findings.append(
        Finding(
            "info",
            f"Leading: {leader.key}, converting {percent(leader.rate)} of {leader.exposures:,} exposed visitors.",
        )
    )
    control = results.variants[0]
    findings.extend(_comparison_finding(variant, control) for variant in results.variants[1:])
    return findings


def _chart(results: ExperimentResults) -> Chart:
    intervals = [variant.rate_ci95 for variant in results.variants]
    highest = max((interval[1] for interval in intervals if interval), default=0.0)
    axis_max = next(maximum for maximum in AXIS_MAXIMA if highest <= maximum)

    def x(rate: float) -> float:
        return round(CHART_LABEL_WIDTH + rate / axis_max * CHART_PLOT_WIDTH, 1)

    bars = []
    for index, (variant, interval) in enumerate(zip(results.variants, intervals, strict=True)):
        y = CHART_TOP + index * CHART_ROW_HEIGHT
        bars.append(
            ChartBar(
                key=variant.key,
                label=percent(variant.rate) if variant.exposures else "no data",
                y=y,
                text_y=y + CHART_BAR_HEIGHT * 0.75,
                width=round(x(variant.rate) - CHART_LABEL_WIDTH, 1),
                low_x=x(interval[0]) if interval else None,
                high_x=x(interval[1]) if interval else None,
                whisker_y=y + CHART_BAR_HEIGHT / 2,
                cap_top=round(y + CHART_BAR_HEIGHT * 0.15, 1),
                cap_bottom=round(y + CHART_BAR_HEIGHT * 0.85, 1),
            )
        )
    axis_bottom = CHART_TOP + len(bars) * CHART_ROW_HEIGHT
    return Chart(
        bars=bars,
        width=CHART_LABEL_WIDTH + CHART_PLOT_WIDTH + 80,
        height=axis_bottom + 20,
        bar_height=CHART_BAR_HEIGHT,
        plot_left=CHART_LABEL_WIDTH,
        key_x=CHART_LABEL_WIDTH - 8,
        label_x=CHART_LABEL_WIDTH + CHART_PLOT_WIDTH + 10,
        axis_bottom=axis_bottom,
        tick_label_y=axis_bottom + 14,
        ticks=[(x(axis_max * share), percent(axis_max * share)) for share in (0, 0.25, 0.5, 0.75, 1)],
    )


def build_report(results: ExperimentResults) -> Report:
    return Report(
        findings=_findings(results),
        rows=[_row(variant, is_control=index == 0) for index, variant in enumerate(results.variants)],
        chart=_chart(results),
    )
