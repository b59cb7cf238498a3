"""The admin results page in words and shapes: formatted numbers, a verdict, a chart.

Every number comes computed from experiments.selectors; this module only words and draws
them, so that the page and the API can never disagree on a statistic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analytics.charts import Slots, Tick, points, value_axis
from experiments.models import Experiment
from experiments.selectors import ExperimentResults, Goals, Pace, TimelineDay, VariantResult

SIGNIFICANCE_LEVEL = 0.05
# Horizontal bar chart geometry, in SVG user units.
CHART_LABEL_WIDTH = 120
CHART_PLOT_WIDTH = 440
CHART_ROW_HEIGHT = 36
CHART_BAR_HEIGHT = 18
CHART_TOP = 10
# The axis ends at the first of these that holds every interval; each has round quarters.
AXIS_MAXIMA = (0.02, 0.04, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
# The timeline: two panels one above the other, sharing the days along x.
TIMELINE_WIDTH = 640
TIMELINE_LEFT, TIMELINE_RIGHT = 70, 90
TIMELINE_PANEL_HEIGHT = 150
TIMELINE_GAP = 40
TIMELINE_TOP = 10
TIMELINE_X_LABELS = 6
TIMELINE_Y_STEPS = 4
# Series colours cycle through this many CSS classes (series-0 ...).
SERIES_CLASSES = 6

WHY_SEQUENTIAL = (
    "The verdict comes from the sequential test, which you may read at any time and as often as you "
    "like: its 95% interval is built so that the chance it ever excludes the true difference, over the "
    "whole life of the experiment, stays under 5%."
)


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
    sequential_interval: str
    sequential_p_value: str
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
class GoalRow:
    """One goal's comparison of one variant with the control, by the sequential test."""

    goal: str
    is_primary: bool
    variant: str
    control_rate: str
    rate: str
    interval: str
    p_value: str
    # Holm-adjusted across the goals (for this variant); empty with a single goal.
    adjusted_p_value: str
    survives: bool


@dataclass(frozen=True)
class Line:
    key: str
    css: str
    points: str
    legend_y: float


@dataclass(frozen=True)
class Band:
    """A variant's sequential interval of the difference, day by day, and its centre."""

    key: str
    css: str
    area: str
    centre: str


@dataclass(frozen=True)
class Panel:
    title: str
    top: float
    bottom: float
    y_ticks: list[Tick]


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    legend_x: int
    exposures: Panel
    difference: Panel
    lines: list[Line]
    bands: list[Band]
    zero_y: float
    x_ticks: list[Tick]
    x_label_y: float


@dataclass(frozen=True)
class Quality:
    srm: str
    srm_flagged: bool
    visitors_in_several_variants: int
    per_day: str


@dataclass(frozen=True)
class Report:
    findings: list[Finding]
    why_sequential: str
    rows: list[TableRow]
    chart: Chart
    plan: str
    goals: list[GoalRow]
    holm_applied: bool
    quality: Quality
    timeline: Timeline | None


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


def _sequential(variant: VariantResult):
    return variant.comparison.sequential if variant.comparison else None


def _row(variant: VariantResult, *, is_control: bool) -> TableRow:
    comparison = variant.comparison
    sequential = _sequential(variant)
    return TableRow(
        key=variant.key,
        is_control=is_control,
        weight=variant.weight,
        exposures=variant.exposures,
        conversions=variant.conversions,
        rate=percent(variant.rate) if variant.exposures else "—",
        rate_interval=_interval_text(variant.rate_ci95, percent),
        sequential_interval=_interval_text(sequential.ci95 if sequential else None, percentage_points)
        if comparison
        else "",
        sequential_p_value=p_value_text(sequential.p_value if sequential else None) if comparison else "",
        uplift=signed_percent(comparison.uplift) if comparison else "",
        p_value=p_value_text(comparison.p_value) if comparison else "",
        difference_interval=_interval_text(comparison.ci95, percentage_points) if comparison else "",
        chance_to_beat_control=percent(comparison.chance_to_beat_control) if comparison else "",
    )


def _verdict(variant: VariantResult, control: VariantResult) -> Finding:
    """What the sequential test says of one variant: the page's headline."""
    sequential = _sequential(variant)
    if sequential is None:
        return Finding(
            "info",
            f"{variant.key} vs {control.key}: no verdict yet; the sequential test needs each arm to have "
            "visitors who converted and visitors who did not.",
        )
    low, high = sequential.ci95
    interval = f"{percentage_points(low)} … {percentage_points(high)}"
    if sequential.p_value < SIGNIFICANCE_LEVEL:
        direction = "better" if low > 0 else "worse"
        return Finding(
            "success",
            f"{variant.key} converts {direction} than {control.key}: {percent(variant.rate)} vs "
            f"{percent(control.rate)}, the difference lies within {interval} "
            f"(sequential {_p_phrase(sequential.p_value)}).",
        )
    return Finding(
        "info",
        f"No difference between {variant.key} and {control.key} shown yet: {percent(variant.rate)} vs "
        f"{percent(control.rate)}, the difference lies within {interval} (sequential "
        f"{_p_phrase(sequential.p_value)}); keep it running, or stop if a difference that small does not matter.",
    )


def _fixed_horizon_caution(variant: VariantResult) -> Finding | None:
    """A fixed-horizon p-value under 5% that the sequential test does not back is not a result."""
    comparison = variant.comparison
    sequential = _sequential(variant)
    if comparison is None or comparison.p_value is None or comparison.p_value >= SIGNIFICANCE_LEVEL:
        return None
    if sequential is not None and sequential.p_value < SIGNIFICANCE_LEVEL:
        return None
    return Finding(
        "warning",
        f"{variant.key}: the fixed-horizon p-value is under 0.05 ({_p_phrase(comparison.p_value)}), but it "
        "holds only when read once, at a sample size planned in advance; looked at along the way it "
        "finds winners that are not there. The sequential test does not confirm this difference yet.",
    )


def _findings(results: ExperimentResults) -> list[Finding]:
    findings: list[Finding] = []
    control = results.variants[0]
    if any(variant.exposures for variant in results.variants):
        findings.extend(_verdict(variant, control) for variant in results.variants[1:])
    else:
        findings.append(Finding("info", "Nobody has been exposed yet: results appear once visitors are assigned."))
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
    findings.extend(caution for caution in map(_fixed_horizon_caution, results.variants[1:]) if caution is not None)
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


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _plan(results: ExperimentResults, pace: Pace) -> str:
    size = results.sample_size
    control = results.variants[0]
    if size.required_per_variant is None:
        return (
            f"Sample size: not known yet. It is planned from the control's rate, and {control.key} has "
            f"{'no conversions' if control.exposures else 'no exposures'} so far."
        )
    plan = (
        f"Plan: {size.required_per_variant:,} exposures per variant detect a {percent(size.mde)} relative change "
        f"from {control.key}'s {percent(control.rate)} (two-sided 5% test, 80% power). The smallest arm has "
        f"{size.smallest_exposures:,} ({percent(size.progress)})."
    )
    if size.progress >= 1:
        return plan + " The planned sample is reached: the fixed-horizon numbers may be read now, once."
    if results.experiment.status == Experiment.Status.STOPPED:
        return plan + " Stopped, it gains no exposures."
    remaining = pace.days_remaining
    if remaining is None:
        return plan + " The smallest arm gains no exposures, so it would never get there."
    return (
        plan + f" About {remaining:,} more {'day' if remaining == 1 else 'days'} at the current rate "
        f"({pace.smallest_per_day:,.0f} exposures a day in the smallest arm over {_days(pace.days_run)})."
    )


def _goal_rows(goals: Goals) -> list[GoalRow]:
    """Each goal against the control, goal by goal (the primary first), then variant by variant."""
    rows = []
    for goal_index, results in enumerate(goals.results):
        control = results.variants[0]
        for index, variant in enumerate(results.variants[1:], start=1):
            sequential = _sequential(variant)
            adjusted = goals.holm[goal_index][index] if goals.holm else None
            decisive = adjusted if goals.holm else (sequential.p_value if sequential else None)
            rows.append(
                GoalRow(
                    goal=results.goal,
                    is_primary=results.goal == results.experiment.primary_goal,
                    variant=variant.key,
                    control_rate=percent(control.rate),
                    rate=percent(variant.rate),
                    interval=_interval_text(sequential.ci95 if sequential else None, percentage_points),
                    p_value=p_value_text(sequential.p_value if sequential else None),
                    adjusted_p_value=p_value_text(adjusted) if goals.holm else "",
                    survives=decisive is not None and decisive < SIGNIFICANCE_LEVEL,
                )
            )
    return rows


def _quality(results: ExperimentResults, *, mixed: int, pace: Pace) -> Quality:
    total = sum(variant.exposures for variant in results.variants)
    if results.srm_p_value is None:
        srm = "not checked yet (no exposures)"
    elif results.srm_flagged:
        srm = f"mismatch: the exposures do not follow the weights ({_p_phrase(results.srm_p_value)})"
    else:
        srm = f"the exposures follow the weights ({_p_phrase(results.srm_p_value)})"
    per_day = (
        f"{pace.exposures_per_day:,.0f} ({total:,} over {_days(pace.days_run)})"
        if pace.exposures_per_day is not None
        else "none yet"
    )
    return Quality(srm=srm, srm_flagged=results.srm_flagged, visitors_in_several_variants=mixed, per_day=per_day)


def _timeline(days: list[TimelineDay]) -> Timeline | None:
    if not days:
        return None
    exposures_top = TIMELINE_TOP
    exposures_bottom = exposures_top + TIMELINE_PANEL_HEIGHT
    difference_top = exposures_bottom + TIMELINE_GAP
    difference_bottom = difference_top + TIMELINE_PANEL_HEIGHT
    slots = Slots(left=TIMELINE_LEFT, width=TIMELINE_WIDTH - TIMELINE_LEFT - TIMELINE_RIGHT, count=len(days))
    variant_keys = [variant.key for variant in days[0].results.variants]

    peak = max(variant.exposures for variant in days[-1].results.variants)
    exposures_axis = value_axis(
        low=0, high=peak, steps=TIMELINE_Y_STEPS, top=exposures_top, bottom=exposures_bottom, min_step=1
    )
    lines = [
        Line(
            key=key,
            css=f"series-{index % SERIES_CLASSES}",
            points=points(
                (slots.centre(day_index), exposures_axis.y(day.results.variants[index].exposures))
                for day_index, day in enumerate(days)
            ),
            legend_y=exposures_top + 10 + 14 * index,
        )
        for index, key in enumerate(variant_keys)
    ]

    # The sequential interval of each variant against the control, on the days it has one.
    intervals = {
        index: [
            (day_index, sequential.ci95)
            for day_index, day in enumerate(days)
            if (sequential := _sequential(day.results.variants[index])) is not None
        ]
        for index in range(1, len(variant_keys))
    }
    bounds = [bound for series in intervals.values() for _, ci95 in series for bound in ci95]
    difference_axis = value_axis(
        low=min([0.0, *bounds]),
        high=max([0.0, *bounds]),
        steps=TIMELINE_Y_STEPS,
        top=difference_top,
        bottom=difference_bottom,
        min_step=0.001,
    )
    bands = []
    for index, series in intervals.items():
        if not series:
            continue
        lows = [(slots.centre(day_index), difference_axis.y(low)) for day_index, (low, _) in series]
        highs = [(slots.centre(day_index), difference_axis.y(high)) for day_index, (_, high) in series]
        centres = [(slots.centre(day_index), difference_axis.y((low + high) / 2)) for day_index, (low, high) in series]
        bands.append(
            Band(
                key=variant_keys[index],
                css=f"series-{index % SERIES_CLASSES}",
                area=points([*lows, *reversed(highs)]),
                centre=points(centres),
            )
        )
    return Timeline(
        width=TIMELINE_WIDTH,
        height=difference_bottom + 30,
        plot_left=TIMELINE_LEFT,
        plot_right=TIMELINE_WIDTH - TIMELINE_RIGHT,
        legend_x=TIMELINE_WIDTH - TIMELINE_RIGHT + 10,
        exposures=Panel(
            title="Exposures so far",
            top=exposures_top,
            bottom=exposures_bottom,
            y_ticks=exposures_axis.ticks(lambda value: f"{round(value):,}"),
        ),
        difference=Panel(
            title="Difference from the control, sequential 95% interval",
            top=difference_top,
            bottom=difference_bottom,
            y_ticks=difference_axis.ticks(percentage_points),
        ),
        lines=lines,
        bands=bands,
        zero_y=difference_axis.y(0),
        x_ticks=[
            Tick(position=slots.centre(index), label=days[index].day.strftime("%d %b"))
            for index in slots.labelled(TIMELINE_X_LABELS)
        ],
        x_label_y=difference_bottom + 18,
    )


def build_report(
    results: ExperimentResults,
    *,
    goals: Goals,
    timeline: list[TimelineDay],
    pace: Pace,
    visitors_in_several_variants: int,
) -> Report:
    """The page of `results` (the goal shown), with every goal's row and the day-by-day timeline."""
    return Report(
        findings=_findings(results),
        why_sequential=WHY_SEQUENTIAL,
        rows=[_row(variant, is_control=index == 0) for index, variant in enumerate(results.variants)],
        chart=_chart(results),
        plan=_plan(results, pace),
        goals=_goal_rows(goals),
        holm_applied=bool(goals.holm),
        quality=_quality(results, mixed=visitors_in_several_variants, pace=pace),
        timeline=_timeline(timeline),
    )
